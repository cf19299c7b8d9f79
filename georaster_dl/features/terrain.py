"""First-derivative terrain features (Horn 1981, as gdaldem): slope, aspect, northness,
eastness, hillshade.

All read a 3x3 window (halo 1) and follow the nodata and edge rules of
:mod:`georaster_dl.features.stencil`. Gradients use metric cell sizes per row, so DEMs in
degrees work; elevations are multiplied by the input's ``z_factor``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from georaster_dl.features.registry import FeatureDef, KernelContext, Param, register
from georaster_dl.features.stencil import (TERRAIN_INPUTS, apply3x3, check_terrain, crop_window, horn, one_cell,
                                          run3x3)

#: Aspect of flat cells (no downslope direction); real aspects lie in [0, 360).
FLAT_ASPECT = -1.0


@njit(inline="always")
def _slope_cell(w, cx, cy, p):
    fx, fy = horn(w, cx, cy)
    g = math.sqrt(fx * fx + fy * fy)
    return 100.0 * g if p[0] != 0.0 else math.degrees(math.atan(g))


@njit(cache=True, nogil=True, parallel=True)
def _slope_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_slope_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _aspect_cell(w, cx, cy, p):
    fx, fy = horn(w, cx, cy)
    if fx == 0.0 and fy == 0.0:
        return FLAT_ASPECT
    a = math.degrees(math.atan2(-fx, -fy))
    if a < 0.0:
        a += 360.0
    return 0.0 if a >= 360.0 else a


@njit(cache=True, nogil=True, parallel=True)
def _aspect_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_aspect_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _northness_cell(w, cx, cy, p):
    fx, fy = horn(w, cx, cy)
    g = math.sqrt(fx * fx + fy * fy)
    return 0.0 if g == 0.0 else -fy / g


@njit(cache=True, nogil=True, parallel=True)
def _northness_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_northness_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _eastness_cell(w, cx, cy, p):
    fx, fy = horn(w, cx, cy)
    g = math.sqrt(fx * fx + fy * fy)
    return 0.0 if g == 0.0 else -fx / g


@njit(cache=True, nogil=True, parallel=True)
def _eastness_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_eastness_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


@njit(inline="always")
def _hillshade_cell(w, cx, cy, p):
    # p = (sin(alt), cos(alt)·sin(az), cos(alt)·cos(az)); gdaldem's 1..255 scale, 1 in shadow.
    fx, fy = horn(w, cx, cy)
    cos_i = (p[0] - (fx * p[1] + fy * p[2])) / math.sqrt(1.0 + fx * fx + fy * fy)
    return 1.0 if cos_i <= 0.0 else math.floor(1.0 + 254.0 * cos_i + 0.5)


@njit(cache=True, nogil=True, parallel=True)
def _hillshade_kernel(v, csx, csy, top, bottom, left, right, extrapolate, p):
    return run3x3(_hillshade_cell, v, csx, csy, top, bottom, left, right, extrapolate, p)


def _slope(values: np.ndarray, ctx: KernelContext, units: str) -> np.ndarray:
    return apply3x3(_slope_kernel, values, ctx, 1.0 if units == "percent" else 0.0)


def slope_degrees(values: np.ndarray, ctx: KernelContext, halo: int) -> np.ndarray:
    """Slope in degrees of the core of a window padded by ``halo`` >= 1 cells."""
    return apply3x3(_slope_kernel, *crop_window(values, ctx, halo - 1), 0.0)


def _aspect(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_aspect_kernel, values, ctx)


def _northness(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_northness_kernel, values, ctx)


def _eastness(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return apply3x3(_eastness_kernel, values, ctx)


def _hillshade(values: np.ndarray, ctx: KernelContext, azimuth: float, altitude: float) -> np.ndarray:
    az, alt = math.radians(azimuth), math.radians(altitude)
    return apply3x3(_hillshade_kernel, values, ctx, math.sin(alt), math.cos(alt) * math.sin(az),
                    math.cos(alt) * math.cos(az))


_COMMON = {"halo": one_cell, "input_kinds": TERRAIN_INPUTS, "check": check_terrain}

register(FeatureDef(
    name="slope", kernel=_slope, units="degrees (or percent)",
    help="steepest slope, Horn (1981) gradient as gdaldem slope",
    params=(Param("units", str, "degrees", "degrees, or percent (100 * rise / run)", choices=("degrees", "percent")),),
    **_COMMON))

register(FeatureDef(
    name="aspect", kernel=_aspect, units="degrees clockwise from north",
    help=f"downslope direction (Horn), 0 = north, 90 = east, as gdaldem aspect; flat cells are {FLAT_ASPECT:g} "
         "(gdaldem writes -9999, GRASS 0); prefer northness/eastness as network inputs",
    **_COMMON))

register(FeatureDef(
    name="northness", kernel=_northness, units="-1..1",
    help="cos(aspect): 1 facing north, -1 facing south, 0 on flat cells", **_COMMON))

register(FeatureDef(
    name="eastness", kernel=_eastness, units="-1..1",
    help="sin(aspect): 1 facing east, -1 facing west, 0 on flat cells", **_COMMON))

register(FeatureDef(
    name="hillshade", kernel=_hillshade, units="1..255",
    help="shaded relief as gdaldem hillshade (1 + 254 * cos(incidence), rounded; 1 in shadow)",
    params=(Param("azimuth", float, 315.0, "direction of the light, degrees clockwise from north", minimum=0.0),
            Param("altitude", float, 45.0, "height of the light above the horizon, degrees", minimum=0.0)),
    **_COMMON))
