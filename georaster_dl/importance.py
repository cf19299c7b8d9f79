"""Permutation importance of each input feature on held-out rows.

A feature's importance is how much the held-out score drops when its values are
shuffled across the rows (breaking its link with the target while keeping its
distribution). The bands of one feature (all one-hot bands of a categorical input)
are shuffled together, so a categorical input gets one figure.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def feature_groups(stack) -> dict[str, list[int]]:
    """Band indices of each feature of a stack, keyed by the feature's name."""
    groups, start = {}, 0
    for f in stack.features:
        n = len(f.band_names)
        groups[str(f.ref)] = list(range(start, start + n))
        start += n
    return groups


def permutation_importance(forward, x: np.ndarray, score: Callable[[np.ndarray], float],
                           groups: dict[str, list[int]], seed: int, repeats: int = 3) -> dict[str, float]:
    """Mean drop of ``score`` (higher is better) when each group of bands is shuffled.

    Parameters
    ----------
    forward : Forward
        The model's forward pass.
    x : numpy.ndarray
        Held-out feature rows (n, bands).
    score : callable
        Maps the model's outputs (n, outputs) for ``x`` to a score (AUC, accuracy, R²).
    groups : dict
        Band indices per feature (see :func:`feature_groups`).
    seed : int
    repeats : int
        Shuffles per feature; their mean is reported.
    """
    rng = np.random.default_rng(seed)
    base = score(forward(x)[0])
    out = {}
    for name, bands in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, bands] = x[rng.permutation(x.shape[0])][:, bands]
            drops.append(base - score(forward(shuffled)[0]))
        out[name] = float(np.mean(drops))
    return out
