"""Model selection by inner spatial cross-validation over a small fixed candidate set (``--tune``).

Each candidate changes a few network options of the ones given; each is trained (one member)
on the training rows outside each of :data:`INNER_FOLDS` spatial block folds of those rows and
scored on the rows inside (pooled: ROC AUC of presences against background and absences,
R², or accuracy). The best candidate wins; ties go to the first (the options as given). The
cost is bounded: ``len(CANDIDATES) * INNER_FOLDS`` single networks per model selected.
Everything is seeded, so the same seed makes the same choice. The inner folds reuse the
outer model's input and target scaling (fitted on all of its training rows, labels unused).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from georaster_dl.cv import SpatialFolds
from georaster_dl.errors import UserInputError
from georaster_dl.models.fit import fit_network
from georaster_dl.models.network import NetworkOptions
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.samples import Samples

#: Candidates: a name and the network options each changes (the first: the options as given).
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("as given", {}),
    ("longer (50 epochs)", {"epochs": 50}),
    ("smaller (32,16, dropout 0.3)", {"hidden": (32, 16), "dropout": 0.3}),
)
#: Inner spatial folds per candidate.
INNER_FOLDS = 3


def select_options(samples: Samples, task: str, options: NetworkOptions, n_outputs: int, preprocess: Preprocessor,
                   target: dict | None, grid, block_size: float, seed: int) -> tuple[NetworkOptions, dict[str, Any]]:
    """The candidate options that score best under inner spatial cross-validation of ``samples``.

    Parameters
    ----------
    samples : Samples
        The training rows of the model being tuned (with its background, for prospectivity).
    task, options, n_outputs, preprocess, target
        As for :func:`~georaster_dl.models.fit.fit_network`; ``options`` is the first candidate.
    grid : Grid
        Grid of the rows' cells.
    block_size : float
        Side of the inner folds' blocks, grid units.
    seed : int

    Returns
    -------
    options : NetworkOptions
        The chosen candidate (``options`` itself when the rows cannot be split into folds).
    record : dict
        ``chosen`` (name), ``scores`` (name: pooled score) and ``metric``, or ``skipped`` (why).
    """
    anchor = samples.subset(samples.y == 1) if task == "prospectivity" else samples
    try:
        folds = SpatialFolds.make(grid, INNER_FOLDS, block_size, seed, anchor.rows, anchor.cols)
    except UserInputError as exc:
        return options, {"skipped": str(exc)}
    fold_of = folds.fold_of(samples.rows, samples.cols)
    scores: dict[str, float] = {}
    for c, (name, change) in enumerate(CANDIDATES):
        candidate = replace(options, **change)
        pred = np.zeros((len(samples), n_outputs))
        for f in range(INNER_FOLDS):
            held = fold_of == f
            net, _ = fit_network(samples.subset(~held), None, task, candidate, n_outputs, preprocess, target,
                                 int(np.random.SeedSequence([seed, c, f]).generate_state(1)[0] & 0x7FFFFFFF))
            if held.any():
                pred[held] = np.asarray(net(preprocess.apply(samples.x[held]), training=False))
        scores[name] = round(_score(task, samples.y, pred, target), 6)
    best = max(range(len(CANDIDATES)), key=lambda i: (scores[CANDIDATES[i][0]], -i))
    metric = {"prospectivity": "auc", "regression": "r2", "landform": "accuracy"}[task]
    return replace(options, **CANDIDATES[best][1]), {"chosen": CANDIDATES[best][0], "metric": metric,
                                                     "scores": scores}


def _score(task: str, y: np.ndarray, pred: np.ndarray, target: dict | None) -> float:
    from sklearn.metrics import roc_auc_score

    if task == "prospectivity":
        return float(roc_auc_score(y, pred[:, 0])) if np.unique(y).size == 2 else 0.5
    if task == "landform":
        return float(np.mean(pred.argmax(axis=1) == y))
    z = (y - target["mean"]) / target["std"]
    return float(1 - ((z - pred[:, 0]) ** 2).sum() / max(((z - z.mean()) ** 2).sum(), 1e-12))
