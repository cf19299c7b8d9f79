"""Machinery shared by the terrain kernels: z-factor, the raster's box inside a padded
window, gdaldem's 3x3 window with its edge rules, and the checks every terrain feature runs.

Nodata rule (every terrain feature): a cell is nodata where any cell its stencil reads is
nodata. Outer frame, chosen by the spec's ``edges``:

- ``nodata``: cells whose stencil leaves the raster are nodata (gdaldem's default).
- ``extrapolate``: 3x3 features follow ``gdaldem -compute_edges``: a missing row or
  column outside the raster is extrapolated linearly (``2 * edge - inner``; in the first
  and last rows the x-neighbours are clamped instead), then any neighbour still missing
  (nodata) takes the centre's value. Larger stencils say what they do in their own module.

Numba caches compiled kernels per module and does not notice when a helper it inlined
from another module changes: after editing this module, delete the ``*.nbi``/``*.nbc``
files under ``georaster_dl/features/__pycache__``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numba import njit, prange

from georaster_dl.errors import FeatureError
from georaster_dl.features.registry import KernelContext, ResolvedFeature

#: Inputs terrain features accept.
TERRAIN_INPUTS = ("continuous",)


def one_cell(params: dict) -> int:
    """1 cell (3x3 window)"""
    return 1


def elevations(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    """The padded window as contiguous float64 elevations in metres (z-factor applied)."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    z = float(ctx.input.z_factor)
    return v * z if z != 1.0 else v


def crop_window(values: np.ndarray, ctx: KernelContext, n: int) -> tuple[np.ndarray, KernelContext]:
    """The padded window and its context with ``n`` cells removed on every side (to run a
    feature with a smaller halo inside one with a larger halo)."""
    if n == 0:
        return values, ctx
    outside = None if ctx.outside is None else ctx.outside[n:-n, n:-n]
    return values[n:-n, n:-n], replace(ctx, cellsize_x=ctx.cellsize_x[n:-n], cellsize_y=ctx.cellsize_y[n:-n],
                                       outside=outside if outside is not None and outside.any() else None)


def inside_box(ctx: KernelContext, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): padded indices of the first and last rows and columns
    that lie inside the raster."""
    if ctx.outside is None:
        return 0, shape[0] - 1, 0, shape[1] - 1
    rows = np.flatnonzero(~ctx.outside.all(axis=1))
    cols = np.flatnonzero(~ctx.outside.all(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


@njit(cache=True, nogil=True, inline="always")
def load3x3(v, r, c, top, bottom, left, right, extrapolate, w):
    """Fill ``w`` (9 values, row-major, NW first) around padded cell (r, c).

    Returns False when the cell is nodata under the edge rule.
    """
    z5 = v[r, c]
    if np.isnan(z5):
        return False
    total = 0.0  # NaN when any value is NaN: one test instead of nine
    k = 0
    for dr in range(-1, 2):
        for dc in range(-1, 2):
            x = v[r + dr, c + dc]
            w[k] = x
            total += x
            k += 1
    if not np.isnan(total):
        return True
    if not extrapolate:
        return False
    edge_row = r == top or r == bottom
    k = 0
    for dr in range(-1, 2):
        rr = r + dr
        for dc in range(-1, 2):
            cc = c + dc
            if edge_row:
                cc = min(max(cc, left), right)
                x = 2.0 * v[r, cc] - v[r - dr, cc] if (rr < top or rr > bottom) else v[rr, cc]
            elif cc < left or cc > right:
                x = 2.0 * v[rr, c] - v[rr, c - dc]
            else:
                x = v[rr, cc]
            w[k] = z5 if np.isnan(x) else x
            k += 1
    return True


@njit(nogil=True, inline="always")
def run3x3(cell, v, csx, csy, top, bottom, left, right, extrapolate, params):
    """Apply ``cell(w, cx, cy, params) -> float`` to every core cell of a 1-cell-padded window.

    ``cx``, ``cy`` are the cell sizes (m) of the centre's row. Returns float32 (rows-2, cols-2),
    NaN where nodata. Call it from a feature's own ``@njit(cache=True, parallel=True)``
    kernel: inlined there, the kernel caches (a cached function cannot take ``cell`` as
    an argument, numba would recompile it in every process).
    """
    rows, cols = v.shape[0] - 2, v.shape[1] - 2
    out = np.empty((rows, cols), dtype=np.float32)
    for i in prange(rows):
        w = np.empty(9)
        r = i + 1
        cx, cy = csx[r], csy[r]
        for j in range(cols):
            if load3x3(v, r, j + 1, top, bottom, left, right, extrapolate, w):
                out[i, j] = cell(w, cx, cy, params)
            else:
                out[i, j] = np.nan
    return out


@njit(cache=True, nogil=True, inline="always")
def horn(w, cx, cy):
    """Horn (1981) gradient (dz/dEast, dz/dNorth) of a 3x3 window, as gdaldem computes it.

    gdaldem sums the window in float32, in this order; doing the same makes aspect on
    gentle slopes identical to gdaldem's (float64 sums differ by up to 0.005 degrees at
    0.1 degree of slope) and flat cells the same cells. Float32 DEMs lose nothing by it:
    the rounding is the size of their own.
    """
    f = np.float32
    east = f(w[2]) + f(w[5]) + f(w[5]) + f(w[8])
    west = f(w[0]) + f(w[3]) + f(w[3]) + f(w[6])
    north = f(w[0]) + f(w[1]) + f(w[1]) + f(w[2])
    south = f(w[6]) + f(w[7]) + f(w[7]) + f(w[8])
    return float(east - west) / (8.0 * cx), float(north - south) / (8.0 * cy)


def apply3x3(kernel, values: np.ndarray, ctx: KernelContext, *params: float) -> np.ndarray:
    """Run a 3x3 kernel (a wrapper of :func:`run3x3`) over a padded window (halo 1) with the
    spec's edge rule."""
    v = elevations(values, ctx)
    top, bottom, left, right = inside_box(ctx, v.shape)
    return kernel(v, np.asarray(ctx.cellsize_x, np.float64), np.asarray(ctx.cellsize_y, np.float64),
                  top, bottom, left, right, ctx.edges == "extrapolate", np.array(params, dtype=np.float64))


def check_terrain(stack, feature: ResolvedFeature) -> None:
    """Refuse what a terrain feature cannot compute, before any pass over the raster.

    Raises
    ------
    FeatureError
        When the stencil (``2 * halo + 1`` cells) is wider or taller than the grid, which
        includes 3x3 features on 1-row or 1-column DEMs. (An input without any valid cell
        is refused by the Stack itself, for every kind of feature.)
    """
    size = 2 * feature.halo + 1
    width, height = stack.grid.width, stack.grid.height
    if size > min(width, height):
        hint = (f"use a smaller radius (at most {(min(width, height) - 1) // 2})" if min(width, height) >= 3
                else "terrain features need a DEM of at least 3 x 3 cells")
        path = stack.spec.inputs[feature.ref.input].path
        raise FeatureError(f"feature {str(feature.ref)!r} of {path}: its {size} x {size}-cell neighbourhood does not "
                           f"fit the {width} x {height}-cell grid; {hint}")
