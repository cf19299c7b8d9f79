"""Model selection by inner spatial cross-validation over a small fixed candidate set (``--tune``).

Each candidate changes a few network options of the ones given; each is trained (one member)
on the training rows outside each of :data:`INNER_FOLDS` spatial block folds of those rows and
scored on the rows inside, pooled, by the task's row score (ROC AUC of presences against
background and absences, R², or accuracy). The best candidate wins; ties go to the first (the options as given). The
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
from georaster_dl.tasks import get_task

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
        ``chosen`` (name) and ``scores`` (name: pooled score), or ``skipped`` (why).
    """
    kind = get_task(task)
    anchor = samples.subset(samples.y == 1) if kind.draws_background else samples
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
        if target is not None:  # the network's outputs are the target's z-scores
            pred = pred * target["std"] + target["mean"]
        scores[name] = round(float(kind.row_score(samples.y, pred)), 6)
    best = max(range(len(CANDIDATES)), key=lambda i: (scores[CANDIDATES[i][0]], -i))
    return replace(options, **CANDIDATES[best][1]), {"chosen": CANDIDATES[best][0], "scores": scores}

