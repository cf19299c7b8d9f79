"""One pass for the 3x3 terrain family: several features of one input from one read, one
float64 copy and one load of each cell's 3x3 window.

Slope, aspect, northness, eastness, hillshade, the three curvatures, TRI, roughness and
TPI of radius 1 each have their own kernel (:mod:`~georaster_dl.features.terrain`,
:mod:`~georaster_dl.features.curvature`, :mod:`~georaster_dl.features.local_relief`);
computed one by one, each pays for its own float64 copy of the window and its own pass
over it. :func:`compute_fused` runs the same per-cell functions (so the values are
bit-identical) in one pass. :class:`~georaster_dl.stack.Stack` uses it whenever a window
needs two or more of these features of the same input: ``predict``, ``features``,
``stack`` and training all read windows through it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from georaster_dl.features.curvature import _plan_cell, _profile_cell, _total_cell
from georaster_dl.features.local_relief import (_roughness_cell, _tpi3_cell, _tri_riley_cell,
                                               _tri_wilson_cell)
from georaster_dl.features.registry import KernelContext, ResolvedFeature
from georaster_dl.features.stencil import elevations, inside_box, load3x3
from georaster_dl.features.terrain import (_aspect_cell, _eastness_cell, _hillshade_cell, _northness_cell,
                                          _slope_cell)


def _slope(p: dict) -> tuple[int, tuple]:
    return 0, (1.0 if p["units"] == "percent" else 0.0,)


def _hillshade(p: dict) -> tuple[int, tuple]:
    az, alt = math.radians(p["azimuth"]), math.radians(p["altitude"])
    return 5, (math.sin(alt), math.cos(alt) * math.sin(az), math.cos(alt) * math.cos(az))


#: Feature name -> its code in the fused kernel and its cell parameters (from the feature's).
FAMILY = {
    "slope": _slope,
    "aspect": lambda p: (1, ()),
    "northness": lambda p: (2, ()),
    "eastness": lambda p: (3, ()),
    "profile_curvature": lambda p: (4, ()),
    "hillshade": _hillshade,
    "plan_curvature": lambda p: (6, ()),
    "curvature": lambda p: (7, ()),
    "tri": lambda p: (9, ()) if p["variant"] == "wilson" else (8, ()),
    "roughness": lambda p: (10, ()),
    "tpi": lambda p: (11, ()),  # radius 1 only, see fusable
}


def fusable(feature: ResolvedFeature) -> bool:
    """Whether ``feature`` is one of the 3x3 family the fused pass computes."""
    name = feature.definition.name
    return (name in FAMILY and feature.halo == 1 and feature.onehot_codes is None
            and (name != "tpi" or feature.params.get("radius") == 1))


@njit(inline="always")
def _cell(code, w, cx, cy, p):
    if code == 0:
        return _slope_cell(w, cx, cy, p)
    if code == 1:
        return _aspect_cell(w, cx, cy, p)
    if code == 2:
        return _northness_cell(w, cx, cy, p)
    if code == 3:
        return _eastness_cell(w, cx, cy, p)
    if code == 4:
        return _profile_cell(w, cx, cy, p)
    if code == 5:
        return _hillshade_cell(w, cx, cy, p)
    if code == 6:
        return _plan_cell(w, cx, cy, p)
    if code == 7:
        return _total_cell(w, cx, cy, p)
    if code == 8:
        return _tri_riley_cell(w, cx, cy, p)
    if code == 9:
        return _tri_wilson_cell(w, cx, cy, p)
    if code == 10:
        return _roughness_cell(w, cx, cy, p)
    return _tpi3_cell(w, cx, cy, p)


@njit(cache=True, nogil=True, parallel=True)
def _fused_kernel(v, csx, csy, top, bottom, left, right, extrapolate, codes, params, bands, out):
    rows, cols = v.shape[0] - 2, v.shape[1] - 2
    for i in prange(rows):
        w = np.empty(9)
        r = i + 1
        cx, cy = csx[r], csy[r]
        for j in range(cols):
            if load3x3(v, r, j + 1, top, bottom, left, right, extrapolate, w):
                for k in range(codes.size):
                    out[bands[k], i, j] = _cell(codes[k], w, cx, cy, params[k])
            else:
                for k in range(codes.size):
                    out[bands[k], i, j] = np.nan


def compute_fused(features: list[ResolvedFeature], values: np.ndarray, ctx: KernelContext, out: np.ndarray,
                  bands: list[int]) -> None:
    """Compute fusable ``features`` of one input over a window padded by 1 cell into bands
    ``bands`` of ``out`` (float32, (bands, rows, cols)), feature k into band ``bands[k]``."""
    v = elevations(values, ctx)
    top, bottom, left, right = inside_box(ctx, v.shape)
    codes, params = [], np.zeros((len(features), 3))
    for k, f in enumerate(features):
        code, p = FAMILY[f.definition.name](f.params)
        codes.append(code)
        params[k, :len(p)] = p
    _fused_kernel(v, np.asarray(ctx.cellsize_x, np.float64), np.asarray(ctx.cellsize_y, np.float64),
                  top, bottom, left, right, ctx.edges == "extrapolate", np.asarray(codes, np.int64), params,
                  np.asarray(bands, np.int64), out)
