"""Presence-only handling of the training rows: presences' neighbouring cells."""

from __future__ import annotations

import numpy as np
import pytest
from model_support import sample_area

from georaster_dl.io.labels import read_labels
from georaster_dl.models.config import TrainConfig
from georaster_dl.samples import label_samples, neighbour_cells
from georaster_dl.stack import Stack
from georaster_dl.training import make_folds, training_data, training_set


@pytest.fixture(scope="module")
def deposits():
    paths = sample_area()
    with Stack(paths["spec"]) as stack:
        labels = read_labels(paths["deposits"], stack.grid)
        yield stack, label_samples(stack, labels, "prospectivity")


def test_neighbours_are_the_valid_unlabelled_cells_round_each_presence(deposits):
    stack, labelset = deposits
    presences = labelset.samples
    cells, parent = neighbour_cells(stack, presences, 1, presences)
    flat = cells.rows * stack.grid.width + cells.cols
    assert np.unique(flat).size == flat.size  # a cell near two presences appears once
    assert not np.isin(flat, presences.rows * stack.grid.width + presences.cols).any()
    assert (np.abs(cells.rows - presences.rows[parent]) <= 1).all()
    assert (np.abs(cells.cols - presences.cols[parent]) <= 1).all()
    assert len(cells) > 6 * len(presences)  # most of the 8 neighbours of scattered deposits
    assert (cells.y == 1).all() and np.isfinite(cells.x).all()
    np.testing.assert_array_equal(cells.x, stack.sample_cells(cells.rows, cells.cols))


def _rows(stack, labelset, **settings):
    """Each fold's (0..2) training rows for member 0, and the run's data."""
    config = TrainConfig.from_options("prospectivity", ensemble=1, seed=3, cv_folds=3, cv_block_size=2500, **settings)
    data = training_data(stack, labelset, config)
    folds = make_folds(data, config.settings)
    return [training_set(data, config.settings, folds, f, 0) for f in range(3)], data, folds


def test_fold_trains_on_a_neighbour_exactly_when_it_trains_on_its_presence(deposits):
    stack, labelset = deposits
    sets, data, folds = _rows(stack, labelset, presence_neighbours=1)
    cells, parent = data.neighbours
    plain, _, _ = _rows(stack, labelset)
    for fold, (rows, own) in enumerate(zip(sets, plain)):
        kept = folds.train_mask(fold, labelset.samples.rows, labelset.samples.cols)
        assert (rows.y == 1).sum() == kept.sum() + kept[parent].sum()
        assert (rows.y == 0).sum() == (own.y == 0).sum()  # as many background cells as without neighbours
        background = rows.subset(rows.y == 0)
        on_neighbour = np.isin(background.rows * 10**6 + background.cols, cells.rows * 10**6 + cells.cols)
        assert not on_neighbour.any()  # a neighbour is never drawn as background


def test_training_rows_with_neighbours_are_deterministic(deposits):
    stack, labelset = deposits
    (a, _, _), (b, _, _) = (_rows(stack, labelset, presence_neighbours=2) for _ in range(2))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.x, y.x)
        np.testing.assert_array_equal(x.rows, y.rows)
        np.testing.assert_array_equal(x.y, y.y)
