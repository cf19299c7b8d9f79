"""Stack: inputs aligned on one grid, features read window by window, the lazy xarray view."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from affine import Affine
from conftest import ORIGIN, UTM33, read_tiled, write_raster
from rasterio.windows import Window
from shapely.geometry import Point, Polygon

from georaster_dl.errors import FeatureError, GridError, SpecError
from georaster_dl.features.registry import (FeatureDef, Param, code_positions, expand_onehot, onehot, register,
                                            registered)
from georaster_dl.grid import Grid
from georaster_dl.spec import load_spec
from georaster_dl.stack import Stack, open_stack

H, W = 60, 80


def _box_sum(values: np.ndarray, ctx, radius: int) -> np.ndarray:
    """Sum over a (2r+1)^2 box, NaN if any cell of the box is NaN: a feature with a halo."""
    r = radius
    rows, cols = values.shape[0] - 2 * r, values.shape[1] - 2 * r
    out = np.zeros((rows, cols))
    for dr in range(2 * r + 1):
        for dc in range(2 * r + 1):
            out += values[dr:dr + rows, dc:dc + cols]
    _seen.append((values.shape, ctx.outside is not None, len(ctx.cellsize_x), float(ctx.cellsize_y[0])))
    return out


_seen: list = []
if "test_box_sum" not in registered():  # registered for these tests only
    register(FeatureDef(name="test_box_sum", kernel=_box_sum, help="test only: box sum with a halo",
                        params=(Param("radius", int, 1, "box radius in cells", minimum=1),),
                        halo=lambda p: p["radius"]))


def box_sum_reference(values: np.ndarray, r: int) -> np.ndarray:
    """The box sum over a whole raster, NaN outside it."""
    padded = np.pad(values, r, constant_values=np.nan)
    return _box_sum(padded, type("Ctx", (), {"outside": None, "cellsize_x": [0], "cellsize_y": [0]})(), r)


@pytest.fixture
def study(tmp_path):
    """A DEM (Int16), magnetics (Float32, other grid), geology (Byte, categorical), faults and units (vectors)."""
    rng = np.random.default_rng(7)
    dem = (rng.normal(300, 40, (H, W))).astype("int16")
    dem[10:13, 20:24] = -32768
    write_raster(tmp_path / "dem.tif", dem, nodata=-32768)
    mag = rng.normal(0, 50, (40, 50)).astype("float32")
    mag[30:35, 5:9] = -99999
    write_raster(tmp_path / "mag.tif", mag, nodata=-99999, transform=Affine(50, 0, 499990.3, 0, -50, 4000020.7))
    geology = rng.choice(np.array([2, 5, 9], dtype="uint8"), (H, W))
    geology[0:4, 70:80] = 255
    write_raster(tmp_path / "geology.tif", geology, nodata=255)
    dist = (np.arange(H * W).reshape(H, W) * 3).astype("int32")
    write_raster(tmp_path / "dist.tif", dist, nodata=-1)
    gpd.GeoDataFrame(geometry=[Point(500300, 3999500), Point(501900, 3998700)], crs=UTM33).to_file(
        tmp_path / "deposits.gpkg")
    gpd.GeoDataFrame({"unit": ["shale", "granite"]},
                     geometry=[Polygon([(500000, 4000000), (501200, 4000000), (501200, 3998800)]),
                               Polygon([(501200, 3999000), (502400, 3999000), (502400, 3998200)])],
                     crs=UTM33).to_file(tmp_path / "units.gpkg")
    spec = {"grid": {"reference": "dem"},
            "inputs": {"dem": "dem.tif", "mag": {"path": "mag.tif"},
                       "geology": {"path": "geology.tif", "kind": "categorical"},
                       "dist": "dist.tif", "deposits": "deposits.gpkg",
                       "units": {"path": "units.gpkg", "attribute": "unit"}},
            "features": ["dem", "mag", "geology", "geology.onehot", "dist", "deposits.distance",
                         "dem.test_box_sum"]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path


def test_stack_names_and_kinds_one_band_per_feature(study):
    with Stack(study / "spec.yaml") as stack:
        assert stack.band_names == ["dem", "mag", "geology", "geology.onehot:2", "geology.onehot:5",
                                    "geology.onehot:9", "dist", "deposits.distance", "dem.test_box_sum"]
        assert stack.band_kinds == ["continuous", "continuous", "class", "onehot", "onehot", "onehot",
                                    "continuous", "continuous", "continuous"]
        assert stack.spec.inputs["geology"].categories == (2, 5, 9)
        assert (stack.grid.width, stack.grid.height, stack.grid.transform) == (W, H, ORIGIN)
        data, valid = stack.read_window(Window(0, 0, W, H))
    assert data.dtype == np.float32 and data.shape == (9, H, W) and valid.shape == (H, W)


def test_nodata_is_the_union_over_every_input_and_feature(study):
    with Stack(study / "spec.yaml") as stack:
        data, valid = stack.read_window(Window(0, 0, W, H))
        per_input = {name: stack.sources[name].read(Window(0, 0, W, H)) for name in ("dem", "mag", "geology")}
    dem_box = box_sum_reference(per_input["dem"], 1)
    expected = np.isfinite(per_input["dem"]) & np.isfinite(per_input["mag"]) & np.isfinite(per_input["geology"]) \
        & np.isfinite(dem_box)
    np.testing.assert_array_equal(valid, expected)
    assert np.isnan(data[:, ~valid]).all() and np.isfinite(data[:, valid]).all()
    assert not valid[10:13, 20:24].any() and not valid[0:4, 70:80].any()
    assert not valid[9, 19] and valid[20:30, 40:50].all()  # the DEM hole grows by the box halo
    assert not valid[0, :].any() and not valid[:, 0].any()  # box sum is nodata on the outer frame


def test_onehot_bands_are_zero_one_and_follow_the_codes(study):
    with Stack(study / "spec.yaml") as stack:
        data, valid = stack.read_window(Window(0, 0, W, H))
    codes, onehot = data[2], data[3:6]
    for i, code in enumerate((2, 5, 9)):
        np.testing.assert_array_equal(onehot[i][valid], (codes[valid] == code).astype(np.float32))
    assert (onehot[:, valid].sum(axis=0) == 1).all()


def test_vector_text_attribute_onehot_bands(study):
    spec = load_spec(study / "spec.yaml")
    spec = load_spec({**spec.to_dict(), "features": ["dem", "units.onehot"]})
    with Stack(spec) as stack:
        assert stack.band_names == ["dem", "units.onehot:granite", "units.onehot:shale"]
        data, valid = stack.read_window(Window(0, 0, W, H))
    assert data[1, 36, 73] == 1 and data[2, 36, 73] == 0    # inside the granite triangle
    assert data[1, 2, 20] == 0 and data[2, 2, 20] == 1      # inside the shale triangle
    assert not valid[55, 5]                                  # outside every unit: nodata


def test_halo_feature_at_every_edge_equals_whole_raster_reference(study):
    with Stack(study / "spec.yaml") as stack:
        dem = stack.sources["dem"].read(Window(0, 0, W, H))
        expected = box_sum_reference(dem, 1)
        _seen.clear()
        corner, valid = stack.read_window(Window(W - 20, H - 15, 20, 15))
        values_shape, had_outside, n_cellsize_rows, cellsize_y = _seen[-1]
    assert values_shape == (17, 22) and had_outside and n_cellsize_rows == 17 and cellsize_y == 30
    ref = expected[-15:, -20:]
    assert valid.sum() > 200 and np.isfinite(ref[valid]).all()
    np.testing.assert_allclose(corner[-1][valid], ref[valid], rtol=1e-6)
    # The grid's outer frame has no full 3 x 3 box: nodata, not a made-up value.
    assert np.isnan(corner[-1][-1, :]).all() and np.isnan(corner[-1][:, -1]).all()


def test_wider_halo_parameter_reads_a_wider_window(study):
    spec = load_spec(study / "spec.yaml")
    spec = load_spec({**spec.to_dict(), "features": ["dem.test_box_sum(radius=3)", "dem"]})
    with Stack(spec) as stack:
        assert stack.features[0].halo == 3
        dem = stack.sources["dem"].read(Window(0, 0, W, H))
        data, _ = stack.read_window(Window(0, 0, 25, 25))
    ref = box_sum_reference(dem, 3)[:25, :25]
    np.testing.assert_array_equal(np.isnan(data[0]), np.isnan(ref) | np.isnan(dem[:25, :25]))
    ok = np.isfinite(data[0])
    np.testing.assert_allclose(data[0][ok], ref[ok].astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("size", [(16, 16), (23, 37), (60, 80)])
def test_tiled_reads_equal_one_whole_read(study, size):
    with Stack(study / "spec.yaml") as stack:
        whole, _ = stack.read_window(Window(0, 0, W, H))
        tiled = read_tiled(lambda w: stack.read_window(w)[0], whole.shape, size)
    np.testing.assert_array_equal(tiled, whole)


def test_sample_cells_equal_window_values(study):
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, H, 50), rng.integers(0, W, 50)
    with Stack(study / "spec.yaml") as stack:
        whole, _ = stack.read_window(Window(0, 0, W, H))
        samples = stack.sample_cells(rows, cols)
        with pytest.raises(GridError, match="outside the grid"):
            stack.sample_cells(np.array([H]), np.array([0]))
    np.testing.assert_array_equal(samples, whole[:, rows, cols].T)


def test_grid_from_crs_resolution_and_bounds(study):
    spec = load_spec(study / "spec.yaml").to_dict()
    spec["grid"] = {"crs": "EPSG:32633", "resolution": 60, "bounds": [500300, 3998500, 501900, 3999700]}
    with Stack(spec) as stack:
        assert stack.grid == Grid.from_bounds("EPSG:32633", 60, (500300, 3998500, 501900, 3999700))
        data, _ = stack.read_window(Window(0, 0, stack.grid.width, stack.grid.height))
    assert data.shape == (9, 20, 27)


def test_grid_with_a_bad_crs_is_refused(study):
    spec = load_spec(study / "spec.yaml").to_dict()
    spec["grid"] = {"crs": "EPSG:0", "resolution": 60, "bounds": [0, 0, 600, 600]}
    with pytest.raises(GridError, match="grid.crs: 'EPSG:0' is not a CRS"):
        Stack(spec)


def test_unknown_feature_names_the_closest_one(study):
    spec = load_spec(study / "spec.yaml").to_dict()
    spec["features"] = ["dem.test_box_smu"]
    with pytest.raises(FeatureError, match="unknown feature 'test_box_smu' \\(did you mean 'test_box_sum'\\?\\)"):
        Stack(spec)


def test_feature_for_the_wrong_input_kind_is_refused(study):
    spec = load_spec(study / "spec.yaml").to_dict()
    spec["features"] = ["dem.onehot"]
    with pytest.raises(FeatureError, match="onehot needs a categorical or vector input, but 'dem' is continuous"):
        Stack(spec)


def test_inputs_no_feature_uses_are_not_opened(study):
    spec = load_spec(study / "spec.yaml").to_dict()
    spec["inputs"]["broken"] = {"path": str(study / "missing.tif")}
    with Stack(spec) as stack:
        assert "broken" not in stack.sources


def test_ascii_grid_with_crs_override_through_a_spec(tmp_path):
    write_raster(tmp_path / "dem.tif", np.ones((3, 4), "float32"))
    (tmp_path / "legacy.asc").write_text("ncols 4\nnrows 3\nxllcorner 500000\nyllcorner 3999910\ncellsize 30\n"
                                         "NODATA_value -9999\n1 2 3 4\n5 -9999 7 8\n9 10 11 12\n")
    (tmp_path / "spec.yaml").write_text('inputs:\n  dem: {path: dem.tif}\n'
                                        '  legacy: {path: legacy.asc, crs: "EPSG:32633", nodata: -9999}\n'
                                        'features: [dem, legacy]\n')
    with Stack(tmp_path / "spec.yaml") as stack:
        data, valid = stack.read_window(Window(0, 0, 4, 3))
    np.testing.assert_array_equal(data[1], [[1, 2, 3, 4], [5, np.nan, 7, 8], [9, 10, 11, 12]])
    assert valid.sum() == 11


def test_open_stack_is_lazy_dask_with_crs_and_transform(study):
    ds = open_stack(study / "spec.yaml", chunks=32)
    assert isinstance(ds, xr.Dataset)
    assert list(ds.data_vars) == ["dem", "mag", "geology", "geology.onehot:2", "geology.onehot:5",
                                  "geology.onehot:9", "dist", "deposits.distance", "dem.test_box_sum"]
    band = ds["dem.test_box_sum"]
    assert band.chunks == ((32, 28), (32, 32, 16))
    assert ds.attrs["transform"] == tuple(ORIGIN)[:6]
    assert rasterio.crs.CRS.from_wkt(ds.attrs["crs"]) == rasterio.crs.CRS.from_epsg(32633)
    assert ds["spatial_ref"].attrs["crs_wkt"] == ds.attrs["crs"]
    assert float(ds.x[0]) == 500015 and float(ds.y[0]) == 3999985
    with Stack(study / "spec.yaml") as stack:
        whole, _ = stack.read_window(Window(0, 0, W, H))
    computed = np.stack([ds[name].values for name in ds.data_vars])
    np.testing.assert_array_equal(computed, whole)


def test_cloncurry_reads_through_a_spec(cloncurry):
    spec = {"grid": {"reference": "breccia"},
            "inputs": {"breccia": str(cloncurry / "Dist2Breccia.tif"),
                       "faults": {"path": str(cloncurry / "FaultDensity.tif"), "nodata": "none"},
                       "strat": {"path": str(cloncurry / "StratNo.tif"), "kind": "categorical"},
                       "deposits": str(cloncurry / "IOCG_Deposits.shp")},
            "features": ["breccia", "faults", "strat", "deposits.distance"]}
    with Stack(spec) as stack:
        assert (stack.grid.width, stack.grid.height, stack.grid.crs.to_epsg()) == (1259, 2487, 7845)
        categories = stack.spec.inputs["strat"].categories
        assert len(categories) > 10 and all(isinstance(c, int) for c in categories)
        window = Window(512, 1024, 512, 512)
        data, valid = stack.read_window(window)
        frame = gpd.read_file(cloncurry / "IOCG_Deposits.shp")
    with rasterio.open(cloncurry / "Dist2Breccia.tif") as ds:
        raw = ds.read(1, window=window).astype(np.float32)
    np.testing.assert_array_equal(data[0][valid], raw[valid])
    assert set(np.unique(data[1][valid])) <= set(range(1, 11))
    assert set(np.unique(data[2][valid]).astype(int)) <= set(categories)
    assert valid.mean() > 0.5
    rows, cols = stack.grid.rowcol(frame.geometry.x.values, frame.geometry.y.values)
    inside = (rows >= 1024) & (rows < 1536) & (cols >= 512) & (cols < 1024)
    assert inside.any()
    assert (data[3][rows[inside] - 1024, cols[inside] - 512] <= 50 * np.sqrt(2) + 1e-6).all()


def test_cloncurry_fault_density_without_nodata_override_is_read_with_a_warning(cloncurry, capsys):
    spec = {"inputs": {"faults": str(cloncurry / "FaultDensity.tif")}, "features": ["faults"]}
    with Stack(spec) as stack:
        assert stack.band_names == ["faults"]
    assert "FaultDensity.tif declares nodata -1, which its uint8 band cannot hold" in capsys.readouterr().err


def test_open_stack_graph_runs_on_a_distributed_cluster(study):
    distributed = pytest.importorskip("distributed")
    spec = {"inputs": {"dem": str(study / "dem.tif"),
                       "geology": {"path": str(study / "geology.tif"), "kind": "categorical"}},
            "features": ["dem", "dem.slope", "dem.tpi(radius=3)", "geology.onehot"]}
    ds = open_stack(spec, chunks=32)
    assert all(ds[name].chunks for name in ds.data_vars)  # lazy: nothing computed yet
    local = np.stack([ds[name].values for name in ds.data_vars])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = ds.compute()  # the client is the default scheduler now: chunks run in the workers
        opened = client.run(lambda: __import__("georaster_dl.stack", fromlist=["x"])._process_stack.cache_info().misses)
    np.testing.assert_array_equal(np.stack([remote[name].values for name in ds.data_vars]), local)
    assert sum(opened.values()) >= 1 and all(n <= 1 for n in opened.values())  # each worker opened it at most once


def test_compact_one_hot_bands_expand_to_the_full_bands(study):
    spec = {"inputs": {"dem": str(study / "dem.tif"),
                       "geology": {"path": str(study / "geology.tif"), "kind": "categorical"},
                       "units": {"path": str(study / "units.gpkg"), "attribute": "unit"}},
            "features": ["dem", "geology.onehot", "dem.geomorphons(search=3, onehot=true)", "units.onehot",
                         "dem.slope"]}
    with Stack(spec) as stack:
        window = Window(0, 0, W, H)
        full, valid = stack.read_window(window)
        compact, compact_valid = stack.read_window(window, compact=True)
        layout = stack.compact_layout
    assert [None if c is None else len(c) for c in layout] == [None, 3, 10, 2, None]
    assert compact.shape == (5, H, W) and full.shape == (1 + 3 + 10 + 2 + 1, H, W)
    np.testing.assert_array_equal(compact_valid, valid)
    rows = compact.reshape(5, -1)[:, valid.ravel()].T
    np.testing.assert_array_equal(expand_onehot(rows, layout), full.reshape(full.shape[0], -1)[:, valid.ravel()].T)
    # a code the model never saw (position -1) expands to 0 in every band of its group
    rows[:, 1] = code_positions(np.full(len(rows), 7.0), layout[1])
    assert not expand_onehot(rows, layout)[:, 1:4].any()


def test_compact_codes_keep_codes_float32_cannot_hold():
    # Codes are compared in float64 (as full one-hot bands are); the compact band holds
    # positions, which float32 keeps exactly, not the codes themselves.
    codes = (16_777_217, 16_777_218, 0.1)
    plane = np.array([[16_777_217, 16_777_218], [0.1, np.nan]])
    full = onehot(plane, list(codes))
    positions = code_positions(plane, codes).astype(np.float32)
    valid = np.isfinite(plane)
    np.testing.assert_array_equal(expand_onehot(positions[valid][:, None], [codes]), full[:, valid].T)
    assert np.isnan(positions[1, 1])
    assert (code_positions(plane, ())[valid] == -1).all()  # no categories at all: every code unseen


def test_a_transform_naming_no_continuous_band_is_refused(study):
    spec = {"inputs": {"dem": str(study / "dem.tif"),
                       "geology": {"path": str(study / "geology.tif"), "kind": "categorical"}},
            "features": ["dem", "dem.slope", "geology.onehot"]}
    with Stack({**spec, "transforms": {"dem.slope": "log1p"}}) as stack:
        assert stack.band_transforms[:2] == [None, "log1p"]
    with pytest.raises(SpecError, match=r"transforms.dem.slop: .*did you mean 'dem.slope'"):
        Stack({**spec, "transforms": {"dem.slop": "log"}})
    with pytest.raises(SpecError, match="transforms.geology.onehot:2: no continuous band"):
        Stack({**spec, "transforms": {"geology.onehot:2": "log"}})
