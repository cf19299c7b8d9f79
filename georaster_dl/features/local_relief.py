"""Local relief: TPI at any radius (disk or annulus), standardised TPI, TRI, roughness.

- ``tri``: Riley et al. (1999) ``sqrt(sum (z_i - z5)^2)`` over the 8 neighbours, or Wilson
  et al. (2007) ``mean |z_i - z5|`` (``variant=wilson``), as ``gdaldem TRI -alg``.
- ``roughness``: max - min of the 3x3 window, as ``gdaldem roughness``.
- ``tpi``: centre minus the mean of its neighbourhood. The neighbourhood of radius R
  cells holds the cells whose centres lie within R + 0.5 cells of the centre (GRASS
  ``r.neighbors -c size=2R+1``), without the centre; ``shape=annulus`` also leaves out
  the disk of radius ``inner``. R = 1 is the 3x3 window, identical to ``gdaldem TPI``.
- ``tpi_std``: (TPI - mean) / SD, with the mean and SD of TPI over the whole raster
  computed by a first pass when the stack opens and pinned into the spec.

Edges: 3x3 features (and TPI with R = 1) follow :mod:`georaster_dl.features.stencil`.
For R > 1, ``edges: extrapolate`` averages the neighbours that exist (inside the raster
and not nodata); ``edges: nodata`` makes the cell nodata when any is missing.

Neighbourhood sums for R > 1 are exact integer sums of elevations in fixed point
(2^-20 m steps), so a window gives bit-identical results wherever it starts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from georaster_dl.errors import FeatureError
from georaster_dl.features.registry import (FeatureDef, FirstPass, KernelContext, Moments, Param, ResolvedFeature,
                                             register)
from georaster_dl.features.stencil import (TERRAIN_INPUTS, apply3x3, check_terrain, elevations, one_cell,
                                          run3x3)
from georaster_dl.spec import FeatureRef

#: Fixed-point scale of neighbourhood sums (2^-20 m, about 1 micrometre).
FIXED_POINT = 2.0 ** 20
_INT64_HEADROOM = 2.0 ** 62
SHAPES = ("disk", "annulus")


@njit(inline="always")
def _tri_riley_cell(w, cx, cy, p):
    s = 0.0
    for k in range(9):
        d = w[k] - w[4]
        s += d * d
    return math.sqrt(s)


@njit(cache=True, nogil=True, parallel=True)
def _tri_riley_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_tri_riley_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _tri_wilson_cell(w, cx, cy, p):
    s = 0.0
    for k in range(9):
        s += abs(w[k] - w[4])
    return s / 8.0


@njit(cache=True, nogil=True, parallel=True)
def _tri_wilson_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_tri_wilson_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _roughness_cell(w, cx, cy, p):
    lo, hi = w[0], w[0]
    for k in range(1, 9):
        lo, hi = min(lo, w[k]), max(hi, w[k])
    return hi - lo


@njit(cache=True, nogil=True, parallel=True)
def _roughness_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_roughness_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _tpi3_cell(w, cx, cy, p):
    return w[4] - (w[0] + w[1] + w[2] + w[3] + w[5] + w[6] + w[7] + w[8]) / 8.0


@njit(cache=True, nogil=True, parallel=True)
def _tpi3_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_tpi3_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _add_spans(acc, prefix, start, w, sign):
    # acc[c] += sign * (sum of columns start + c - w .. start + c + w), from a row's prefix sums.
    for c in range(acc.size):
        acc[c] += sign * (prefix[start + c + w + 1] - prefix[start + c - w])


@njit(cache=True, nogil=True, parallel=True)
def _ring_tpi(v, radius, outer, inner, n_full, extrapolate):
    """Centre minus ring mean over a padded window; ``outer``/``inner`` are half-widths per
    row offset (-1: row not in the inner disk). Returns float64 (rows-2R, cols-2R).

    Row prefix sums of fixed-point elevations are exact integers, so each ring sum is
    exact and the result does not depend on where the window starts.
    """
    rows, cols = v.shape
    out_rows, out_cols = rows - 2 * radius, cols - 2 * radius
    complete = not np.isnan(v).any()  # then every count is full: skip counting
    psum = np.empty((rows, cols + 1), dtype=np.int64)
    pcount = np.empty((rows, 0 if complete else cols + 1), dtype=np.int32)
    for i in prange(rows):
        s, n = 0, 0
        psum[i, 0] = 0
        if not complete:
            pcount[i, 0] = 0
        for j in range(cols):
            x = v[i, j]
            if not np.isnan(x):
                s += math.floor(x * FIXED_POINT + 0.5)
                n += 1
            psum[i, j + 1] = s
            if not complete:
                pcount[i, j + 1] = n
    out = np.empty((out_rows, out_cols))
    for r in prange(out_rows):
        total = np.zeros(out_cols, dtype=np.int64)
        count = np.full(out_cols, n_full, dtype=np.int64)
        if not complete:
            count[:] = 0
        for k in range(2 * radius + 1):
            i, w, wi = r + k, outer[k], inner[k]
            _add_spans(total, psum[i], radius, w, 1)
            if wi >= 0:
                _add_spans(total, psum[i], radius, wi, -1)
            if not complete:
                _add_spans(count, pcount[i], radius, w, 1)
                if wi >= 0:
                    _add_spans(count, pcount[i], radius, wi, -1)
        for c in range(out_cols):
            zc = v[r + radius, c + radius]
            n = count[c]
            if np.isnan(zc) or not (n == n_full or (extrapolate and n > 0)):
                out[r, c] = np.nan
            else:
                out[r, c] = zc - total[c] / (n * FIXED_POINT)
    return out


def half_widths(radius: int, rows: int) -> np.ndarray:
    """Half-width of the disk of ``radius`` cells in each row offset -rows..rows (-1 outside)."""
    dy = np.arange(-rows, rows + 1)
    reach = (radius + 0.5) ** 2 - dy.astype(float) ** 2
    return np.where(np.abs(dy) <= radius, np.floor(np.sqrt(np.maximum(reach, 0))), -1).astype(np.int64)


def tpi_values(values: np.ndarray, ctx: KernelContext, radius: int, shape: str, inner: int) -> np.ndarray:
    """TPI (float64) of the core of a window padded by ``radius``."""
    if radius == 1:
        return apply3x3(_tpi3_kernel, values, ctx).astype(np.float64)
    v = elevations(values, ctx)
    finite = v[np.isfinite(v)]
    limit = _INT64_HEADROOM / FIXED_POINT / v.shape[1]
    if finite.size and np.abs(finite).max() > limit:
        raise FeatureError(f"tpi: elevations beyond +-{limit:.3g} cannot be summed exactly in a {v.shape[1]}-cell-wide "
                           "window; convert them to metres with the input's z_factor or use a smaller --window")
    outer = half_widths(radius, radius)
    ring = half_widths(inner if shape == "annulus" else 0, radius)
    n_full = int((2 * outer + 1).sum() - (2 * ring[ring >= 0] + 1).sum())
    return _ring_tpi(v, radius, outer, ring, n_full, ctx.edges == "extrapolate")


def _tri(values: np.ndarray, ctx: KernelContext, variant: str) -> np.ndarray:
    return apply3x3(_tri_wilson_kernel if variant == "wilson" else _tri_riley_kernel, values, ctx)


def _roughness(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_roughness_kernel, values, ctx)


def _tpi(values: np.ndarray, ctx: KernelContext, radius: int, shape: str, inner: int) -> np.ndarray:
    return tpi_values(values, ctx, radius, shape, inner)


def standardise(tpi: np.ndarray, mean: float | None, sd: float | None) -> np.ndarray:
    """(TPI - mean) / SD with the pinned statistics."""
    if mean is None or sd is None:
        raise FeatureError("tpi_std: the global TPI mean and SD are not pinned; open the stack with prepare=True")
    return (tpi - mean) / sd


def _tpi_std(values: np.ndarray, ctx: KernelContext, radius: int, shape: str, inner: int,
             mean: float | None, sd: float | None) -> np.ndarray:
    return standardise(tpi_values(values, ctx, radius, shape, inner), mean, sd)


def radius_halo(params: dict) -> int:
    """radius cells"""
    return int(params["radius"])


def check_neighbourhood(stack, feature: ResolvedFeature) -> None:
    """Check the TPI neighbourhood parameters, then the grid and input (see ``check_terrain``)."""
    p, where = feature.params, f"feature {str(feature.ref)!r}"
    if p["shape"] == "annulus" and not 1 <= p["inner"] < p["radius"]:
        raise FeatureError(f"{where}: an annulus needs 1 <= inner < radius, got inner={p['inner']}, "
                           f"radius={p['radius']}; set inner to the radius of the hole, in cells")
    if p["shape"] == "disk" and p["inner"] != 0:
        raise FeatureError(f"{where}: inner={p['inner']} only applies to shape=annulus; "
                           "add shape=annulus or drop inner")
    check_terrain(stack, feature)


def _plain_tpi(feature: ResolvedFeature) -> FeatureRef:
    """The TPI, with the feature's neighbourhood, whose global statistics the feature needs."""
    p = feature.params
    return FeatureRef(feature.ref.input, "tpi", ()).with_params({k: p[k] for k in ("radius", "shape", "inner")})


def _pin_tpi_statistics(moments: Moments, feature: ResolvedFeature) -> dict[str, float]:
    if moments.count < 2 or moments.sd == 0.0:
        raise FeatureError(f"feature {str(feature.ref)!r}: TPI is constant or has fewer than 2 valid cells on this "
                           "grid, so it cannot be standardised; use tpi instead, or a DEM with relief")
    return {"mean": moments.mean, "sd": moments.sd}


#: Mean and SD of TPI over every valid cell of the grid, pinned as ``mean`` and ``sd``.
TPI_STATISTICS = FirstPass(_plain_tpi, _pin_tpi_statistics, "TPI statistics")


def neighbourhood_params(radius: int) -> tuple[Param, ...]:
    """Parameters of a TPI neighbourhood, with a default radius of ``radius`` cells."""
    return (Param("radius", int, radius, "neighbourhood radius in cells (1 = the 3x3 window of gdaldem TPI)",
                  minimum=1),
            Param("shape", str, "disk", "disk, or annulus (a ring leaving out the disk of radius inner)",
                  choices=SHAPES),
            Param("inner", int, 0, "radius in cells of the hole of an annulus", minimum=0))


#: Global TPI statistics pinned by :data:`TPI_STATISTICS` (declared ``internal_params``).
STATS_PARAMS = (Param("mean", float, None, "global mean of TPI (pinned by the first pass)"),
                Param("sd", float, None, "global SD of TPI (pinned by the first pass)"))

register(FeatureDef(
    name="tri", kernel=_tri, units="m",
    help="terrain ruggedness index, as gdaldem TRI (Riley by default, or Wilson)",
    params=(Param("variant", str, "riley", "riley: sqrt of summed squared differences; wilson: mean absolute "
                  "difference", choices=("riley", "wilson")),),
    halo=one_cell, input_kinds=TERRAIN_INPUTS, check=check_terrain))

register(FeatureDef(
    name="roughness", kernel=_roughness, units="m",
    help="largest minus smallest elevation of the 3x3 window, as gdaldem roughness",
    halo=one_cell, input_kinds=TERRAIN_INPUTS, check=check_terrain))

register(FeatureDef(
    name="tpi", kernel=_tpi, units="m",
    help="topographic position index: elevation minus the mean of a disk or annulus of neighbours "
         "(radius 1 = gdaldem TPI)",
    params=neighbourhood_params(1), halo=radius_halo, input_kinds=TERRAIN_INPUTS, check=check_neighbourhood))

register(FeatureDef(
    name="tpi_std", kernel=_tpi_std, units="SD",
    help="standardised TPI: (TPI - mean) / SD, mean and SD over the whole raster (first pass, pinned in the spec)",
    params=neighbourhood_params(1) + STATS_PARAMS, halo=radius_halo, input_kinds=TERRAIN_INPUTS,
    check=check_neighbourhood, first_pass=TPI_STATISTICS, internal_params=("mean", "sd")))
