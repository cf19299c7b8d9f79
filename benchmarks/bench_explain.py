"""Completeness of ``predict --explain`` against the number of Integrated Gradients steps (issue 13).

Trains the sample prospectivity model as the tests do (sample area 256 x 256, seed 0, a
2-member ensemble, the tests' fast options), then over every valid cell: the largest
``|baseline + sum of attributions - prediction|``, its 99th percentile, the share of cells
within 0.02, and the CPU seconds of the attributions, for 8, 16, 32 and 64 steps.

Usage::

    .venv/bin/python benchmarks/bench_explain.py
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from bench_terrain import WORK, machine  # noqa: E402


def main() -> None:
    from rasterio.windows import Window

    from georaster_dl.explain import Explainer, single_thread_blas
    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.models.forward import Forward
    from georaster_dl.stack import Stack
    from georaster_dl.training import train
    from model_support import FAST, sample_area

    paths = sample_area()
    WORK.mkdir(exist_ok=True)
    model = WORK / "explain_sample.gdl"  # the explainer reads the members' weights from the file
    train(paths["spec"], paths["deposits"], "prospectivity", seed=0, out=model, overwrite=True, ensemble=2, **FAST)
    bundle = load_bundle(model, networks=False)
    with Stack(bundle.spec, prepare=False) as stack:
        data, valid = stack.read_window(Window(0, 0, stack.grid.width, stack.grid.height), compact=True)
    rows = np.ascontiguousarray(data[:, valid].T)
    prediction = Forward(bundle, threads=1)(rows, compact=True)[0][:, 0]
    result = {"date": dt.date.today().isoformat(), "machine": machine(), "valid_cells": int(len(rows)), "steps": {}}
    for steps in (8, 16, 32, 64):
        explainer = Explainer(bundle, steps=steps)
        start = time.process_time()
        with single_thread_blas():
            attributions = explainer(rows)
        cpu = time.process_time() - start
        error = np.abs(explainer.baseline[0] + attributions.sum(axis=1) - prediction)
        result["steps"][steps] = {"max_error": float(error.max()), "p99_error": float(np.percentile(error, 99)),
                                  "share_within_0.02": float(np.mean(error <= 0.02)), "cpu_s": cpu}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
