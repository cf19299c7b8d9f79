"""Smooth random fields for the synthetic study area (seeded, numpy/scipy only).

Fields are built by drawing a coarse lattice of standard-normal values and
upsampling it with a cubic B-spline (a separable sparse product, so the result is
bit-identical from run to run). Sums of such fields at halving scales give fractal
noise; folding them (``1 - |n|``) gives the sharp crests of ridged noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """A smooth random field with features about ``scale`` cells across, mean 0 and SD 1.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the lattice values.
    shape : tuple of int
        (rows, cols) of the output.
    scale : float
        Lattice spacing in cells (at least 1).

    Returns
    -------
    numpy.ndarray
        float64 array of ``shape``.
    """
    rows, cols = shape
    lattice = rng.standard_normal((math.ceil(rows / scale) + 4, math.ceil(cols / scale) + 4))
    out = _spline_matrix(rows, scale, lattice.shape[0]) @ lattice
    out = (_spline_matrix(cols, scale, lattice.shape[1]) @ out.T).T
    return (out - out.mean()) / out.std()


def fractal_noise(rng: np.random.Generator, shape: tuple[int, int], scales: list[float],
                  ridged: bool = False, persistence: float = 0.5) -> np.ndarray:
    """Sum of :func:`smooth_noise` octaves, amplitude × ``persistence`` per octave, scaled to [0, 1].

    With ``ridged`` every octave is folded to ``(1 - |n| / 2) ** 2``, which puts narrow
    crests where the field crosses zero, and weighted by the previous octave, so
    detail gathers on the crests and valleys stay smooth (ridged multifractal).
    """
    total = np.zeros(shape)
    amplitude, weight = 1.0, np.ones(shape)
    for scale in scales:
        n = smooth_noise(rng, shape, scale)
        if ridged:
            n = weight * np.clip(1 - np.abs(n) / 2, 0, 1) ** 2
            weight = np.clip(2 * n, 0, 1)
        total += amplitude * n
        amplitude *= persistence
    return (total - total.min()) / (total.max() - total.min())


def _spline_matrix(n_out: int, scale: float, n_in: int) -> sparse.csr_matrix:
    """Sparse (n_out, n_in) matrix evaluating a cubic B-spline over ``n_in`` knots at ``n_out`` points."""
    t = np.arange(n_out) / scale + 1.5  # knot coordinate of each output cell, clear of the lattice edge
    base = np.floor(t).astype(np.int64)
    f = t - base
    weights = np.stack([(1 - f) ** 3, 3 * f ** 3 - 6 * f ** 2 + 4, -3 * f ** 3 + 3 * f ** 2 + 3 * f + 1, f ** 3], 1) / 6
    cols = base[:, None] + np.arange(-1, 3)[None, :]
    rows = np.repeat(np.arange(n_out), 4)
    return sparse.csr_matrix((weights.ravel(), (rows, cols.ravel())), shape=(n_out, n_in))
