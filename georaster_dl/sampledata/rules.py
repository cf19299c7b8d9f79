"""The hidden rules of the sample data, written in terms of stack features.

Each rule maps features a model can read from ``sample_data/spec.yaml`` (as the stack
computes them on the DEM grid) to the truth the sample labels were drawn from, so a
model's skill can be measured against that truth:

* landform: slope (Horn, degrees, as ``dem.slope``) and TPI (as ``dem.tpi(radius=5)``)
  -> five classes (:func:`landform_rule`);
* prospectivity: distance to faults, geology unit, magnetic anomaly -> probability that
  a cell hosts a deposit (:func:`prospectivity_rule`);
* copper in soil: magnetic anomaly, potassium, geology unit -> median cu_ppm
  (:func:`copper_rule`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

#: Landform class codes and names (truth_landform.tif, field ``landform`` of landforms.gpkg).
LANDFORM_CLASSES = {1: "valley floor", 2: "lower slope", 3: "upper slope", 4: "ridge", 5: "plain"}
TPI_RADIUS = 5                 # cells (150 m at 30 m)
TPI_THRESHOLD_M = 4.0          # |TPI| beyond this: valley floor (below) or ridge (above)
FLAT_SLOPE_DEG = 3.0           # gentler and within the TPI band: plain
CLASS_NODATA = 255

#: Geology units: code -> (name, RGB colour). Unit 30 hosts the deposits.
GEOLOGY_UNITS = {
    10: ("Alluvium", (238, 221, 130)),
    20: ("Sandstone", (244, 164, 96)),
    30: ("Metabasalt", (46, 139, 87)),
    40: ("Granite", (219, 112, 147)),
    50: ("Mica schist", (123, 104, 238)),
    60: ("Limestone", (176, 196, 222)),
}
HOST_UNIT = 30
FAULT_DECAY_M = 500.0
MAG_HIGH_NT = 250.0
MAG_SPREAD_NT = 60.0
PROSPECTIVITY_WEIGHTS = {"intercept": -10.0, "fault": 3.0, "host": 2.0, "mag_high": 2.0}
COPPER_UNIT_EFFECT = {10: 0.0, 20: -0.2, 30: 0.8, 40: -0.4, 50: 0.2, 60: -0.5}


def horn_slope(dem: np.ndarray, cellsize: float) -> np.ndarray:
    """Slope in degrees by Horn (1981), as ``gdaldem slope``; NaN on the outer frame and next to nodata."""
    z = np.pad(dem.astype(np.float64), 1, constant_values=np.nan)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * cellsize)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * cellsize)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy)))


def tpi(dem: np.ndarray, radius: int = TPI_RADIUS) -> np.ndarray:
    """Elevation minus the mean of its neighbours, as the ``dem.tpi(radius=R)`` feature.

    The neighbours are the cells whose centres lie within R + 0.5 cells (GRASS
    ``r.neighbors -c``), centre excluded. NaN where any of them is nodata or outside the raster.
    """
    rr, cc = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disk = ((rr ** 2 + cc ** 2 <= (radius + 0.5) ** 2) & ((rr != 0) | (cc != 0))).astype(np.float64)
    missing = ~np.isfinite(dem)
    total = correlate(np.where(missing, 0.0, dem), disk, mode="constant", cval=0.0)
    bad = correlate(missing.astype(np.float64), disk, mode="constant", cval=1.0)
    out = dem - total / disk.sum()
    out[(bad > 0) | missing] = np.nan
    return out


def landform_rule(slope: np.ndarray, tpi_m: np.ndarray) -> np.ndarray:
    """Landform class codes (see :data:`LANDFORM_CLASSES`) from slope and TPI; 255 = nodata.

    In order: TPI <= -4 m valley floor; TPI >= 4 m ridge; else slope <= 3 degrees plain;
    else TPI <= 0 lower slope; else upper slope.
    """
    out = np.where(tpi_m > 0, 3, 2).astype(np.uint8)
    out[slope <= FLAT_SLOPE_DEG] = 5
    out[tpi_m <= -TPI_THRESHOLD_M] = 1
    out[tpi_m >= TPI_THRESHOLD_M] = 4
    out[~(np.isfinite(slope) & np.isfinite(tpi_m))] = CLASS_NODATA
    return out


def prospectivity_rule(fault_distance: np.ndarray, geology: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Probability that a cell hosts a deposit; NaN where an input is nodata.

    ``logit p = -10 + 3 exp(-d / 500 m) + 2 [unit 30] + 2 sigmoid((mag - 250 nT) / 60 nT)``
    """
    w = PROSPECTIVITY_WEIGHTS
    mag_high = 1 / (1 + np.exp(-(mag - MAG_HIGH_NT) / MAG_SPREAD_NT))
    logit = (w["intercept"] + w["fault"] * np.exp(-fault_distance / FAULT_DECAY_M)
             + w["host"] * (geology == HOST_UNIT) + w["mag_high"] * mag_high)
    p = 1 / (1 + np.exp(-logit))
    p[~(np.isfinite(fault_distance) & np.isfinite(geology) & np.isfinite(mag))] = np.nan
    return p


def copper_rule(mag: np.ndarray, potassium: np.ndarray, geology: np.ndarray) -> np.ndarray:
    """Median copper in soil (ppm); NaN where an input is nodata.

    ``ln cu = 2.3 + 1.2 tanh(mag / 300 nT) + 0.5 K% + unit effect`` (see :data:`COPPER_UNIT_EFFECT`).
    """
    effect = np.full(geology.shape, np.nan)
    for code, value in COPPER_UNIT_EFFECT.items():
        effect[geology == code] = value
    return np.exp(2.3 + 1.2 * np.tanh(mag / 300.0) + 0.5 * potassium + effect)
