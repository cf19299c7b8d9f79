"""Geology, magnetic anomaly and potassium fields of the synthetic study area (master grid).

* Bedrock: folded NE-striking belts of sandstone, metabasalt, mica schist and
  limestone, displaced across the major faults, cut by a granite intrusion.
* Surface geology: bedrock, covered by alluvium on the plains and along rivers; the
  lake is unmapped (nodata).
* Magnetic anomaly (nT): bedrock susceptibility (metabasalt strongest, so alluvium does
  not hide it), smoothed, plus buried compact sources with heavy-tailed (Pareto)
  amplitudes, a fifth of them reversed, and a weak regional gradient.
* Potassium (%): log-normal about a mean per surface unit (granite high, metabasalt and
  limestone low), smoothed like an airborne footprint; near zero over the lake.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from georaster_dl.sampledata.layout import StudyArea
from georaster_dl.sampledata.noise import smooth_noise
from georaster_dl.sampledata.terrain import Terrain

GEOLOGY_NODATA = 255
STRIKE_DEG = 35.0
BELT_WIDTH_M = 2_500.0
BELT_SEQUENCE = (50, 30, 20, 60, 50, 20, 30, 60)
GRANITE_RADIUS_M = 3_000.0
SUSCEPTIBILITY_NT = {10: 0.0, 20: 5.0, 30: 180.0, 40: 60.0, 50: 25.0, 60: -10.0}
POTASSIUM_MEDIAN_PCT = {10: 1.6, 20: 1.2, 30: 0.4, 40: 3.5, 50: 2.2, 60: 0.3}


def make_geology(rng: np.random.Generator, area: StudyArea, terrain: Terrain) -> tuple[np.ndarray, np.ndarray]:
    """Bedrock and surface unit codes (uint8, master grid; surface is 255 over the lake)."""
    xs, ys = area.master_xy()
    xmin, ymin, xmax, ymax = area.dem.bounds
    xc, yc = (xmin + xmax) / 2, (ymin + ymax) / 2
    strike = np.radians(STRIKE_DEG)
    across = ((xs - xc) * np.cos(strike) - (ys - yc) * np.sin(strike)) / BELT_WIDTH_M
    across = across + 0.7 * smooth_noise(rng, area.master.shape, 150)  # folding
    for line, kind in terrain.faults:
        if kind == "major":  # one side of each major fault is displaced by part of a belt
            (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
            across = across + 0.4 * (((x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0)) > 0)
    sequence = np.array(BELT_SEQUENCE, dtype=np.uint8)
    bedrock = sequence[np.floor(across).astype(np.int64) % len(sequence)]

    radius = max(800.0, GRANITE_RADIUS_M * area.size / 1024) * (1 + 0.25 * smooth_noise(rng, area.master.shape, 60))
    gx, gy = xmin + (xmax - xmin) * rng.uniform(0.25, 0.75), ymin + (ymax - ymin) * rng.uniform(0.25, 0.75)
    bedrock[np.hypot(xs - gx, ys - gy) < radius] = 40

    m = terrain.mountains
    alluvium = (m < 0.12) | ((terrain.river_distance < 150 + 500 * (1 - m)) & (m < 0.6))
    surface = np.where(alluvium, 10, bedrock).astype(np.uint8)
    surface[terrain.lake] = GEOLOGY_NODATA
    return bedrock, surface


def make_magnetics(rng: np.random.Generator, area: StudyArea, bedrock: np.ndarray) -> np.ndarray:
    """Total magnetic intensity anomaly in nT on the master grid."""
    shape = area.master.shape
    cell = area.master.res[0]
    field = _lookup(bedrock, SUSCEPTIBILITY_NT) + 100 * smooth_noise(rng, shape, 20) * (bedrock == 30)
    field = gaussian_filter(field, 6)  # sources lie below the surface: their fields are smooth
    for _ in range(max(8, round(40 * area.area_factor))):
        row, col = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        depth = rng.uniform(150, 800)
        amplitude = min(5000.0, 50 * (1 + rng.pareto(1.0))) * (-1 if rng.random() < 0.2 else 1)
        reach = int(8 * depth / cell)
        r0, r1 = max(0, row - reach), min(shape[0], row + reach + 1)
        c0, c1 = max(0, col - reach), min(shape[1], col + reach + 1)
        rr, cc = np.ogrid[r0 - row:r1 - row, c0 - col:c1 - col]
        r2 = ((rr * cell) ** 2 + (cc * cell) ** 2)
        field[r0:r1, c0:c1] += amplitude * depth ** 3 / (r2 + depth ** 2) ** 1.5
    xs, ys = area.master_xy()
    return field + 0.6 * (xs - xs.mean()) / 1000 - 0.3 * (ys - ys.mean()) / 1000


def make_potassium(rng: np.random.Generator, area: StudyArea, surface: np.ndarray, lake: np.ndarray) -> np.ndarray:
    """Potassium concentration in % on the master grid."""
    log_median = _lookup(surface, {code: np.log(v) for code, v in POTASSIUM_MEDIAN_PCT.items()})
    potassium = np.exp(np.nan_to_num(log_median, nan=np.log(0.05)) + 0.3 * smooth_noise(rng, area.master.shape, 15))
    potassium[lake] = 0.05
    return gaussian_filter(potassium, 2)


def _lookup(codes: np.ndarray, table: dict[int, float]) -> np.ndarray:
    out = np.full(codes.shape, np.nan)
    for code, value in table.items():
        out[codes == code] = value
    return out
