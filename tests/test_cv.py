"""Spatial block folds: reproducible, balanced, covering every cell, with a buffer that keeps training away."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window

from georaster_dl.cv import SpatialFolds, spatial_holdout
from georaster_dl.errors import UserInputError
from georaster_dl.grid import Grid

GRID = Grid.from_bounds("EPSG:32633", 100, (0, 0, 60_000, 40_000))  # 600 x 400 cells


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.integers(0, GRID.height, 300), rng.integers(0, GRID.width, 300)


def test_same_seed_same_folds_and_other_seed_other_folds(labels):
    a = SpatialFolds.make(GRID, 5, 10_000, 7, *labels)
    b = SpatialFolds.make(GRID, 5, 10_000, 7, *labels)
    c = SpatialFolds.make(GRID, 5, 10_000, 8, *labels)
    np.testing.assert_array_equal(a.block_folds, b.block_folds)
    assert not np.array_equal(a.block_folds, c.block_folds)


def test_folds_are_whole_square_blocks(labels):
    folds = SpatialFolds.make(GRID, 4, 5_000, 0, *labels)
    fold_map = folds.fold_window(Window(0, 0, GRID.width, GRID.height))
    assert fold_map.shape == GRID.shape
    assert folds.block_folds.shape == (8, 12)  # 40 km x 60 km in 5 km blocks
    for bi in range(8):
        for bj in range(12):
            block = fold_map[bi * 50:(bi + 1) * 50, bj * 50:(bj + 1) * 50]
            assert (block == block[0, 0]).all()
    assert set(np.unique(fold_map)) == {0, 1, 2, 3}


def test_labels_are_balanced_across_folds(labels):
    counts = np.bincount(SpatialFolds.make(GRID, 5, 10_000, 0, *labels).fold_of(*labels), minlength=5)
    assert counts.min() >= 0.7 * counts.max()


def test_window_folds_equal_cell_folds(labels):
    folds = SpatialFolds.make(GRID, 3, 7_000, 1, *labels)
    w = Window(130, 75, 260, 190)
    rows, cols = np.mgrid[75:265, 130:390]
    np.testing.assert_array_equal(folds.fold_window(w), folds.fold_of(rows, cols))


def test_buffer_drops_training_cells_near_the_test_fold(labels):
    folds = SpatialFolds.make(GRID, 3, 10_000, 2, *labels, buffer=2_500)
    rows, cols = np.mgrid[0:GRID.height:3, 0:GRID.width:3]
    rows, cols = rows.ravel(), cols.ravel()
    fold_map = folds.fold_window(Window(0, 0, GRID.width, GRID.height))
    test_r, test_c = np.nonzero(fold_map == 0)
    keep = folds.train_mask(0, rows, cols)
    from scipy.spatial import cKDTree

    # distance (m) from each cell centre to the nearest cell centre of fold 0, within half a cell
    dist, _ = cKDTree(np.c_[test_r, test_c] * 100.0).query(np.c_[rows, cols] * 100.0)
    assert not keep[dist < 2_500 - 100].any()
    assert keep[dist > 2_500 + 100].all()
    no_buffer = SpatialFolds.make(GRID, 3, 10_000, 2, *labels).train_mask(0, rows, cols)
    np.testing.assert_array_equal(no_buffer, dist > 0)


def test_too_few_labelled_blocks_are_refused():
    with pytest.raises(UserInputError, match="fall in only 1 block"):
        SpatialFolds.make(GRID, 5, 10_000, 0, np.array([5, 6, 7]), np.array([5, 6, 7]))
    with pytest.raises(UserInputError, match="--cv-folds must be at least 2"):
        SpatialFolds.make(GRID, 1, 10_000, 0, np.array([5]), np.array([5]))
    with pytest.raises(UserInputError, match="--cv-block-size must be a positive"):
        SpatialFolds.make(GRID, 3, 0, 0, np.array([5]), np.array([5]))


def test_spatial_holdout_takes_whole_blocks_near_the_fraction(labels):
    held = spatial_holdout(GRID, *labels, block_size=5_000, fraction=0.2, seed=0)
    assert 0.1 <= held.mean() <= 0.3
    block = (labels[0] // 50) * 100 + labels[1] // 50
    for b in np.unique(block[held]):
        assert held[block == b].all()  # a block is held out whole or not at all
