"""Deterministic sample data: a small, realistic study area with hidden rules to recover.

``write_sample_data(folder)`` (or ``georaster-dl sample-data FOLDER``) writes,
for a seed, always the same files (bit for bit):

======================== ==============================================================
dem.tif                  Int16 elevation (m), 30 m cells, EPSG:32633, nodata -32768
                         over a lake and a missing survey strip
magnetics.tif            Float32 magnetic anomaly (nT), 100 m, EPSG:3035, heavy tails,
                         nodata -99999 outside the flown area
radiometrics.tif         Float32 potassium (%), 60 m, EPSG:32633, origin shifted by a
                         fraction of a cell, log-normal, nodata -9999
geology.tif              Byte geology units 10..60 (nodata 255 over the lake), 50 m;
                         names in geology_units.csv and the file's tags
faults.gpkg              fault traces (LineString, EPSG:32633): ``name``, ``kind``
deposits.gpkg            known deposits (Point, EPSG:4326): ``name``, ``status``
landforms.gpkg           landform training points (EPSG:32633): ``landform``, ``code``
assays.gpkg              soil samples (EPSG:32633): ``sample_id``, ``cu_ppm``
epicentres.csv           earthquake catalogue: event_id, lon, lat, mag, depth (WGS84)
truth_*.tif              the hidden truth on the DEM grid (prospectivity, landform, cu)
spec.yaml                the StackSpec of these inputs
======================== ==============================================================

Hidden rules (see :mod:`georaster_dl.sampledata.rules`), evaluated on the features as
the stack reads them on the DEM grid (mag and potassium bilinear, geology nearest); the
distance to faults is measured to the nearest cell a fault crosses, within about half a
cell (15 m) of the exact distance that ``faults.distance`` computes:

* **landform** (truth_landform.tif, landforms.gpkg): with slope (Horn, degrees) and
  TPI (elevation minus the mean of the cells within 5 cells, centre excluded, m):
  TPI <= -4 valley floor; TPI >= 4 ridge; else slope <= 3 plain; else TPI <= 0 lower
  slope; else upper slope.
* **prospectivity** (truth_prospectivity.tif, deposits.gpkg):
  ``logit p = -10 + 3 exp(-d_fault / 500 m) + 2 [geology == 30] + 2 sigmoid((mag - 250) / 60)``;
  200 deposits are drawn in distinct cells with probability proportional to ``p``.
* **copper** (truth_cu.tif, assays.gpkg): ``ln cu_ppm = 2.3 + 1.2 tanh(mag / 300) + 0.5 K%
  + unit effect (10: 0, 20: -0.2, 30: +0.8, 40: -0.4, 50: +0.2, 60: -0.5) + N(0, 0.25)``;
  truth_cu.tif holds the median (no noise term).
* **epicentres**: 85 % within ~250 m of a fault (chosen by length), 15 % scattered up to
  5 km beyond the DEM; magnitudes Gutenberg-Richter from 2.5 with b = 0.9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.warp import Resampling
from rasterio.windows import Window

from georaster_dl.errors import UserInputError
from georaster_dl.sampledata import points, rules
from georaster_dl.sampledata.files import resample, write_layer, write_raster
from georaster_dl.sampledata.geophysics import GEOLOGY_NODATA, make_geology, make_magnetics, make_potassium
from georaster_dl.sampledata.layout import StudyArea
from georaster_dl.sampledata.terrain import DEM_NODATA, dem_nodata_mask, line_distance, make_terrain

MAG_NODATA = -99999.0
RAD_NODATA = -9999.0
TRUTH_NODATA = -9999.0
MIN_SIZE = 128
#: Independent random streams, one per component, so changing one leaves the others alone.
STREAMS = ("mountains", "faults", "rivers", "ridges", "plains", "detail", "lake", "geology", "magnetics",
           "potassium", "deposits", "landforms", "assays", "epicentres")

SPEC_YAML = """\
# StackSpec of the generated sample data (see README.md in this folder for the hidden rules).
grid:
  reference: dem
inputs:
  dem:          {path: dem.tif}
  mag:          {path: magnetics.tif, resampling: bilinear}
  radiometrics: {path: radiometrics.tif, resampling: bilinear}
  geology:      {path: geology.tif, kind: categorical}
  faults:       {path: faults.gpkg, kind: vector}
features:
  - dem
  - dem.slope
  - dem.tpi(radius=5)
  - mag
  - radiometrics
  - geology.onehot
  - faults.distance
"""

# The survey rasters the truth is computed from, read through the stack exactly as a model reads them.
_TRUTH_FEATURES = ["mag", "radiometrics", "geology"]


def write_sample_data(folder: str | Path, size: int = 1024, seed: int = 0) -> dict[str, Path]:
    """Write the sample study area into ``folder`` (created if needed; files replaced).

    Parameters
    ----------
    folder : str or Path
        Output folder.
    size : int
        DEM width and height in cells (30 m); point and fault counts scale with the area.
    seed : int
        Seed of every random draw; a seed always gives the same files.

    Returns
    -------
    dict of str to Path
        File of each product: ``dem``, ``magnetics``, ``radiometrics``, ``geology``,
        ``geology_units``, ``faults``, ``spec``, ``truth_landform``, ``truth_prospectivity``,
        ``truth_cu``, ``deposits``, ``landforms``, ``assays``, ``epicentres``.

    Examples
    --------
    >>> paths = write_sample_data("sample_data", size=256, seed=1)  # doctest: +SKIP
    >>> sorted(paths)[:3]                                            # doctest: +SKIP
    ['assays', 'deposits', 'dem']
    """
    if not isinstance(size, int) or size < MIN_SIZE:
        raise UserInputError(f"sample data size must be a whole number of at least {MIN_SIZE} cells, got {size!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    area = StudyArea.build(size)
    rng = dict(zip(STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STREAMS)))))

    terrain = make_terrain(rng, area)
    bedrock, surface = make_geology(rng["geology"], area, terrain)
    dem = np.round(area.dem_window(terrain.elevation)).astype(np.int16)
    dem[dem_nodata_mask(area, terrain)] = DEM_NODATA
    paths = _write_inputs(folder, area, terrain, dem, surface,
                          make_magnetics(rng["magnetics"], area, bedrock),
                          make_potassium(rng["potassium"], area, surface, terrain.lake))
    truth = _truth(folder, area, terrain, np.where(dem == DEM_NODATA, np.nan, dem))
    paths.update(_write_truth(folder, area.dem, truth))
    paths.update(_write_points(folder, area, terrain, truth, rng))
    return paths


def _write_inputs(folder: Path, area: StudyArea, terrain, dem: np.ndarray, surface: np.ndarray,
                  mag: np.ndarray, potassium: np.ndarray) -> dict[str, Path]:
    import geopandas as gpd
    import pandas as pd

    paths = {"dem": write_raster(folder / "dem.tif", dem, area.dem, DEM_NODATA, description="elevation (m)")}
    grid = area.magnetic_grid()
    values = resample(mag, area.master, grid, Resampling.average, MAG_NODATA)
    values[~area.in_survey(grid)] = MAG_NODATA
    paths["magnetics"] = write_raster(folder / "magnetics.tif", values, grid, MAG_NODATA,
                                      description="total magnetic intensity anomaly (nT)")

    grid = area.radiometric_grid()
    values = resample(potassium, area.master, grid, Resampling.average, RAD_NODATA)
    paths["radiometrics"] = write_raster(folder / "radiometrics.tif", values, grid, RAD_NODATA,
                                         description="potassium (%)")

    grid = area.geology_grid()
    values = resample(surface, area.master, grid, Resampling.nearest, GEOLOGY_NODATA)
    units = rules.GEOLOGY_UNITS
    paths["geology"] = write_raster(folder / "geology.tif", values, grid, GEOLOGY_NODATA,
                                    description="geology unit", colormap=_colormap(units),
                                    tags={f"UNIT_{code}": name for code, (name, _) in units.items()})
    paths["geology_units"] = folder / "geology_units.csv"
    pd.DataFrame({"code": list(units), "name": [n for n, _ in units.values()],
                  "color": ["#%02x%02x%02x" % rgb for _, rgb in units.values()]}
                 ).to_csv(paths["geology_units"], index=False, lineterminator="\n")

    faults = gpd.GeoDataFrame({"name": [f"F{i + 1}" for i in range(len(terrain.faults))],
                               "kind": [kind for _, kind in terrain.faults]},
                              geometry=[line for line, _ in terrain.faults], crs=area.dem.crs)
    paths["faults"] = write_layer(folder / "faults.gpkg", faults, "faults")
    paths["spec"] = folder / "spec.yaml"
    paths["spec"].write_text(SPEC_YAML, encoding="utf-8")
    return paths


def _truth(folder: Path, area: StudyArea, terrain, dem: np.ndarray) -> dict[str, np.ndarray]:
    """The hidden rules on the DEM grid, from the survey rasters as the stack reads them."""
    from georaster_dl.spec import FeatureRef, load_spec
    from georaster_dl.stack import Stack

    spec = load_spec(folder / "spec.yaml").replace_features([FeatureRef.parse(f) for f in _TRUTH_FEATURES])
    with Stack(spec) as stack:
        data, _ = stack.read_window(Window(0, 0, area.size, area.size))
    mag, potassium, geology = data.astype(np.float64)
    fault_distance = area.dem_window(line_distance([line for line, _ in terrain.faults], area.master))
    truth = {"landform": rules.landform_rule(rules.horn_slope(dem, area.dem.res[0]), rules.tpi(dem)),
             "prospectivity": rules.prospectivity_rule(fault_distance, geology, mag),
             "copper": rules.copper_rule(mag, potassium, geology)}
    # One valid mask for every truth: the cells where every feature of spec.yaml is defined.
    invalid = ((truth["landform"] == rules.CLASS_NODATA) | ~np.isfinite(truth["prospectivity"])
               | ~np.isfinite(truth["copper"]))
    truth["landform"][invalid] = rules.CLASS_NODATA
    truth["prospectivity"][invalid] = np.nan
    truth["copper"][invalid] = np.nan
    return truth


def _write_truth(folder: Path, grid, truth: dict[str, np.ndarray]) -> dict[str, Path]:
    classes = {code: (name, _LANDFORM_COLOURS[code]) for code, name in rules.LANDFORM_CLASSES.items()}
    return {
        "truth_landform": write_raster(
            folder / "truth_landform.tif", truth["landform"], grid, rules.CLASS_NODATA,
            description="landform class (rule)", colormap=_colormap(classes),
            tags={f"CLASS_{code}": name for code, name in rules.LANDFORM_CLASSES.items()}),
        "truth_prospectivity": write_raster(
            folder / "truth_prospectivity.tif",
            np.nan_to_num(truth["prospectivity"], nan=TRUTH_NODATA).astype(np.float32), grid, TRUTH_NODATA, description="deposit probability per cell (rule)"),
        "truth_cu": write_raster(
            folder / "truth_cu.tif", np.nan_to_num(truth["copper"], nan=TRUTH_NODATA).astype(np.float32),
            grid, TRUTH_NODATA, description="median copper in soil (ppm, rule)"),
    }


def _write_points(folder: Path, area: StudyArea, terrain, truth: dict[str, np.ndarray], rng: dict) -> dict[str, Path]:
    grid, scale = area.dem, area.area_factor
    deposits = points.draw_deposits(rng["deposits"], grid, truth["prospectivity"],
                                    max(40, round(points.N_DEPOSITS * scale)))
    landforms = points.draw_landform_points(rng["landforms"], grid, truth["landform"],
                                            max(20, round(points.N_LANDFORM_PER_CLASS * scale)))
    assays = points.draw_assays(rng["assays"], grid, truth["copper"], max(50, round(points.N_ASSAYS * scale)))
    epicentres = points.draw_epicentres(rng["epicentres"], grid, [line for line, _ in terrain.faults],
                                        max(50, round(points.N_EPICENTRES * scale)))
    epicentres.to_csv(folder / "epicentres.csv", index=False, lineterminator="\n")
    return {"deposits": write_layer(folder / "deposits.gpkg", deposits, "deposits"),
            "landforms": write_layer(folder / "landforms.gpkg", landforms, "landforms"),
            "assays": write_layer(folder / "assays.gpkg", assays, "assays"),
            "epicentres": folder / "epicentres.csv"}


def _colormap(classes: dict[int, tuple[str, tuple[int, int, int]]]) -> dict[int, tuple[int, int, int, int]]:
    """GeoTIFF colour table: each class's colour, nodata (255) transparent."""
    return {code: (*rgb, 255) for code, (_, rgb) in classes.items()} | {255: (0, 0, 0, 0)}


_LANDFORM_COLOURS = {1: (33, 102, 172), 2: (146, 197, 222), 3: (244, 165, 130), 4: (178, 24, 43), 5: (199, 233, 192)}
