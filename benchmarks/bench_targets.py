#!/usr/bin/env python3
"""Time and peak memory of ``georaster-dl targets`` (a fresh process, start-up included).

Maps: the Cloncurry weights-of-evidence posterior (../shared/data, 3.1 M cells, when present)
and synthetic smooth Float32 score maps of SIZE x SIZE cells written to ``benchmarks/work/``.
Peak memory is the child's maximum resident set (``getrusage``), one fresh process a map.

Example::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_targets.py --sizes 1760 4096
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy import ndimage

WORK = Path(__file__).resolve().parent / "work"
CLONCURRY = Path(__file__).resolve().parents[2] / "shared" / "data" / "cloncurry" / "WofE_PosteriorProbability.tif"


def synthetic(size: int) -> Path:
    """A smooth score map (Gaussian-filtered noise in 512-row strips) with the GeoTIFF layout predict writes."""
    path = WORK / f"targets_map_{size}.tif"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32", "nodata": np.nan,
               "crs": "EPSG:32633", "transform": Affine(30, 0, 500000, 0, -30, 4000000), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "zstd"}
    with rasterio.open(path, "w", **profile) as ds:
        for r in range(0, size, 512):
            rows = min(512, size - r)
            block = ndimage.gaussian_filter(rng.random((rows, size)), 8).astype(np.float32)
            ds.write(block, 1, window=((r, r + rows), (0, size)))
    return path


def run(path: Path) -> dict:
    out = WORK / f"{path.stem}_targets.gpkg"
    cmd = [sys.executable, "-m", "georaster_dl", "targets", str(path), str(out), "--top-area", "5", "--overwrite"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far, MiB
    with rasterio.open(path) as ds:
        cells = ds.width * ds.height
    return {"map": path.name, "cells": cells, "seconds": round(seconds, 2), "peak_rss_mib": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1760, 4096])
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    maps = ([CLONCURRY] if CLONCURRY.exists() else []) + [synthetic(s) for s in sorted(args.sizes)]
    rows = [run(m) for m in maps]  # smallest first: the children's peak is a running maximum
    for row in rows:
        print(json.dumps(row))
    (WORK / "targets.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
