"""The sample data generator: deterministic files on their documented grids, with hidden rules
that the labels follow and that the stack's features can express."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.windows import Window
from scipy.stats import kurtosis, spearmanr
from sklearn.metrics import roc_auc_score

from georaster_dl.cli.sample_data import command
from georaster_dl.errors import UserInputError
from georaster_dl.features import registered
from georaster_dl.sampledata import SPEC_YAML, write_sample_data
from georaster_dl.sampledata.rules import CLASS_NODATA, LANDFORM_CLASSES, landform_rule
from georaster_dl.spec import FeatureRef, load_spec
from georaster_dl.stack import Stack

REPO = Path(__file__).resolve().parents[1]
PRODUCTS = {"dem", "magnetics", "radiometrics", "geology", "geology_units", "faults", "spec", "truth_landform",
            "truth_prospectivity", "truth_cu", "deposits", "landforms", "assays", "epicentres"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[dict[str, Path], float]:
    """The default study area (1024 x 1024 cells, seed 0) and the seconds it took."""
    start = time.perf_counter()
    paths = write_sample_data(tmp_path_factory.mktemp("sample"))
    return paths, time.perf_counter() - start


@pytest.fixture(scope="module")
def paths(sample) -> dict[str, Path]:
    return sample[0]


def _read(path: Path) -> np.ma.MaskedArray:
    with rasterio.open(path) as ds:
        return ds.read(1, masked=True)


def _cells(points: gpd.GeoDataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(path) as ds:
        points = points.to_crs(ds.crs)
        return rasterio.transform.rowcol(ds.transform, points.geometry.x, points.geometry.y)


def test_default_area_is_written_quickly_with_every_product(sample):
    paths, seconds = sample
    assert set(paths) == PRODUCTS
    assert all(p.is_file() for p in paths.values())
    # 2.7 s measured on an idle 2-core machine; the budget is 10 s, with room for a shared machine.
    assert seconds < 20


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = write_sample_data(tmp_path / "a", size=128, seed=3)
    second = write_sample_data(tmp_path / "b", size=128, seed=3)
    other = write_sample_data(tmp_path / "c", size=128, seed=4)
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    assert first["dem"].read_bytes() != other["dem"].read_bytes()


def test_size_below_the_minimum_is_refused(tmp_path):
    with pytest.raises(UserInputError, match="at least 128"):
        write_sample_data(tmp_path, size=64)


def test_dem_is_int16_utm_with_nodata_holes(paths):
    with rasterio.open(paths["dem"]) as ds:
        assert (ds.crs.to_epsg(), ds.res, ds.shape) == (32633, (30.0, 30.0), (1024, 1024))
        assert (ds.dtypes[0], ds.nodata) == ("int16", -32768)
        assert ds.block_shapes[0] == (256, 256) and ds.compression is not None
        dem = ds.read(1, masked=True)
    assert 1000 < dem.mask.sum() < 20_000
    assert dem.max() - dem.min() > 800


def test_survey_rasters_lie_on_their_own_grids(paths):
    with rasterio.open(paths["magnetics"]) as ds:
        assert (ds.crs.to_epsg(), ds.res, ds.nodata, ds.dtypes[0]) == (3035, (100.0, 100.0), -99999, "float32")
        mag = ds.read(1, masked=True)
    assert mag.mask.any() and kurtosis(mag.compressed()) > 5  # heavy tails
    with rasterio.open(paths["radiometrics"]) as ds:
        assert (ds.crs.to_epsg(), ds.res, ds.dtypes[0]) == (32633, (60.0, 60.0), "float32")
        assert ds.transform.c % 30 != 0 and ds.transform.f % 30 != 0  # origin off the DEM's cell edges
        potassium = ds.read(1, masked=True).compressed()
    assert abs(pd.Series(np.log(potassium)).skew()) < abs(pd.Series(potassium).skew())  # log-normal-ish
    with rasterio.open(paths["geology"]) as ds:
        assert (ds.res, ds.dtypes[0], ds.nodata) == ((50.0, 50.0), "uint8", 255)
        assert ds.tags()["UNIT_30"] == "Metabasalt" and ds.colormap(1)[30][:3] == (46, 139, 87)
        geology = ds.read(1, masked=True)
    assert set(np.unique(geology.compressed())) == {10, 20, 30, 40, 50, 60}
    units = pd.read_csv(paths["geology_units"])
    assert list(units.code) == [10, 20, 30, 40, 50, 60]


def test_committed_spec_is_the_generated_one():
    assert (REPO / "sample_data" / "spec.yaml").read_text(encoding="utf-8") == SPEC_YAML
    spec = load_spec(REPO / "sample_data" / "spec.yaml")
    assert spec.grid.reference == "dem" and spec.inputs["geology"].kind == "categorical"
    assert [str(f) for f in spec.features] == ["dem", "dem.slope", "dem.tpi(radius=5)", "mag", "radiometrics",
                                               "geology.onehot", "faults.distance"]


@pytest.mark.skipif(not {"slope", "tpi"} <= set(registered()), reason="terrain features not registered yet")
def test_truth_rasters_cover_exactly_the_stack_valid_cells_and_landforms_follow_the_rule(paths):
    # Every feature of spec.yaml but faults.distance, which is never nodata (and slow to compute exactly).
    spec = load_spec(paths["spec"])
    spec = spec.replace_features([f for f in spec.features if f.input != "faults"])
    with Stack(spec) as stack:
        data, valid = stack.read_window(Window(0, 0, 1024, 1024))
        bands = stack.band_names
    truth = _read(paths["truth_landform"])
    assert np.array_equal(~truth.mask, valid)
    for name in ("truth_prospectivity", "truth_cu"):
        assert np.array_equal(~_read(paths[name]).mask, valid)
    slope, tpi = (data[bands.index(name)].astype(float) for name in ("dem.slope", "dem.tpi(radius=5)"))
    rule = landform_rule(slope, tpi)
    assert np.array_equal(rule, truth.filled(CLASS_NODATA))


def test_landform_points_sit_in_cells_of_their_class(paths):
    points = gpd.read_file(paths["landforms"])
    assert set(points.landform) == set(LANDFORM_CLASSES.values())
    assert points.landform.value_counts().min() == 100
    rows, cols = _cells(points, paths["truth_landform"])
    truth = _read(paths["truth_landform"])
    assert np.array_equal(truth.data[rows, cols], points.code.to_numpy())


def test_deposits_are_drawn_from_the_hidden_prospectivity(paths):
    deposits = gpd.read_file(paths["deposits"])
    assert deposits.crs.to_epsg() == 4326 and len(deposits) == 200
    rows, cols = _cells(deposits, paths["truth_prospectivity"])
    assert len(set(zip(rows, cols))) == len(deposits)
    truth = _read(paths["truth_prospectivity"])
    at_deposits = truth[rows, cols]
    assert not np.ma.is_masked(at_deposits)
    cells = truth.compressed()
    auc = roc_auc_score(np.r_[np.ones(len(at_deposits)), np.zeros(len(cells))], np.r_[at_deposits.data, cells])
    assert auc > 0.8


def test_assays_follow_the_copper_rule(paths):
    assays = gpd.read_file(paths["assays"])
    assert len(assays) == 400 and (assays.cu_ppm > 0).all()
    rows, cols = _cells(assays, paths["truth_cu"])
    truth = _read(paths["truth_cu"])
    assert np.corrcoef(np.log(assays.cu_ppm), np.log(truth[rows, cols]))[0, 1] > 0.8


def test_epicentres_cluster_on_faults_and_some_fall_outside_the_grid(paths):
    catalogue = pd.read_csv(paths["epicentres"])
    assert list(catalogue.columns) == ["event_id", "lon", "lat", "mag", "depth"]
    assert catalogue.mag.min() >= 2.5 and (catalogue.mag >= 4).sum() >= 5
    points = gpd.GeoSeries(gpd.points_from_xy(catalogue.lon, catalogue.lat), crs=4326).to_crs(32633)
    faults = gpd.read_file(paths["faults"])
    near = points.distance(shapely.union_all(faults.geometry.values)) < 1000
    assert near.mean() > 0.75
    with rasterio.open(paths["dem"]) as ds:
        left, bottom, right, top = ds.bounds
    outside = (points.x < left) | (points.x > right) | (points.y < bottom) | (points.y > top)
    assert 0 < outside.sum() < len(points) / 2


def test_truth_prospectivity_ranks_like_its_documented_formula(paths):
    # The rule re-evaluated from the files, with the stack's exact fault distances, over a
    # part of the area (exact distances to lines are slow).
    features = [FeatureRef.parse(f) for f in ("faults.distance", "geology", "mag")]
    spec = load_spec(paths["spec"]).replace_features(features)
    window = Window(384, 384, 256, 256)
    with Stack(spec) as stack:
        (distance, geology, mag), valid = stack.read_window(window)
    logit = -10 + 3 * np.exp(-distance / 500) + 2 * (geology == 30) + 2 / (1 + np.exp(-(mag - 250) / 60))
    truth = _read(paths["truth_prospectivity"])[window.toslices()]
    keep = ~truth.mask
    assert spearmanr(logit[keep], truth.data[keep]).statistic > 0.99


def test_command_writes_the_files(tmp_path):
    result = CliRunner().invoke(command, [str(tmp_path / "area"), "--size", "128", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 14 files" in result.output
    assert (tmp_path / "area" / "dem.tif").is_file()
