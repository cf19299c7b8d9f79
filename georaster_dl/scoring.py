"""Score every valid cell of a stack with one or more models, streaming windows.

Used by cross-validation (each cell scored by the model of its fold: the out-of-fold
map), by training (the final model's map, for the success-rate curve) and by
evaluation. Features are read one window at a time; only the float32 score maps
(one value per cell) are kept in memory. Predicting files is the job of
:mod:`georaster_dl.prediction`, which writes GeoTIFFs with bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from georaster_dl.grid import TILE_SIZE
from georaster_dl.progress import progress
from georaster_dl.tasks import get_task


def first_output(mean: np.ndarray) -> np.ndarray:
    """Column 0 of the model outputs (probability of presence, regression value)."""
    return mean[:, 0]


@dataclass
class MapScorer:
    """Models that score a map: one Forward, or one per fold of ``folds``."""

    forwards: list
    folds: object | None = None


def score_maps(stack, scorers: list[MapScorer], window: int = 2 * TILE_SIZE,
               message: str = "scoring every cell") -> list[np.ndarray]:
    """One float32 map (rows, cols) per scorer, NaN where the stack is nodata.

    All scorers share one read of each window.
    """
    grid = stack.grid
    maps = [np.full(grid.shape, np.nan, np.float32) for _ in scorers]
    windows = list(stack.windows(window))
    with progress("score", len(windows), message) as bar:
        for w in windows:
            data, valid = stack.read_window(w)
            rows = np.ascontiguousarray(data[:, valid].T)
            r0, c0 = int(w.row_off), int(w.col_off)
            sl = (slice(r0, r0 + int(w.height)), slice(c0, c0 + int(w.width)))
            for scorer, out in zip(scorers, maps):
                scores = np.empty(rows.shape[0], np.float32)
                if scorer.folds is None:
                    scores[:] = first_output(scorer.forwards[0](rows)[0])
                else:
                    fold = scorer.folds.fold_window(w)[valid]
                    for f, forward in enumerate(scorer.forwards):
                        sel = fold == f
                        if sel.any():
                            scores[sel] = first_output(forward(rows[sel])[0])
                block = out[sl]
                block[valid] = scores
            bar.update()
    return maps


def thumbnail(stack, forward, reduce: Callable[[np.ndarray], np.ndarray] = first_output,
              size: int = 256) -> np.ndarray:
    """A coarse map (at most ``size`` cells a side) of a model's output on a lattice of cells."""
    grid = stack.grid
    step = max(1, int(np.ceil(max(grid.width, grid.height) / size)))
    r = np.arange(step // 2, grid.height, step)
    c = np.arange(step // 2, grid.width, step)
    rr, cc = np.meshgrid(r, c, indexing="ij")
    x = stack.sample_cells(rr.ravel(), cc.ravel())
    ok = np.isfinite(x).all(axis=1)
    out = np.full(rr.size, np.nan, np.float32)
    if ok.any():
        out[ok] = reduce(forward(x[ok])[0])
    return out.reshape(rr.shape)


def report_thumbnail(stack, forward, task: str, score_map: np.ndarray | None = None, size: int = 400) -> np.ndarray:
    """A coarse map for reports: ``score_map`` decimated, or the model's output on a lattice
    (class indices for landform models)."""
    if score_map is not None:
        step = max(1, int(np.ceil(max(score_map.shape) / size)))
        return score_map[::step, ::step]
    return thumbnail(stack, forward, lambda m: get_task(task).point(m).astype(np.float32), size)
