"""Spatial block cross-validation folds.

Random k-fold splits of spatial data put near-identical neighbours on both sides of
the split and inflate accuracy. Here the grid is cut into square blocks of
``block_size`` grid units (metres for projected grids), anchored at the grid's top-left
corner, and whole blocks are assigned to folds:

- blocks holding labels are taken in an order shuffled from the seed, each going to the
  fold with the fewest labels so far (balanced folds, reproducible from the seed);
- the other blocks are dealt round-robin in shuffled order, so that every cell of the
  grid belongs to a fold (out-of-fold prediction maps every valid cell).

An optional ``buffer`` (grid units) drops training samples closer than that to the
test fold's blocks, so a model is never trained right next to the cells it is tested on.

Examples
--------
>>> from georaster_dl.grid import Grid
>>> grid = Grid.from_bounds("EPSG:32633", 100, (0, 0, 50_000, 50_000))
>>> rows, cols = np.array([10, 60, 300, 450]), np.array([20, 400, 100, 480])
>>> folds = SpatialFolds.make(grid, k=2, block_size=10_000, seed=0, rows=rows, cols=cols)
>>> sorted(np.bincount(folds.fold_of(rows, cols)).tolist())
[2, 2]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from georaster_dl.errors import UserInputError
from georaster_dl.grid import Grid


@dataclass(frozen=True)
class SpatialFolds:
    """Square spatial blocks of a grid assigned to ``k`` folds.

    Attributes
    ----------
    grid : Grid
    k : int
        Number of folds.
    block_size : float
        Block side in grid units.
    buffer : float
        Training exclusion distance around the test fold, grid units.
    block_folds : numpy.ndarray
        Fold of every block, shape (block rows, block columns).
    """

    grid: Grid
    k: int
    block_size: float
    buffer: float
    block_folds: np.ndarray

    @classmethod
    def make(cls, grid: Grid, k: int, block_size: float, seed: int, rows: np.ndarray, cols: np.ndarray,
             buffer: float = 0.0) -> SpatialFolds:
        """Assign blocks to folds, balancing the labels at cells (``rows``, ``cols``).

        Raises
        ------
        UserInputError
            When k < 2, the block size or buffer is not positive, or the labels fall in
            fewer than ``k`` blocks (some fold would have nothing to test).
        """
        if k < 2:
            raise UserInputError(f"--cv-folds must be at least 2 (or 0 for no cross-validation), got {k}")
        if not block_size or block_size <= 0:
            raise UserInputError(f"--cv-block-size must be a positive distance in grid units, got {block_size}")
        if buffer < 0:
            raise UserInputError(f"--cv-buffer must be 0 or more grid units, got {buffer}")
        shape = (math.ceil(grid.height * grid.res[1] / block_size), math.ceil(grid.width * grid.res[0] / block_size))
        probe = cls(grid, k, float(block_size), float(buffer), np.zeros(shape, np.int16))
        bi, bj = probe._blocks(np.asarray(rows), np.asarray(cols))
        flat = bi * shape[1] + bj
        labelled, counts = np.unique(flat, return_counts=True)
        if labelled.size < k:
            raise UserInputError(f"the labels fall in only {labelled.size} block(s) of {block_size:g} grid units, "
                                 f"fewer than --cv-folds {k}; use a smaller --cv-block-size or fewer folds")
        rng = np.random.default_rng(seed)
        folds = np.zeros(shape[0] * shape[1], np.int16)
        load = np.zeros(k, np.int64)
        for idx in rng.permutation(labelled.size):
            f = int(np.argmin(load))
            folds[labelled[idx]] = f
            load[f] += counts[idx]
        empty = np.setdiff1d(np.arange(folds.size), labelled)
        folds[rng.permutation(empty)] = np.arange(empty.size) % k
        return cls(grid, k, float(block_size), float(buffer), folds.reshape(shape))

    def fold_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Fold (0..k-1) of each cell."""
        bi, bj = self._blocks(np.asarray(rows), np.asarray(cols))
        return self.block_folds[bi, bj].astype(np.int64)

    def fold_window(self, window: Window) -> np.ndarray:
        """Fold of every cell of ``window``, int array (rows, cols)."""
        r = np.arange(int(window.row_off), int(window.row_off + window.height))
        c = np.arange(int(window.col_off), int(window.col_off + window.width))
        bi, _ = self._blocks(r, np.zeros_like(r))
        _, bj = self._blocks(np.zeros_like(c), c)
        return self.block_folds[bi[:, None], bj[None, :]]

    def train_mask(self, fold: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True for cells usable to train the model tested on ``fold``: outside it and its buffer."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        keep = self.fold_of(rows, cols) != fold
        if self.buffer <= 0 or not keep.any():
            return keep
        bs = self.block_size
        x = (cols + 0.5) * self.grid.res[0]
        y = (rows + 0.5) * self.grid.res[1]
        bi, bj = self._blocks(rows, cols)
        reach = math.ceil(self.buffer / bs)
        nbi, nbj = self.block_folds.shape
        for di in range(-reach, reach + 1):
            for dj in range(-reach, reach + 1):
                i, j = bi + di, bj + dj
                inside = (i >= 0) & (i < nbi) & (j >= 0) & (j < nbj)
                hit = np.zeros_like(keep)
                hit[inside] = self.block_folds[i[inside], j[inside]] == fold
                dx = np.maximum(np.maximum(j * bs - x, x - (j + 1) * bs), 0)
                dy = np.maximum(np.maximum(i * bs - y, y - (i + 1) * bs), 0)
                keep &= ~(hit & (np.hypot(dx, dy) < self.buffer))
        return keep

    def to_dict(self) -> dict:
        """JSON-ready description (recorded with the metrics)."""
        return {"k": self.k, "block_size": self.block_size, "buffer": self.buffer,
                "blocks": list(self.block_folds.shape)}

    def _blocks(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bi = ((rows + 0.5) * self.grid.res[1] // self.block_size).astype(np.int64)
        bj = ((cols + 0.5) * self.grid.res[0] // self.block_size).astype(np.int64)
        nbi, nbj = self.block_folds.shape
        return np.clip(bi, 0, nbi - 1), np.clip(bj, 0, nbj - 1)


def spatial_holdout(grid: Grid, rows: np.ndarray, cols: np.ndarray, block_size: float, fraction: float,
                    seed: int) -> np.ndarray:
    """Mask of samples held out in whole spatial blocks, about ``fraction`` of them.

    Used as the validation set for early stopping, so that the stopping point is
    chosen on cells away from the training cells. Falls back to a random split when
    the samples sit in fewer than 4 blocks or the blocks are too uneven to approach
    ``fraction``.
    """
    rows, cols = np.asarray(rows), np.asarray(cols)
    rng = np.random.default_rng(seed)
    bi = ((rows + 0.5) * grid.res[1] // block_size).astype(np.int64)
    bj = ((cols + 0.5) * grid.res[0] // block_size).astype(np.int64)
    key = bi * (int(grid.width * grid.res[0] // block_size) + 2) + bj
    blocks = np.unique(key)
    if blocks.size < 4:
        return rng.random(rows.size) < fraction
    held = np.zeros(rows.size, bool)
    for b in rng.permutation(blocks):
        grown = held | (key == b)
        if grown.mean() <= 1.5 * fraction:  # skip blocks that would hold too much of the data
            held = grown
        if held.mean() >= fraction:
            return held
    return held if held.mean() >= fraction / 2 else rng.random(rows.size) < fraction
