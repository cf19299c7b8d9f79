"""Terrain feature throughput on a large synthetic DEM, side by side with gdaldem and GRASS.

Every feature is written end to end (read the DEM, compute, write an uncompressed float32
GeoTIFF, as gdaldem writes its output) with ``georaster_dl.export.write_stack``, the code
behind ``georaster-dl features``. gdaldem runs the same feature on the same file; GRASS
``r.geomorphon`` runs on the DEM linked with ``r.external`` (only the r.geomorphon call
is timed). The 3x3 features gdaldem has are also computed together in one pass and
compared with the sum of gdaldem's one-by-one times. Numba kernels are compiled (or loaded
from cache) before timing.

Usage::

    .venv/bin/python benchmarks/bench_terrain.py [--size 8192] [--no-grass]

The DEM is generated once into benchmarks/work/ (git-ignored). Results print as a
Markdown table and are saved as JSON beside the DEM. The machine is shared: run it when
nothing else is busy and say so when you quote the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

WORK = Path(__file__).resolve().parent / "work"

#: (our feature, gdaldem arguments or None); geomorphons compare with r.geomorphon instead.
FEATURES = [
    ("slope", ["slope"]), ("aspect", ["aspect"]), ("hillshade", ["hillshade"]), ("tri", ["TRI", "-alg", "Riley"]),
    ("tpi", ["TPI"]), ("roughness", ["roughness"]),
    ("northness", None), ("eastness", None), ("profile_curvature", None), ("plan_curvature", None),
    ("curvature", None), ("tri(variant=wilson)", ["TRI", "-alg", "Wilson"]),
    ("tpi(radius=10)", None), ("tpi(radius=10,shape=annulus,inner=5)", None), ("tpi_std(radius=10)", None),
    ("landform_weiss(radius=10)", None), ("geomorphons(search=3)", None), ("geomorphons(search=10)", None),
]
#: The 3x3 features gdaldem computes, timed together in one pass.
GDALDEM_3X3 = ["slope", "aspect", "hillshade", "tri", "tpi", "roughness"]
GEOMORPHON_SEARCHES = (3, 10)


def make_dem(path: Path, size: int, seed: int = 0) -> None:
    """Rolling hills and valleys at several wavelengths with metre-scale noise (float32, 30 m UTM)."""
    rng = np.random.default_rng(seed)
    waves = [(rng.uniform(20, 2000), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi), rng.uniform(5, 120))
             for _ in range(12)]
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
               "crs": "EPSG:32633", "transform": Affine(30, 0, 500000, 0, -30, 4500000), "nodata": -9999.0,
               "tiled": True, "blockxsize": 512, "blockysize": 512, "bigtiff": "IF_SAFER"}
    x = np.arange(size, dtype=np.float64)
    with rasterio.open(path, "w", **profile) as ds:
        for r0 in range(0, size, 512):
            y = np.arange(r0, min(r0 + 512, size), dtype=np.float64)[:, None]
            z = 400 + 0.02 * x + 0.01 * y + rng.normal(0, 0.3, (y.size, size))
            for length, angle, phase, amp in waves:
                z += amp * np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / length + phase)
            ds.write(z.astype(np.float32), 1, window=Window(0, r0, size, y.size))


def ours(dem: Path, features: list[str], out: Path) -> float:
    """Seconds to write ``features`` of ``dem`` to ``out`` (uncompressed, per-band nodata)."""
    from georaster_dl.export import write_stack

    spec = {"grid": {"reference": "dem"}, "inputs": {"dem": {"path": str(dem)}},
            "features": [f"dem.{f}" for f in features]}
    start = time.perf_counter()
    write_stack(spec, out, compress="none", overwrite=True, nodata_union=False, message="benchmark")
    return time.perf_counter() - start


def gdaldem(dem: Path, args: list[str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["gdaldem", args[0], str(dem), str(out), "-q", *args[1:]], check=True)
    return time.perf_counter() - start


def r_geomorphon(dem: Path, searches: tuple[int, ...]) -> dict[int, float]:
    """Seconds of each ``r.geomorphon search=S`` on ``dem`` linked into a temporary location."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        lines = [["r.external", "-o", f"input={dem}", "output=dem"], ["g.region", "raster=dem"]]
        script = "set -e\n" + "\n".join(shlex.join(line) for line in lines) + "\n"
        for s in searches:
            script += f"t0=$(date +%s.%N); r.geomorphon elevation=dem forms=gm{s} search={s}; " \
                      f"echo search={s} $t0 $(date +%s.%N)\n"
        path = Path(tmp) / "job.sh"
        path.write_text(script)
        env = {**os.environ, "HOME": tmp, "TMPDIR": tmp, "GRASS_VERBOSE": "0"}
        run = subprocess.run(["grass", "--tmp-location", str(dem), "--exec", "sh", str(path)], check=True,
                             capture_output=True, text=True, env=env)
    times = {}
    for line in run.stdout.splitlines():
        if line.startswith("search="):
            key, t0, t1 = line.split()
            times[int(key.split("=")[1])] = float(t1) - float(t0)
    return times


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gdal = subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; {gdal}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="DEM width and height in cells")
    parser.add_argument("--no-grass", action="store_true", help="skip r.geomorphon")
    parser.add_argument("--only", metavar="LIST", help="comma-separated features to time (default: all)")
    args = parser.parse_args()
    chosen = [(f, g) for f, g in FEATURES if not args.only or f in args.only.split(",")]
    WORK.mkdir(exist_ok=True)
    dem = WORK / f"terrain_dem_{args.size}.tif"
    if not dem.exists():
        make_dem(dem, args.size)
    mpx = args.size * args.size / 1e6
    out = WORK / "terrain_out.tif"
    warm = WORK / "terrain_dem_warmup.tif"
    if not warm.exists():
        make_dem(warm, 256)
    ours(warm, [f for f, _ in FEATURES], WORK / "terrain_warmup.tif")  # compile or load numba kernels

    rows = []
    for feature, gdal_args in chosen:
        t = ours(dem, [feature], out)
        g = gdaldem(dem, gdal_args, out.with_name("terrain_gdaldem.tif")) if gdal_args else None
        rows.append({"feature": feature, "ours_s": t, "gdaldem_s": g})
        print(f"{feature}: {t:.2f} s" + (f" (gdaldem {g:.2f} s)" if g else ""), file=sys.stderr, flush=True)
    together = ours(dem, GDALDEM_3X3, out)
    searches = tuple(s for s in GEOMORPHON_SEARCHES if any(f == f"geomorphons(search={s})" for f, _ in chosen))
    grass = {} if args.no_grass or not searches else r_geomorphon(dem, searches)
    for row in rows:
        if row["feature"].startswith("geomorphons(search="):
            row["r_geomorphon_s"] = grass.get(int(row["feature"].split("=")[1].rstrip(")")))

    timed = {r["feature"]: r["gdaldem_s"] for r in rows}
    one_by_one = sum(timed.get(f) or gdaldem(dem, g, out.with_name("terrain_gdaldem.tif"))
                     for f, g in FEATURES if f in GDALDEM_3X3)
    print(f"\nTerrain features, {args.size} x {args.size} DEM ({mpx:.1f} Mpx), "
          f"{dt.datetime.now().isoformat(timespec='minutes')}\n{machine()}\n"
          f"command: {' '.join(shlex.quote(a) for a in sys.argv)}\n")
    print("| feature | ours s | ours Mpx/s | reference | ref s | ref Mpx/s | speed-up |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        ref_name, ref = ("gdaldem", r["gdaldem_s"]) if r["gdaldem_s"] else ("r.geomorphon", r.get("r_geomorphon_s"))
        ref_cells = f"{ref_name} | {ref:.2f} | {mpx / ref:.1f} | {ref / r['ours_s']:.2f}x" if ref else "- | - | - | -"
        print(f"| {r['feature']} | {r['ours_s']:.2f} | {mpx / r['ours_s']:.1f} | {ref_cells} |")
    print(f"| {', '.join(GDALDEM_3X3)} together | {together:.2f} | {mpx / together:.1f} | "
          f"gdaldem one by one | {one_by_one:.2f} | {mpx / one_by_one:.1f} | {one_by_one / together:.2f}x |")
    (WORK / f"bench_terrain_{args.size}.json").write_text(json.dumps(
        {"size": args.size, "machine": machine(), "rows": rows, "together_s": together,
         "gdaldem_one_by_one_s": one_by_one, "date": dt.datetime.now().isoformat()}, indent=2))


if __name__ == "__main__":
    main()
