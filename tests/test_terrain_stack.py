"""Terrain features through the Stack: geographic DEMs, z-factor, first-pass statistics,
class features, and the bad inputs they refuse with one clear message."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window
from terrain_support import SHARED_DEM, compute, grass, read, synthetic_dem, warp_to_utm, write_dem

from georaster_dl.errors import FeatureError, InputFileError
from georaster_dl.features import geomorphons, landform
from georaster_dl.stack import Stack


def _spec(path, *features, edges="nodata", **dem_options):
    return {"grid": {"reference": "dem"}, "inputs": {"dem": {"path": str(path), **dem_options}},
            "features": list(features), "edges": edges}


def _read_all(spec) -> tuple[np.ndarray, Stack]:
    with Stack(spec) as stack:
        data, _ = stack.read_window(Window(0, 0, stack.grid.width, stack.grid.height))
    return data, stack


@pytest.fixture(scope="module")
def dem_path(tmp_path_factory):
    return write_dem(tmp_path_factory.mktemp("dem") / "dem.tif", synthetic_dem(150, 170, seed=11))


@pytest.fixture(scope="module")
def shared_dem():
    if not SHARED_DEM.exists():
        pytest.skip(f"shared data not found at {SHARED_DEM} (../shared/data is absent)")
    return SHARED_DEM


def test_geographic_dem_slope_and_curvature_equal_grass_latlon_results(shared_dem, tmp_path):
    # GRASS measures geodesic distances on the ellipsoid in a lat-lon location.
    ref = grass(shared_dem, tmp_path, [["r.slope.aspect", "elevation=dem", "slope=sl", "pcurvature=pc"]], ["sl", "pc"])
    data, _ = _read_all(_spec(shared_dem, "dem.slope"))
    curvature, _ = _read_all(_spec(shared_dem, "dem.profile_curvature"))
    np.testing.assert_allclose(data[0], ref["sl"], atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(curvature[0], ref["pc"], rtol=1e-4, atol=1e-9, equal_nan=True)


def test_median_slope_of_geographic_dem_is_within_3_percent_of_the_dem_in_utm(shared_dem, tmp_path):
    # Same cell size in metres (3" = 78 x 92 m here) and nearest neighbour: resampling itself changes
    # gentle slopes on this integer DEM by several percent (bilinear at 90 m: -5.6%).
    utm = warp_to_utm(shared_dem, tmp_path / "utm.tif", resolution=(78, 92), resampling="near")
    geographic, _ = _read_all(_spec(shared_dem, "dem.slope"))
    projected, _ = _read_all(_spec(utm, "dem.slope"))
    median_geo, median_utm = np.nanmedian(geographic), np.nanmedian(projected)
    assert abs(median_geo - median_utm) <= 0.03 * median_utm


def test_z_factor_scales_elevations_before_the_gradient(dem_path, tmp_path):
    values, grid = read(dem_path)
    feet = write_dem(tmp_path / "feet.tif", values / 0.3048)
    for name, params in (("slope", {}), ("tpi", {"radius": 3})):
        ref = f"dem.{name}" + "".join(f"({k}={v})" for k, v in params.items())
        data, _ = _read_all(_spec(feet, ref, z_factor=0.3048))
        np.testing.assert_allclose(data[0], compute(name, values, grid, **params), atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("name", ["tpi_std", "landform_weiss"])
def test_first_pass_pins_global_tpi_mean_and_sd_computed_window_by_window(name, tmp_path):
    # Wider than one 1024-cell window, so the statistics are merged across windows.
    values = synthetic_dem(40, 1300, seed=2)
    path = write_dem(tmp_path / "wide.tif", values)
    grid = read(path)[1]
    with Stack(_spec(path, f"dem.{name}(radius=4)")) as stack:
        params = stack.features[0].params
        assert f"mean={params['mean']!r}" in str(stack.spec.features[0])
        data, _ = stack.read_window(Window(0, 0, grid.width, grid.height))
    tpi = compute("tpi", values, grid, radius=4).astype(np.float64)
    assert params["mean"] == pytest.approx(np.nanmean(tpi), rel=1e-6, abs=1e-6)
    assert params["sd"] == pytest.approx(np.nanstd(tpi), rel=1e-6)
    expected = compute(name, values, grid, radius=4, mean=params["mean"], sd=params["sd"])
    np.testing.assert_array_equal(data[0], expected)


def test_weiss_classes_follow_standardised_tpi_and_slope():
    s = np.array([2.0, 0.7, 0.0, 0.0, -0.7, -2.0, np.nan, 0.0])
    slope = np.array([1.0, 1.0, 10.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(landform.classify(s, slope, 5.0), [1, 2, 3, 4, 5, 6, np.nan, np.nan])


def test_geomorphons_one_hot_bands_are_named_after_grass_forms(dem_path):
    data, stack = _read_all(_spec(dem_path, "dem.geomorphons(search=5)", "dem.geomorphons(search=5,onehot=true)"))
    assert stack.band_names[1:] == [f"dem.geomorphons(onehot=true,search=5):{n}" for n in geomorphons.CLASSES.values()]
    assert stack.band_kinds == ["class"] + ["onehot"] * 10
    valid = ~np.isnan(data[0])
    np.testing.assert_array_equal(np.argmax(data[1:, valid], axis=0) + 1, data[0, valid])


def test_extrapolate_edges_give_values_on_the_outer_frame(dem_path):
    nodata_edges, _ = _read_all(_spec(dem_path, "dem.slope"))
    extrapolated, _ = _read_all(_spec(dem_path, "dem.slope", edges="extrapolate"))
    assert np.isnan(nodata_edges[0, 0, :]).all()
    assert not np.isnan(extrapolated[0, 0, :]).any()


@pytest.mark.parametrize("feature, message", [
    ("dem.slpoe", "unknown feature 'slpoe' (did you mean 'slope'?)"),
    ("dem.tpi(radus=3)", "unknown parameter 'radus' (did you mean 'radius'?)"),
    ("dem.slope(units=radians)", "must be one of 'degrees', 'percent'"),
    ("dem.tpi(radius=80)", "161 x 161-cell neighbourhood does not fit the 170 x 150-cell grid; "
                           "use a smaller radius (at most 74)"),
    ("dem.tpi(radius=5,shape=annulus)", "an annulus needs 1 <= inner < radius"),
    ("dem.tpi(radius=5,inner=2)", "inner=2 only applies to shape=annulus"),
    ("dem.geomorphons(search=4,skip=4)", "skip (4) must be smaller than search (4)"),
    ("dem.geomorphons(search=10,dist=12)", "dist (12) must lie between skip (0) and search (10)"),
])
def test_bad_feature_references_are_refused_with_a_hint(dem_path, feature, message):
    with pytest.raises(FeatureError) as err:
        Stack(_spec(dem_path, feature))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_dem_without_any_valid_cell_is_refused(tmp_path):
    path = write_dem(tmp_path / "empty.tif", np.full((20, 30), np.nan))
    with pytest.raises(InputFileError, match="has no valid cell on the grid"):
        Stack(_spec(path, "dem.slope"))


@pytest.mark.parametrize("shape", [(1, 40), (40, 1)])
def test_one_row_or_one_column_dem_is_refused_for_terrain_features(shape, tmp_path):
    path = write_dem(tmp_path / "line.tif", np.arange(40.0).reshape(shape))
    with pytest.raises(FeatureError, match="terrain features need a DEM of at least 3 x 3 cells"):
        Stack(_spec(path, "dem.slope"))


def test_slope_of_a_categorical_input_is_refused(tmp_path):
    path = tmp_path / "classes.tif"
    with rasterio.open(path, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(10, 0, 0, 0, -10, 100)) as ds:
        ds.write(np.arange(100, dtype=np.uint8).reshape(10, 10) % 4, 1)
    with pytest.raises(FeatureError, match="slope needs a continuous input, but 'dem' is categorical"):
        Stack(_spec(path, "dem.slope", kind="categorical"))
