"""Second-derivative terrain features: profile, plan (tangential) and total curvature.

Definitions follow GRASS ``r.slope.aspect`` (1/m, convex positive), from the 3x3
derivatives (z1 = NW ... z9 = SE; ew, ns = cell width and height in metres)::

    fx  = ((z3 + 2 z6 + z9) - (z1 + 2 z4 + z7)) / (8 ew)          dz/dEast
    fy  = ((z1 + 2 z2 + z3) - (z7 + 2 z8 + z9)) / (8 ns)          dz/dNorth
    fxx = ((z1 + z3 + z7 + z9) + 4 (z4 + z6) - 2 (z2 + z8) - 8 z5) / (6 ew²)
    fyy = ((z1 + z3 + z7 + z9) + 4 (z2 + z8) - 2 (z4 + z6) - 8 z5) / (6 ns²)
    fxy = (z3 + z7 - z1 - z9) / (4 ew ns)
    p   = fx² + fy²

    profile_curvature = -(fxx fx² + 2 fxy fx fy + fyy fy²) / (p (1 + p)^1.5)   (GRASS pcurvature)
    plan_curvature    = -(fxx fy² - 2 fxy fx fy + fyy fx²) / (p (1 + p)^0.5)   (GRASS tcurvature)
    curvature         = -(fxx + fyy)                                          (negative Laplacian)

Profile and plan curvature are 0 where the gradient is 0.001 or less (as GRASS), since
the direction of the slope is undefined there. Nodata and edge rules: see
:mod:`georaster_dl.features.stencil`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from georaster_dl.features.registry import FeatureDef, KernelContext, register
from georaster_dl.features.stencil import TERRAIN_INPUTS, apply3x3, check_terrain, one_cell, run3x3

#: Gradient (rise over run) at and below which profile and plan curvature are 0.
MIN_GRADIENT = 0.001


@njit(cache=True, nogil=True, inline="always")
def _derivatives(w, cx, cy):
    # float64 throughout, like GRASS (which reads elevations as double).
    fx = ((w[2] + 2.0 * w[5] + w[8]) - (w[0] + 2.0 * w[3] + w[6])) / (8.0 * cx)
    fy = ((w[0] + 2.0 * w[1] + w[2]) - (w[6] + 2.0 * w[7] + w[8])) / (8.0 * cy)
    corners = w[0] + w[2] + w[6] + w[8] - 8.0 * w[4]
    fxx = (corners + 4.0 * (w[3] + w[5]) - 2.0 * (w[1] + w[7])) / (6.0 * cx * cx)
    fyy = (corners + 4.0 * (w[1] + w[7]) - 2.0 * (w[3] + w[5])) / (6.0 * cy * cy)
    fxy = (w[2] + w[6] - w[0] - w[8]) / (4.0 * cx * cy)
    return fx, fy, fxx, fyy, fxy


@njit(inline="always")
def _profile_cell(w, cx, cy, p):
    fx, fy, fxx, fyy, fxy = _derivatives(w, cx, cy)
    g2 = fx * fx + fy * fy
    if math.sqrt(g2) <= MIN_GRADIENT:
        return 0.0
    return -(fxx * fx * fx + 2.0 * fxy * fx * fy + fyy * fy * fy) / (g2 * (1.0 + g2) ** 1.5)


@njit(cache=True, nogil=True, parallel=True)
def _profile_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_profile_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _plan_cell(w, cx, cy, p):
    fx, fy, fxx, fyy, fxy = _derivatives(w, cx, cy)
    g2 = fx * fx + fy * fy
    if math.sqrt(g2) <= MIN_GRADIENT:
        return 0.0
    return -(fxx * fy * fy - 2.0 * fxy * fx * fy + fyy * fx * fx) / (g2 * math.sqrt(1.0 + g2))


@njit(cache=True, nogil=True, parallel=True)
def _plan_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_plan_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _total_cell(w, cx, cy, p):
    fx, fy, fxx, fyy, fxy = _derivatives(w, cx, cy)
    return -(fxx + fyy)


@njit(cache=True, nogil=True, parallel=True)
def _total_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_total_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


def _profile(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_profile_kernel, values, ctx)


def _plan(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_plan_kernel, values, ctx)


def _total(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_total_kernel, values, ctx)


_COMMON = {"halo": one_cell, "input_kinds": TERRAIN_INPUTS, "check": check_terrain, "units": "1/m (convex > 0)"}

register(FeatureDef(
    name="profile_curvature", kernel=_profile,
    help="curvature along the slope line, as GRASS r.slope.aspect pcurvature; 0 where the gradient <= 0.001",
    **_COMMON))

register(FeatureDef(
    name="plan_curvature", kernel=_plan,
    help="tangential curvature, across the slope line, as GRASS r.slope.aspect tcurvature; "
         "0 where the gradient <= 0.001",
    **_COMMON))

register(FeatureDef(
    name="curvature", kernel=_total,
    help="total curvature: the negative Laplacian -(d2z/dx2 + d2z/dy2) (GRASS dxx + dyy)",
    **_COMMON))
