"""Faults, rivers and the DEM of the synthetic study area (all on the master grid).

The DEM is a sum of ridged fractal noise weighted by a mountain mask (mountains to the
north-east, plains to the south-west), with meandering river valleys carved into it
(deep and V-shaped in the mountains, shallow and wide on the plains) and shallow
fault-line valleys. A lake on the plains and a missing survey strip are nodata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.features import rasterize
from scipy.ndimage import distance_transform_edt
from shapely.geometry import LineString

from georaster_dl.grid import Grid
from georaster_dl.sampledata.layout import StudyArea
from georaster_dl.sampledata.noise import fractal_noise, smooth_noise

FAULT_AZIMUTHS_DEG = (35.0, 120.0, 80.0)   # strike families (clockwise from north)
RIVER_AZIMUTH_DEG = 225.0                  # rivers flow from the mountains (NE) to the plains (SW)
LAKE_AXES_M = (700.0, 400.0)
DEM_NODATA = -32768


@dataclass(frozen=True)
class Terrain:
    """Terrain fields on the master grid and the line work that shaped them.

    Attributes
    ----------
    elevation : numpy.ndarray
        Elevation in metres (float64, before rounding to Int16).
    mountains : numpy.ndarray
        Mountain mask, 0 on the plains to 1 in the mountains.
    river_distance : numpy.ndarray
        Distance to the nearest river line in metres.
    lake : numpy.ndarray
        True inside the lake.
    faults : list of (shapely.LineString, str)
        Fault traces in the DEM's CRS and their kind ('major' or 'minor').
    """

    elevation: np.ndarray
    mountains: np.ndarray
    river_distance: np.ndarray
    lake: np.ndarray
    faults: list[tuple[LineString, str]]


def make_terrain(rngs: dict[str, np.random.Generator], area: StudyArea) -> Terrain:
    """Build faults, rivers, the mountain mask and the elevation on the master grid."""
    shape = area.master.shape
    xs, ys = area.master_xy()
    xc, yc = _centre(area.dem)
    half = area.size * area.dem.res[0] / 2
    towards_ne = ((xs - xc) + (ys - yc)) / np.sqrt(2) / half
    mountains = 1 / (1 + np.exp(-3 * (0.6 * smooth_noise(rngs["mountains"], shape, 300) + 1.6 * towards_ne)))

    faults = make_faults(rngs["faults"], area)
    rivers = make_rivers(rngs["rivers"], area)
    river_distance = line_distance([r for r in rivers], area.master)
    fault_distance = line_distance([f for f, _ in faults], area.master)

    ridges = fractal_noise(rngs["ridges"], shape, [160, 80, 40, 20, 10], ridged=True)
    rolling = fractal_noise(rngs["plains"], shape, [300, 150, 75])
    detail = smooth_noise(rngs["detail"], shape, 4)
    z = 180 + 40 * rolling + 30 * towards_ne + mountains * (120 + 1100 * ridges ** 1.3 + 3 * detail)
    width = 300 + 500 * mountains
    z -= (20 + 260 * mountains) * np.clip(1 - river_distance / width, 0, 1) ** 1.5
    z -= 50 * mountains * np.clip(1 - fault_distance / 250, 0, 1)
    lake = _lake(rngs["lake"], area, mountains)
    z[lake] = np.percentile(z[lake], 10) - 2
    return Terrain(z, mountains, river_distance, lake, faults)


def dem_nodata_mask(area: StudyArea, terrain: Terrain) -> np.ndarray:
    """Nodata cells of the DEM: the lake, and a strip missing from the survey (DEM grid)."""
    mask = area.dem_window(terrain.lake).copy()
    row = int(0.62 * area.size)
    mask[row:row + max(2, area.size // 128), : int(0.35 * area.size)] = True
    return mask


def make_faults(rng: np.random.Generator, area: StudyArea) -> list[tuple[LineString, str]]:
    """Two major faults across the area and minor faults in three strike families."""
    xmin, ymin, xmax, ymax = area.dem.bounds
    extent = xmax - xmin
    faults = []
    for azimuth in FAULT_AZIMUTHS_DEG[:2]:
        centre = (xmin + extent * rng.uniform(0.3, 0.7), ymin + extent * rng.uniform(0.3, 0.7))
        faults.append((_trace(rng, centre, azimuth + rng.uniform(-8, 8), 1.6 * extent, 400.0, 2.0), "major"))
    for _ in range(max(2, round(7 * area.area_factor))):
        centre = (rng.uniform(xmin - 2000, xmax + 2000), rng.uniform(ymin - 2000, ymax + 2000))
        azimuth = rng.choice(FAULT_AZIMUTHS_DEG) + rng.normal(0, 12)
        length = rng.uniform(0.15, 0.45) * extent
        faults.append((_trace(rng, centre, azimuth, length, 250.0, 3.0), "minor"))
    return faults


def make_rivers(rng: np.random.Generator, area: StudyArea) -> list[LineString]:
    """Main rivers rising in the north-east and flowing south-west, each with two tributaries."""
    xmin, ymin, xmax, ymax = area.dem.bounds
    extent = xmax - xmin
    rivers = []
    count = max(1, round(3 * area.size / 1024))
    across = np.radians(RIVER_AZIMUTH_DEG + 90)  # sources spread across the flow direction
    for k in range(count):
        shift = (k - (count - 1) / 2) * extent / count * 1.1 + rng.normal(0, 0.05 * extent)
        source = (xmax - 0.15 * extent + shift * np.sin(across), ymax - 0.15 * extent + shift * np.cos(across))
        main = _trace(rng, source, RIVER_AZIMUTH_DEG + rng.normal(0, 6), 1.4 * extent, 200.0, 9.0, start_at_end=True)
        rivers.append(main)
        for _ in range(2):
            junction = main.interpolate(rng.uniform(0.2, 0.7), normalized=True)
            upstream = RIVER_AZIMUTH_DEG - 180 + rng.choice([-1, 1]) * rng.uniform(30, 70)
            length = rng.uniform(0.2, 0.4) * extent
            rivers.append(_trace(rng, (junction.x, junction.y), upstream, length, 200.0, 9.0, start_at_end=True))
    return rivers


def line_distance(lines: list[LineString], grid: Grid) -> np.ndarray:
    """Distance in metres from each cell centre of ``grid`` to the nearest cell a line touches."""
    touched = rasterize(((line, 1) for line in lines), out_shape=grid.shape, transform=grid.transform,
                        fill=0, all_touched=True, dtype="uint8")
    if not touched.any():
        return np.full(grid.shape, np.inf)
    return distance_transform_edt(touched == 0, sampling=grid.res[::-1])


def _trace(rng: np.random.Generator, start: tuple[float, float], azimuth_deg: float, length: float,
           step: float, wiggle_deg: float, start_at_end: bool = False) -> LineString:
    """A wavy line of ``length`` metres whose heading wanders round ``azimuth_deg``.

    The line is centred on ``start`` unless ``start_at_end``, when it begins there.
    """
    n = max(2, int(length / step) + 1)
    deviation = np.zeros(n - 1)
    for i in range(1, n - 1):  # mean-reverting wander keeps the overall strike
        deviation[i] = 0.85 * deviation[i - 1] + rng.normal(0, wiggle_deg)
    heading = np.radians(azimuth_deg + deviation)
    steps = np.stack([np.sin(heading), np.cos(heading)], 1) * step
    points = np.vstack([[0.0, 0.0], np.cumsum(steps, 0)])
    if not start_at_end:
        points -= points[-1] / 2
    return LineString(points + np.asarray(start))


def _lake(rng: np.random.Generator, area: StudyArea, mountains: np.ndarray) -> np.ndarray:
    """An elliptical lake on the plains, inside the DEM's inner 60 %."""
    lo, hi = area.offset + int(0.2 * area.size), area.offset + int(0.8 * area.size)
    inner = mountains[lo:hi, lo:hi]
    rows, cols = np.nonzero(inner <= max(0.15, inner.min()))
    pick = rng.integers(len(rows))
    r0, c0 = rows[pick] + lo, cols[pick] + lo
    angle = rng.uniform(0, np.pi)
    rr, cc = np.ogrid[0:mountains.shape[0], 0:mountains.shape[1]]
    dy, dx = (rr - r0) * area.dem.res[1], (cc - c0) * area.dem.res[0]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return (u / LAKE_AXES_M[0]) ** 2 + (v / LAKE_AXES_M[1]) ** 2 <= 1


def _centre(grid: Grid) -> tuple[float, float]:
    xmin, ymin, xmax, ymax = grid.bounds
    return (xmin + xmax) / 2, (ymin + ymax) / 2
