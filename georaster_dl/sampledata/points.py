"""Point data sets drawn from the hidden truth: deposits, landform labels, assays, epicentres.

Points lie inside the cell they were drawn for (cell centre jittered by at most 0.4 of a
cell), so reading them back onto the DEM grid finds that same cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rasterio.warp import transform as transform_points
from shapely.geometry import LineString

from georaster_dl.grid import Grid
from georaster_dl.sampledata.rules import LANDFORM_CLASSES

N_DEPOSITS = 200
N_LANDFORM_PER_CLASS = 100
N_ASSAYS = 400
N_EPICENTRES = 400
ASSAY_LOG_SD = 0.25
EPICENTRE_ON_FAULT = 0.85      # share of events on a fault; the rest are scattered
EPICENTRE_FAULT_SD_M = 250.0
EPICENTRE_MIN_MAG = 2.5
EPICENTRE_B_VALUE = 0.9        # Gutenberg-Richter
DEPOSIT_STATUS = (("occurrence", 0.6), ("prospect", 0.3), ("mine", 0.1))


def draw_deposits(rng: np.random.Generator, grid: Grid, probability: np.ndarray, count: int):
    """``count`` deposits in distinct cells, drawn with probability proportional to ``probability``.

    Returned in EPSG:4326, with ``name``, ``status`` and ``commodity`` fields.
    """
    import geopandas as gpd

    flat = np.nan_to_num(probability.ravel(), nan=0.0)
    # Weighted sampling without replacement (Efraimidis & Spirakis): the largest u ** (1 / w).
    keys = np.full(flat.shape, -np.inf)
    positive = flat > 0
    keys[positive] = np.log(rng.random(int(positive.sum()))) / flat[positive]
    cells = np.sort(np.argpartition(keys, -count)[-count:])
    xs, ys = jittered_xy(rng, grid, *np.divmod(cells, grid.width))
    lon, lat = transform_points(grid.crs, "EPSG:4326", xs, ys)
    names, weights = zip(*DEPOSIT_STATUS)
    frame = pd.DataFrame({"name": [f"Deposit {i + 1:03d}" for i in range(count)],
                          "status": rng.choice(names, size=count, p=weights),
                          "commodity": "Cu-Au"})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def draw_landform_points(rng: np.random.Generator, grid: Grid, classes: np.ndarray, per_class: int):
    """``per_class`` labelled points in random cells of each landform class (grid CRS)."""
    import geopandas as gpd

    rows, cols, codes = [], [], []
    for code in LANDFORM_CLASSES:
        cells = np.flatnonzero(classes.ravel() == code)
        pick = np.sort(rng.choice(cells, size=min(per_class, len(cells)), replace=False))
        rows.append(pick // grid.width)
        cols.append(pick % grid.width)
        codes.append(np.full(len(pick), code))
    xs, ys = jittered_xy(rng, grid, np.concatenate(rows), np.concatenate(cols))
    codes = np.concatenate(codes)
    frame = pd.DataFrame({"landform": [LANDFORM_CLASSES[c] for c in codes], "code": codes.astype(np.int32)})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xs, ys), crs=grid.crs)


def draw_assays(rng: np.random.Generator, grid: Grid, median_cu: np.ndarray, count: int):
    """Soil samples at random valid cells; ``cu_ppm`` is log-normal about ``median_cu``."""
    import geopandas as gpd

    cells = np.sort(rng.choice(np.flatnonzero(np.isfinite(median_cu.ravel())), size=count, replace=False))
    xs, ys = jittered_xy(rng, grid, *np.divmod(cells, grid.width))
    cu = median_cu.ravel()[cells] * np.exp(rng.normal(0, ASSAY_LOG_SD, count))
    frame = pd.DataFrame({"sample_id": [f"S{i + 1:04d}" for i in range(count)], "cu_ppm": np.round(cu, 1)})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xs, ys), crs=grid.crs)


def draw_epicentres(rng: np.random.Generator, grid: Grid, faults: list[LineString], count: int,
                    margin_m: float = 5_000.0) -> pd.DataFrame:
    """An earthquake catalogue (lon, lat, mag, depth) clustered along ``faults``; some fall off the grid."""
    lengths = np.array([f.length for f in faults])
    on_fault = rng.random(count) < EPICENTRE_ON_FAULT
    xmin, ymin, xmax, ymax = grid.bounds
    xs = rng.uniform(xmin - margin_m, xmax + margin_m, count)
    ys = rng.uniform(ymin - margin_m, ymax + margin_m, count)
    which = rng.choice(len(faults), size=count, p=lengths / lengths.sum())
    along = rng.random(count)
    offset = rng.normal(0, EPICENTRE_FAULT_SD_M, (count, 2))
    for i in np.flatnonzero(on_fault):
        p = faults[which[i]].interpolate(along[i], normalized=True)
        xs[i], ys[i] = p.x + offset[i, 0], p.y + offset[i, 1]
    lon, lat = transform_points(grid.crs, "EPSG:4326", xs, ys)
    mag = EPICENTRE_MIN_MAG + rng.exponential(1 / (EPICENTRE_B_VALUE * np.log(10)), count)
    depth = np.clip(rng.normal(9, 4, count), 1, 25)
    return pd.DataFrame({"event_id": [f"EQ{i + 1:04d}" for i in range(count)],
                         "lon": np.round(lon, 5), "lat": np.round(lat, 5),
                         "mag": np.round(mag, 1), "depth": np.round(depth, 1)})


def jittered_xy(rng: np.random.Generator, grid: Grid, rows: np.ndarray,
                cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres moved at random by up to 0.4 of a cell in x and y."""
    xs, ys = grid.xy(rows, cols)
    jitter = rng.uniform(-0.4, 0.4, (2, len(xs)))
    return xs + jitter[0] * grid.res[0], ys + jitter[1] * grid.res[1]
