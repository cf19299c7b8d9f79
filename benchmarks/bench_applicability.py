"""Cost of ``predict --applicability`` as a multiple of a plain prediction (issue 13 item 2).

Trains (once, cached in benchmarks/work/) a prospectivity model on Cloncurry
(``benchmarks/cloncurry_plain.yaml``, 258 IOCG deposits, training defaults with 5-fold spatial
cross-validation, so the model keeps its area-of-applicability rows), then times fresh
``georaster-dl predict`` processes without and with ``--applicability``, alternating, and
reports the best wall time of each and their ratio, with the share of valid cells inside.

Usage::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_applicability.py [--repeat 2] [--workers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from bench_terrain import WORK, machine  # noqa: E402

CLONCURRY = HERE.parent.parent / "shared" / "data" / "cloncurry"
CLI = str(Path(sys.executable).with_name("georaster-dl"))


def _train(model: Path) -> list[str]:
    cmd = [CLI, "train", "--task", "prospectivity", "--spec", str(HERE / "cloncurry_plain.yaml"), "--labels",
           str(CLONCURRY / "IOCG_Deposits.shp"), "--cv-folds", "5", "--cv-block-size", "10000", "--seed", "0",
           "--no-baselines", "--out", str(model), "--overwrite"]
    if not model.exists():
        subprocess.run(cmd, check=True)
    return cmd


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each command (best taken)")
    parser.add_argument("--workers", type=int, default=None, help="predict --workers")
    args = parser.parse_args()
    if not CLONCURRY.is_dir():
        sys.exit(f"{CLONCURRY} is absent: this benchmark needs the Cloncurry data")
    WORK.mkdir(exist_ok=True)
    model = WORK / "aoa_cloncurry.gdl"
    train_cmd = _train(model)
    plain = [CLI, "predict", str(model), str(WORK / "aoa_plain.tif"), "--overwrite"]
    plain += ["--workers", str(args.workers)] if args.workers else []
    aoa = plain[:3] + [str(WORK / "aoa_with.tif")] + plain[4:] + ["--applicability"]
    times: dict[str, list[float]] = {"plain": [], "applicability": []}
    for _ in range(args.repeat):
        times["plain"].append(_timed(plain))
        times["applicability"].append(_timed(aoa))
    import rasterio

    with rasterio.open(WORK / "aoa_with_applicability.tif") as ds:
        mask = ds.read(2)
        threshold = float(ds.tags()["GDL_AOA_THRESHOLD"])
    valid = np.isfinite(mask)
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                      "train": " ".join(train_cmd), "plain": " ".join(plain), "applicability": " ".join(aoa),
                      "seconds": times, "best": best, "multiple": round(best["applicability"] / best["plain"], 2),
                      "valid_cells": int(valid.sum()), "inside_share": round(float(mask[valid].mean()), 4),
                      "threshold": threshold}, indent=1))


if __name__ == "__main__":
    main()
