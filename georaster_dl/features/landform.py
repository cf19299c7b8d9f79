"""Weiss (2001) slope-position classes from standardised TPI and slope.

With ``s`` the standardised TPI (see :mod:`georaster_dl.features.local_relief`) and
``slope`` in degrees (Horn, as the ``slope`` feature)::

    1 ridge         s > 1
    2 upper_slope   0.5 < s <= 1
    3 middle_slope  -0.5 <= s <= 0.5 and slope > flat_slope
    4 flat          -0.5 <= s <= 0.5 and slope <= flat_slope
    5 lower_slope   -1 <= s < -0.5
    6 valley        s < -1

A cell is nodata where its TPI or its slope is. Like ``tpi_std``, the TPI mean and SD
over the whole raster come from a first pass and are pinned into the spec.
"""

from __future__ import annotations

import numpy as np

from georaster_dl.features.local_relief import (STATS_PARAMS, TPI_STATISTICS, check_neighbourhood,
                                                neighbourhood_params, radius_halo, standardise, tpi_values)
from georaster_dl.features.registry import FeatureDef, KernelContext, Param, register
from georaster_dl.features.stencil import TERRAIN_INPUTS
from georaster_dl.features.terrain import slope_degrees

CLASSES = {1: "ridge", 2: "upper_slope", 3: "middle_slope", 4: "flat", 5: "lower_slope", 6: "valley"}
#: High (red) to low (blue) positions, flat grey.
COLOURS = {1: (200, 0, 0), 2: (255, 150, 50), 3: (255, 255, 120), 4: (220, 220, 220), 5: (120, 200, 255),
           6: (0, 0, 200)}


def classify(s: np.ndarray, slope: np.ndarray, flat_slope: float) -> np.ndarray:
    """Weiss classes (float32 codes, NaN where ``s`` or ``slope`` is NaN)."""
    out = np.select([s > 1, s > 0.5, s >= -0.5, s >= -1], [1, 2, np.where(slope > flat_slope, 3, 4), 5], 6)
    return np.where(np.isnan(s) | np.isnan(slope), np.nan, out).astype(np.float32)


def _kernel(values: np.ndarray, ctx: KernelContext, radius: int, shape: str, inner: int, flat_slope: float,
            mean: float | None, sd: float | None) -> np.ndarray:
    s = standardise(tpi_values(values, ctx, radius, shape, inner), mean, sd)
    return classify(s, slope_degrees(values, ctx, radius), flat_slope)


register(FeatureDef(
    name="landform_weiss", kernel=_kernel, units="class 1..6",
    help="Weiss (2001) slope positions from standardised TPI and slope: 1 ridge, 2 upper slope, 3 middle slope, "
         "4 flat, 5 lower slope, 6 valley",
    params=neighbourhood_params(10) + (
        Param("flat_slope", float, 5.0, "slope in degrees separating flats from middle slopes", minimum=0.0),
    ) + STATS_PARAMS,
    halo=radius_halo, input_kinds=TERRAIN_INPUTS, check=check_neighbourhood, first_pass=TPI_STATISTICS,
    internal_params=("mean", "sd"), classes=CLASSES, colours=COLOURS))
