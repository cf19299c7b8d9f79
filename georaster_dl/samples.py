"""Training rows: labels turned into feature rows and targets, plus prospectivity background.

- landform: a class per label (text or integer field), as class indices 0..k-1;
- prospectivity: presence points (target 1), optional known absences (a 0/1 field), and
  background cells drawn at random from the valid cells (target 0);
- regression: a numeric field (NaN targets are refused).

Rows where any band is nodata are dropped and counted. Background cells are drawn once
per ensemble member as a *pool* of random valid cells; each model (fold or final) then
takes from its member's pool the cells allowed for it (outside its test fold, farther
than the buffer from its own training presences), so a draw never looks at held-out
deposits and different members see different background (PU bagging).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from georaster_dl.errors import LabelError
from georaster_dl.tasks import get_task

#: Fewest labels a class (or the presences) may have.
MIN_PER_CLASS = 5
_POOL_OVERSAMPLE = 1.6


@dataclass
class Samples:
    """Feature rows with targets at grid cells.

    Attributes
    ----------
    x : numpy.ndarray
        float32 (n, bands), no NaN.
    y : numpy.ndarray
        int64 class index (landform), 0/1 (prospectivity) or float64 target (regression).
    rows, cols : numpy.ndarray
        Grid cells of the rows.
    """

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> Samples:
        return Samples(self.x[mask], self.y[mask], self.rows[mask], self.cols[mask])

    def concat(self, other: Samples) -> Samples:
        return Samples(np.concatenate([self.x, other.x]), np.concatenate([self.y, other.y]),
                       np.concatenate([self.rows, other.rows]), np.concatenate([self.cols, other.cols]))


@dataclass
class LabelSet:
    """Labelled samples of a task, with the class description of landform models."""

    samples: Samples
    task: str
    classes: list[dict] | None
    n_nodata: int


def label_samples(stack, labels, task: str, field: str | None = None, min_per_class: int = MIN_PER_CLASS) -> LabelSet:
    """Feature rows and targets at the label cells.

    Parameters
    ----------
    stack : Stack
        The opened stack.
    labels : Labels
        Labels on the stack's grid (``rows``, ``cols``, ``values``).
    task : {'landform', 'prospectivity', 'regression'}
    field : str, optional
        Name of the label field, for messages.
    min_per_class : int
        Fewest labels on valid cells a class (or the presences) may have.

    Raises
    ------
    LabelError
        No label left on valid cells, a class with fewer than ``min_per_class`` labels
        (named), a missing, wrong-typed or NaN target.
    """
    where = f"label field {field!r}" if field else "the labels"
    values = None if labels.values is None else np.asarray(labels.values)
    kind = get_task(task)
    y, classes = kind.targets(values, len(labels.rows), where)
    rows, cols = np.asarray(labels.rows, np.int64), np.asarray(labels.cols, np.int64)
    x = stack.sample_cells(rows, cols)
    ok = np.isfinite(x).all(axis=1)
    if not ok.any():
        raise LabelError(f"all {ok.size} labels fall on cells where some feature is nodata; "
                         "check that the labels cover the inputs' valid area")
    samples = Samples(x[ok], y[ok], rows[ok], cols[ok])
    names = kind.class_names(classes)
    if names:
        counts = np.bincount(samples.y, minlength=len(names))
        for i in kind.needed_classes(len(names)):
            if counts[i] < min_per_class:
                raise LabelError(f"class {names[i]!r} has {counts[i]} label(s) on valid cells, fewer than "
                                 f"{min_per_class}; add labels for it or remove it with --where")
    elif len(samples) < 2 * min_per_class:
        raise LabelError(f"only {len(samples)} labels on valid cells; at least {2 * min_per_class} are needed")
    return LabelSet(samples, task, classes, int((~ok).sum()))


def read_labels_on(labels, stack, field: str | None, where: str | None, layer: str | None):
    """Labels on the stack's grid: read from a file, or passed already read (a Labels object)."""
    if hasattr(labels, "rows"):
        return labels
    from georaster_dl.io.labels import read_labels

    return read_labels(labels, stack.grid, field=field, where=where, layer=layer)


def label_summary(labelset: LabelSet, labels) -> str:
    """One line: labels used, outside the grid, on nodata cells."""
    text = f"{len(labelset.samples)} labels on valid cells"
    outside = int(getattr(labels, "n_outside", 0))
    if outside:
        text += f"; {outside} outside the grid ignored"
    if labelset.n_nodata:
        text += f"; {labelset.n_nodata} on nodata cells ignored"
    return text


def background_pool(stack, n: int, seed: int) -> Samples:
    """About ``n`` random valid cells (distinct, with their features), target 0.

    Cells are drawn uniformly over the grid; those where a feature is nodata are
    rejected and drawn again.

    Raises
    ------
    LabelError
        When hardly any valid cell can be found.
    """
    rng = np.random.default_rng(seed)
    grid = stack.grid
    want = int(np.ceil(n * _POOL_OVERSAMPLE))
    taken = np.empty(0, np.int64)
    parts = []
    for _ in range(8):
        need = want - taken.size
        if need <= 0:
            break
        flat = np.setdiff1d(rng.integers(0, grid.width * grid.height, 2 * need + 64), taken)
        flat = rng.permutation(flat)[:2 * need + 64]
        rows, cols = flat // grid.width, flat % grid.width
        x = stack.sample_cells(rows, cols)
        ok = np.isfinite(x).all(axis=1)
        parts.append(Samples(x[ok], np.zeros(int(ok.sum()), np.int64), rows[ok], cols[ok]))
        taken = np.concatenate([taken, flat[ok]])
    pool = parts[0]
    for p in parts[1:]:
        pool = pool.concat(p)
    if len(pool) < min(n, 10):
        raise LabelError(f"found only {len(pool)} valid background cells in {grid.width} x {grid.height}; "
                         "the stack is almost all nodata")
    return pool.subset(np.arange(min(len(pool), want)))


def take_background(pool: Samples, n: int, allowed: np.ndarray, presences: Samples, buffer: float,
                    res: tuple[float, float]) -> Samples:
    """The first ``n`` pool cells that are ``allowed`` and farther than ``buffer`` from every presence.

    ``buffer`` is in grid units (``res`` is the grid's cell size x, y); presence cells
    themselves are always excluded.
    """
    from scipy.spatial import cKDTree

    keep = np.asarray(allowed, bool).copy()
    if len(presences):
        tree = cKDTree(np.c_[presences.rows * res[1], presences.cols * res[0]])
        dist, _ = tree.query(np.c_[pool.rows * res[1], pool.cols * res[0]], k=1)
        keep &= (dist > buffer) & (dist > 0)
    return pool.subset(np.flatnonzero(keep)[:n])


def neighbour_cells(stack, presences: Samples, radius: int, labelled: Samples) -> tuple[Samples, np.ndarray]:
    """Valid cells within ``radius`` cells (a square) of each presence, as presences (target 1).

    Cells of ``labelled`` and cells outside the grid are left out; a cell near several
    presences appears once, for the first. Returns the cells and, for each, the index of
    its presence in ``presences`` (so a fold keeps a neighbour exactly when it keeps its presence).
    """
    grid = stack.grid
    dr, dc = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1), indexing="ij")
    ring = (dr != 0) | (dc != 0)
    rows = (presences.rows[:, None] + dr[ring][None, :]).ravel()
    cols = (presences.cols[:, None] + dc[ring][None, :]).ravel()
    parent = np.repeat(np.arange(len(presences)), int(ring.sum()))
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    rows, cols, parent = rows[inside], cols[inside], parent[inside]
    flat = rows * grid.width + cols
    _, first = np.unique(flat, return_index=True)
    first = np.sort(first)
    first = first[~np.isin(flat[first], labelled.rows * grid.width + labelled.cols)]
    rows, cols, parent = rows[first], cols[first], parent[first]
    x = stack.sample_cells(rows, cols) if rows.size else np.empty((0, presences.x.shape[1]), np.float32)
    ok = np.isfinite(x).all(axis=1)
    return Samples(x[ok], np.ones(int(ok.sum()), np.int64), rows[ok], cols[ok]), parent[ok]
