"""End-to-end prediction throughput and memory, against a GDAL-plus-TensorFlow reference.

Three measurements (issue 5):

1. ``pipeline``: a synthetic DEM -> 8 inputs (dem, slope, aspect, roughness, TRI, TPI r=3,
   TPI r=10, hillshade) -> a 64-64 dense network -> a one-band ZSTD GeoTIFF, through
   ``georaster-dl predict`` (a fresh process, start-up included). In the same run, the
   reference: max(wall time of ``gdal_translate`` of the DEM to the same codec,
   (CPU seconds of ``gdaldem`` computing those terrain features one by one + CPU seconds
   of a compiled TensorFlow forward pass of the same network alone) / cores).
2. ``memory``: peak RSS of ``predict`` on a small and a large DEM (the engine keeps a
   bounded number of windows in flight, so the two should be close).
3. ``cloncurry``: ``predict`` of a prospectivity model trained on ../shared/data/cloncurry,
   whole process timed, peak RSS.

Usage::

    .venv/bin/python benchmarks/bench_predict.py pipeline [--size 8192]
    .venv/bin/python benchmarks/bench_predict.py memory [--small 4000 --large 20000]
    .venv/bin/python benchmarks/bench_predict.py cloncurry

The networks are freshly initialised (seeded): throughput does not depend on what a
network learned. Work files go to benchmarks/work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from bench_terrain import WORK, machine, make_dem  # noqa: E402

FEATURES = ["dem", "dem.slope", "dem.aspect", "dem.roughness", "dem.tri", "dem.tpi(radius=3)",
            "dem.tpi(radius=10)", "dem.hillshade"]
GDALDEM = [["slope"], ["aspect"], ["roughness"], ["TRI"], ["TPI"], ["TPI"], ["hillshade"]]
CLI = [sys.executable, "-m", "georaster_dl"]


def run_measured(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; wall seconds, CPU seconds (user + system) and peak RSS (MiB) of the process tree."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    err = proc.stderr.read()
    if proc.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak / 2**20}


def dem_model(size: int) -> tuple[Path, Path]:
    """The synthetic DEM of ``size`` cells and an untrained 64-64 bundle on the 8 inputs."""
    from predict_support import make_bundle

    WORK.mkdir(exist_ok=True)
    dem = WORK / f"dem_{size}.tif"
    if not dem.exists():
        make_dem(dem, size)
    model = WORK / f"model_{size}.gdl"
    if not model.exists():
        spec = {"inputs": {"dem": {"path": str(dem)}}, "features": FEATURES}
        make_bundle(spec, model, task="prospectivity", hidden=(64, 64), sample_window=1024)
    return dem, model


def forward_cpu_seconds(model: Path, rows: int) -> float:
    """CPU seconds of the compiled forward pass alone on ``rows`` rows (in a fresh process)."""
    code = ("import sys, numpy as np; from georaster_dl.models.bundle import load_bundle;"
            "from georaster_dl.models.forward import Forward;"
            "f = Forward(load_bundle(sys.argv[1])); n = int(sys.argv[2]); x = np.random.default_rng(0)"
            ".normal(size=(262144, 8)).astype('float32'); f(x);"  # trace and warm up outside the timing
            "import resource, time; r0 = resource.getrusage(resource.RUSAGE_SELF);"
            "[f(x) for _ in range(n // 262144)];"
            "r1 = resource.getrusage(resource.RUSAGE_SELF);"
            "print(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code, str(model), str(rows)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def pipeline(size: int) -> dict:
    dem, model = dem_model(size)
    out = WORK / f"pred_{size}.tif"
    ours = run_measured(CLI + ["predict", str(model), str(out), "--overwrite", "--bands", "mean"])
    translate = run_measured(["gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", "-co", "BLOCKXSIZE=512",
                              "-co", "BLOCKYSIZE=512", "-co", "COMPRESS=ZSTD", "-co", "ZSTD_LEVEL=1",
                              "-co", "PREDICTOR=3", "-co", "NUM_THREADS=ALL_CPUS", str(dem),
                              str(WORK / "translated.tif")])
    gdaldem_cpu = sum(run_measured(["gdaldem", args[0], "-q", str(dem), str(WORK / "gdaldem.tif")])["cpu_s"]
                      for args in GDALDEM)
    tf_cpu = forward_cpu_seconds(model, size * size)
    cores = os.cpu_count() or 1
    reference = max(translate["wall_s"], (gdaldem_cpu + tf_cpu) / cores)
    mpx = size * size / 1e6
    return {"size": size, "ours": ours, "mpx_per_s": mpx / ours["wall_s"], "gdal_translate_s": translate["wall_s"],
            "gdaldem_cpu_s": gdaldem_cpu, "tf_forward_cpu_s": tf_cpu, "reference_s": reference,
            "ratio_to_reference": ours["wall_s"] / reference}


def memory(small: int, large: int) -> dict:
    result = {}
    for size in (small, large):
        _, model = dem_model(size)
        result[size] = run_measured(CLI + ["predict", str(model), str(WORK / f"mem_{size}.tif"), "--overwrite"])
    result["large_over_small_rss"] = result[large]["peak_rss_mib"] / result[small]["peak_rss_mib"]
    return result


def cloncurry() -> dict:
    spec = HERE / "cloncurry_prospectivity.yaml"  # paths relative to it: ../../shared/data/cloncurry
    data = HERE.parent.parent / "shared" / "data" / "cloncurry"
    if not data.is_dir():
        raise SystemExit(f"{data} is absent")
    WORK.mkdir(exist_ok=True)
    model = WORK / "cloncurry.gdl"
    if not model.exists():
        subprocess.run(CLI + ["train", "--task", "prospectivity", "--spec", str(spec), "--labels",
                              str(data / "IOCG_Deposits.shp"), "--seed", "0", "--out", str(model)], check=True)
    return run_measured(CLI + ["predict", str(model), str(WORK / "cloncurry.tif"), "--overwrite"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["pipeline", "memory", "cloncurry"])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--small", type=int, default=4000)
    parser.add_argument("--large", type=int, default=20000)
    args = parser.parse_args()
    result = {"pipeline": lambda: pipeline(args.size), "memory": lambda: memory(args.small, args.large),
              "cloncurry": cloncurry}[args.what]()
    result = {"date": dt.date.today().isoformat(), "machine": machine(), "benchmark": args.what, **result}
    print(json.dumps(result, indent=2, default=float))
    (WORK / f"predict_{args.what}.json").write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
