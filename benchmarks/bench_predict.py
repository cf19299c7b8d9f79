"""End-to-end prediction throughput and memory, against GDAL-plus-forward-pass references.

Three measurements (issues 5 and 12):

1. ``pipeline``: a synthetic DEM -> 8 inputs (dem, slope, aspect, roughness, TRI, TPI r=3,
   TPI r=10, hillshade) -> a 64-64 dense network -> a one-band ZSTD GeoTIFF, through
   ``georaster-dl predict`` (a fresh process, start-up included). In the same run, two
   references: max(wall time of ``gdal_translate`` of the DEM to the same codec,
   (CPU seconds of ``gdaldem`` computing those terrain features one by one + CPU seconds
   of a forward pass of the same network alone) / cores), the forward pass being
   TensorFlow's, compiled with XLA (issue 5's reference), or ONNX Runtime's (ours).
2. ``memory``: peak RSS of ``predict`` on a small and a large DEM (the engine keeps a
   bounded number of windows in flight, so the two should be close), and the RSS of
   dask.distributed worker processes once they have predicted (model loaded once each).
3. ``cloncurry``: ``predict`` of a prospectivity model trained on ../shared/data/cloncurry,
   whole process timed, peak RSS, seconds to the first progress line; in the same run the
   I/O floor: a fresh Python process reading the three inputs with rasterio and writing
   one float32 ZSTD GeoTIFF of the grid.
4. ``explain``: the cost of ``predict --explain`` (issue 13) as a multiple of a plain
   ``predict`` of the same model (the pipeline's DEM and 64-64 network), wall and CPU time
   and peak RSS, on a ``--size`` DEM and one of twice the side (memory stays bounded).

Usage::

    .venv/bin/python benchmarks/bench_predict.py pipeline [--size 8192] [--device gpu]
    .venv/bin/python benchmarks/bench_predict.py memory [--small 4000 --large 20000]
    .venv/bin/python benchmarks/bench_predict.py cloncurry
    .venv/bin/python benchmarks/bench_predict.py explain [--size 1024]

The networks are freshly initialised (seeded): throughput does not depend on what a
network learned. Work files go to benchmarks/work/ (git-ignored). On a GPU machine (with
``onnxruntime-gpu`` installed in place of ``onnxruntime``), ``pipeline --device gpu`` times
``predict --device gpu`` against the same CPU references.
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


#: The forward pass of issue 5's reference: TensorFlow, the elementwise preprocessing (clip,
#: standardise: all this model uses) and the network in one function compiled with XLA.
TF_FORWARD = """
import tensorflow as tf
from georaster_dl.models.bundle import load_bundle
bundle = load_bundle(sys.argv[1])
s = bundle.preprocess.elementwise()
net = bundle.networks[0]
run = tf.function(lambda x: net((tf.clip_by_value(x, s["low"], s["high"]) - s["mean"]) * s["scale"], training=False),
                  input_signature=[tf.TensorSpec([None, 8], tf.float32)], jit_compile=True)
f = lambda x: run(x).numpy()
"""
#: The forward pass predict runs: ONNX Runtime on the model's graph.
ORT_FORWARD = """
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.forward import Forward
f = Forward(load_bundle(sys.argv[1], networks=False), threads=1)  # as each window worker runs it
"""


def forward_cpu_seconds(model: Path, rows: int, setup: str) -> float:
    """CPU seconds of a forward pass (``setup`` defines ``f``) alone on ``rows`` rows, in
    batches of 262,144, in a fresh process."""
    code = ("import sys, numpy as np\n" + setup +
            "\nn = int(sys.argv[2]); x = np.random.default_rng(0).normal(size=(262144, 8)).astype('float32'); f(x)"
            "\nimport resource; r0 = resource.getrusage(resource.RUSAGE_SELF)"  # traced and warm before timing
            "\n[f(x) for _ in range(n // 262144)]"
            "\nr1 = resource.getrusage(resource.RUSAGE_SELF)"
            "\nprint(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code, str(model), str(rows)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def pipeline(size: int, device: str = "auto") -> dict:
    dem, model = dem_model(size)
    out = WORK / f"pred_{size}.tif"
    ours = run_measured(CLI + ["predict", str(model), str(out), "--overwrite", "--bands", "mean", "--device", device])
    translate = run_measured(["gdal_translate", "-q", "-of", "GTiff", "-co", "TILED=YES", "-co", "BLOCKXSIZE=512",
                              "-co", "BLOCKYSIZE=512", "-co", "COMPRESS=ZSTD", "-co", "ZSTD_LEVEL=1",
                              "-co", "PREDICTOR=3", "-co", "NUM_THREADS=ALL_CPUS", str(dem),
                              str(WORK / "translated.tif")])
    gdaldem_cpu = sum(run_measured(["gdaldem", args[0], "-q", str(dem), str(WORK / "gdaldem.tif")])["cpu_s"]
                      for args in GDALDEM)
    tf_cpu = forward_cpu_seconds(model, size * size, TF_FORWARD)
    ort_cpu = forward_cpu_seconds(model, size * size, ORT_FORWARD)
    cores = os.cpu_count() or 1
    reference = max(translate["wall_s"], (gdaldem_cpu + tf_cpu) / cores)
    reference_ort = max(translate["wall_s"], (gdaldem_cpu + ort_cpu) / cores)
    mpx = size * size / 1e6
    return {"size": size, "device": device, "ours": ours, "mpx_per_s": mpx / ours["wall_s"], "gdal_translate_s": translate["wall_s"],
            "gdaldem_cpu_s": gdaldem_cpu, "tf_forward_cpu_s": tf_cpu, "ort_forward_cpu_s": ort_cpu,
            "reference_s": reference, "ratio_to_reference": ours["wall_s"] / reference,
            "reference_ort_s": reference_ort, "ratio_to_reference_ort": ours["wall_s"] / reference_ort}


def memory(small: int, large: int) -> dict:
    result = {}
    for size in (small, large):
        _, model = dem_model(size)
        result[size] = run_measured(CLI + ["predict", str(model), str(WORK / f"mem_{size}.tif"), "--overwrite"])
    result["large_over_small_rss"] = result[large]["peak_rss_mib"] / result[small]["peak_rss_mib"]
    result["dask_worker_rss_mib"] = dask_worker_rss(dem_model(small)[1])
    return result


def dask_worker_rss(model: Path) -> list[float]:
    """RSS (MiB) of each process of a 2-worker LocalCluster after it predicted ``model``."""
    import psutil
    from distributed import Client, LocalCluster

    from georaster_dl.prediction import predict

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        predict(model, WORK / "mem_cluster.tif", scheduler=client, overwrite=True)
        rss = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
    return sorted(rss.values())


#: The I/O floor of Cloncurry: read the three inputs, write one float32 ZSTD GeoTIFF of the grid.
IO_FLOOR = """
import sys, numpy as np, rasterio
arrays, profile = [], None
for path in sys.argv[2:]:
    with rasterio.open(path) as src:
        arrays.append(src.read(1))
        profile = profile or src.profile  # the grid is the first input's (breccia)
profile.update(driver="GTiff", count=1, dtype="float32", nodata=float("nan"), tiled=True, blockxsize=512,
               blockysize=512, compress="zstd", zstd_level=1, predictor=3)
with rasterio.open(sys.argv[1], "w", **profile) as dst:
    dst.write(arrays[0].astype(np.float32), 1)
"""


def first_line_seconds(cmd: list[str]) -> float:
    """Seconds from starting ``cmd`` (with --json-progress) to its first progress line."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()
    seconds = time.perf_counter() - start
    proc.communicate()
    return seconds


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
    ours = run_measured(CLI + ["predict", str(model), str(WORK / "cloncurry.tif"), "--overwrite"])
    inputs = [data / name for name in ("Dist2Breccia.tif", "FaultDensity.tif", "StratNo.tif")]
    floor = run_measured([sys.executable, "-c", IO_FLOOR, str(WORK / "cloncurry_floor.tif"), *map(str, inputs)])
    first = first_line_seconds(CLI + ["--json-progress", "predict", str(model), str(WORK / "cloncurry.tif"),
                                          "--overwrite"])
    return {"ours": ours, "io_floor": floor, "ratio_to_io_floor": ours["wall_s"] / floor["wall_s"],
            "first_progress_line_s": first}


def explain(size: int) -> dict:
    result = {}
    for side in (size, 2 * size):
        _, model = dem_model(side)
        plain = run_measured(CLI + ["predict", str(model), str(WORK / f"plain_{side}.tif"), "--overwrite"])
        explained = run_measured(CLI + ["predict", str(model), str(WORK / f"explained_{side}.tif"), "--overwrite",
                                        "--explain"])
        result[side] = {"plain": plain, "explain": explained,
                        "wall_multiple": explained["wall_s"] / plain["wall_s"],
                        "cpu_multiple": explained["cpu_s"] / plain["cpu_s"]}
        print(json.dumps({side: result[side]}, default=float), file=sys.stderr, flush=True)
    result["large_over_small_explain_rss"] = (result[2 * size]["explain"]["peak_rss_mib"]
                                              / result[size]["explain"]["peak_rss_mib"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["pipeline", "memory", "cloncurry", "explain"])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--device", default="auto", help="predict --device of the pipeline run")
    parser.add_argument("--small", type=int, default=4000)
    parser.add_argument("--large", type=int, default=20000)
    args = parser.parse_args()
    result = {"pipeline": lambda: pipeline(args.size, args.device), "memory": lambda: memory(args.small, args.large),
              "cloncurry": cloncurry, "explain": lambda: explain(args.size)}[args.what]()
    result = {"date": dt.date.today().isoformat(), "machine": machine(), "benchmark": args.what, **result}
    print(json.dumps(result, indent=2, default=float))
    (WORK / f"predict_{args.what}.json").write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
