"""Focal statistics of any continuous input: the mean and standard deviation over a disk.

A per-pixel network sees one cell at a time; ``mag.focal_mean(radius=5)`` and
``mag.focal_sd(radius=5)`` give it each input's neighbourhood, at as many scales as the
spec names.

- The disk of radius R cells holds the cells whose centres lie within R + 0.5 cells of the
  centre, centre included: the neighbourhood of TPI (GRASS ``r.neighbors -c size=2R+1``),
  so R = 1 is the 3x3 window and ``tpi(radius=R)`` is the value minus the mean of the same
  disk without its centre.
- ``focal_sd`` is the population standard deviation (divided by the count, not count - 1).
- Nodata, as TPI: a cell whose own value is nodata is nodata. With ``edges: nodata`` (the
  default) a cell is nodata when any cell of its disk is nodata or outside the raster; with
  ``edges: extrapolate`` the statistics are over the disk's valid cells (nodata and
  outside cells ignored).
- Values are in the input's units (``z_factor`` is for terrain features and is not applied).

Each output cell sums its own disk in a fixed order (row by row, west to east), in
float64, so a window gives bit-identical results wherever it starts; the SD is computed
in a second pass around the mean, which keeps it exact for inputs with a large offset
(e.g. gravity in mGal around 980,000). The cost is proportional to the disk's area.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from georaster_dl.features.local_relief import half_widths, radius_halo
from georaster_dl.features.registry import FeatureDef, KernelContext, Param, register
from georaster_dl.features.stencil import check_terrain


@njit(cache=True, nogil=True, parallel=True)
def _disk_statistic(v, radius, widths, n_full, extrapolate, sd):
    """Mean (``sd`` False) or population SD of the disk around every core cell of a window
    padded by ``radius``; ``widths`` are the disk's half-widths per row offset. Returns
    float64 (rows - 2R, cols - 2R), NaN where nodata."""
    rows, cols = v.shape[0] - 2 * radius, v.shape[1] - 2 * radius
    out = np.empty((rows, cols))
    for r in prange(rows):
        for c in range(cols):
            if np.isnan(v[r + radius, c + radius]):
                out[r, c] = np.nan
                continue
            total, n = 0.0, 0
            for k in range(2 * radius + 1):
                for j in range(c + radius - widths[k], c + radius + widths[k] + 1):
                    x = v[r + k, j]
                    if not np.isnan(x):
                        total += x
                        n += 1
            if n < n_full and not extrapolate:
                out[r, c] = np.nan
                continue
            mean = total / n
            if not sd:
                out[r, c] = mean
                continue
            squares = 0.0
            for k in range(2 * radius + 1):
                for j in range(c + radius - widths[k], c + radius + widths[k] + 1):
                    x = v[r + k, j]
                    if not np.isnan(x):
                        squares += (x - mean) * (x - mean)
            out[r, c] = np.sqrt(squares / n)
    return out


def disk_statistic(values: np.ndarray, ctx: KernelContext, radius: int, sd: bool) -> np.ndarray:
    """Focal mean or SD (float64) of the core of a window padded by ``radius``."""
    widths = half_widths(radius, radius)
    v = np.ascontiguousarray(values, dtype=np.float64)
    return _disk_statistic(v, radius, widths, int((2 * widths + 1).sum()), ctx.edges == "extrapolate", sd)


def _focal_mean(values: np.ndarray, ctx: KernelContext, radius: int) -> np.ndarray:
    return disk_statistic(values, ctx, radius, False)


def _focal_sd(values: np.ndarray, ctx: KernelContext, radius: int) -> np.ndarray:
    return disk_statistic(values, ctx, radius, True)


_RADIUS = (Param("radius", int, 1, "disk radius in cells: cells whose centres lie within radius + 0.5 cells "
                 "(1 = the 3x3 window)", minimum=1),)

register(FeatureDef(
    name="focal_mean", kernel=_focal_mean, units="input units",
    help="mean of the input over a disk of radius cells, centre included (any continuous input)",
    params=_RADIUS, halo=radius_halo, check=check_terrain))

register(FeatureDef(
    name="focal_sd", kernel=_focal_sd, units="input units",
    help="standard deviation (population) of the input over a disk of radius cells (any continuous input)",
    params=_RADIUS, halo=radius_halo, check=check_terrain))
