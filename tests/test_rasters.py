"""Raster inputs read onto a grid: agreement with gdalwarp, nodata, edges, threads, odd files."""

from __future__ import annotations

import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
import tifffile
from affine import Affine
from conftest import ORIGIN, UTM33, read_tiled, write_raster
from rasterio.windows import Window

from georaster_dl.errors import GridError, InputFileError, SpecError
from georaster_dl.grid import Grid
from georaster_dl.io.rasters import RasterSource, describe_raster
from georaster_dl.spec import InputSpec, load_spec

#: The target grid of these tests: 30 m UTM 33N, 130 x 100 cells.
GRID = Grid.from_bounds(UTM33, 30, (500000, 4000000 - 3000, 500000 + 3900, 4000000))
WHOLE = Window(0, 0, GRID.width, GRID.height)

needs_gdalwarp = pytest.mark.skipif(shutil.which("gdalwarp") is None, reason="gdalwarp (gdal-bin) is not installed")


def source(path: Path, grid: Grid = GRID, **fields) -> RasterSource:
    src = RasterSource(InputSpec(name="x", path=str(path), **fields))
    src.attach(grid)
    return src


def gdalwarp(path: Path, out: Path, resampling: str, grid: Grid = GRID, *extra: str) -> np.ndarray:
    """The reference: whole-raster gdalwarp with an exact transformer onto ``grid``."""
    xmin, ymin, xmax, ymax = grid.bounds
    subprocess.run(["gdalwarp", "-q", "-overwrite", "-et", "0", "-r", resampling,
                    "-te", repr(xmin), repr(ymin), repr(xmax), repr(ymax),
                    "-tr", repr(grid.res[0]), repr(grid.res[1]), "-t_srs", grid.crs.to_wkt(),
                    "-ot", "Float64", "-dstnodata", "nan", *extra, str(path), str(out)], check=True)
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (grid.width, grid.height)
        return ds.read(1)


def assert_same_cells(got: np.ndarray, ref: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got[~np.isnan(got)], ref[~np.isnan(ref)], rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def rasters(tmp_path_factory) -> dict[str, Path]:
    """Inputs that do not share the grid: another CRS, another cell size, a fractional origin."""
    folder = tmp_path_factory.mktemp("rasters")
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:110, 0:140]
    smooth = (np.sin(xx / 7.0) * 40 + np.cos(yy / 5.0) * 25 + rng.normal(0, 3, xx.shape)).astype("float32")
    smooth[20:24, 30:35] = -9999
    # ~0.0008 degree cells around 15 E, 36.1 N: the whole UTM grid lies inside, with margin.
    geographic = write_raster(folder / "mag_wgs84.tif", smooth[:60, :70], crs="EPSG:4326",
                              transform=Affine(0.0008, 0, 14.995, 0, -0.0008, 36.1385), nodata=-9999)
    offset = write_raster(folder / "grav_offset.tif", smooth, nodata=-9999,
                          transform=Affine(30, 0, 500000 + 0.37 * 30 - 300, 0, -30, 4000000 - 0.21 * 30 + 150))
    coarse = write_raster(folder / "grav_45m.tif", smooth, nodata=-9999,
                          transform=Affine(45, 0, 500000 - 121.3, 0, -45, 4000000 + 97.1))
    codes = rng.choice(np.array([3, 7, 12, 40], dtype="int32"), size=(55, 66))
    codes[0:5, 0:5] = 0
    geology = write_raster(folder / "geology_45m.tif", codes, nodata=0,
                           transform=Affine(45, 0, 500000 - 61.7, 0, -45, 4000000 + 33.3))
    # Covers the whole grid: GDAL 3.6 and 3.10 differ in mode/average over cells the source half covers.
    geology_wgs = write_raster(folder / "geology_wgs84.tif", codes, crs="EPSG:4326", nodata=0,
                               transform=Affine(0.0009, 0, 14.996, 0, -0.0009, 36.146))
    whole = write_raster(folder / "dem_shifted.tif", smooth, nodata=-9999,
                         transform=Affine(30, 0, 500000 - 5 * 30, 0, -30, 4000000 + 3 * 30))
    return {"geographic": geographic, "offset": offset, "coarse": coarse, "geology": geology,
            "geology_wgs": geology_wgs, "whole": whole, "folder": folder}


@needs_gdalwarp
@pytest.mark.parametrize("name", ["geographic", "offset", "coarse", "whole"])
@pytest.mark.parametrize("resampling, gdal_name", [("bilinear", "bilinear"), ("cubic", "cubic"),
                                                    ("nearest", "near")])
def test_continuous_input_matches_gdalwarp_on_every_cell(rasters, tmp_path, name, resampling, gdal_name):
    got = source(rasters[name], resampling=resampling).read(WHOLE)
    assert_same_cells(got, gdalwarp(rasters[name], tmp_path / "ref.tif", gdal_name))
    assert np.isfinite(got).sum() > 0.4 * got.size


@needs_gdalwarp
@pytest.mark.parametrize("name", ["geology", "geology_wgs"])
@pytest.mark.parametrize("resampling, gdal_name", [("nearest", "near"), ("mode", "mode")])
def test_categorical_input_matches_gdalwarp_on_every_cell(rasters, tmp_path, name, resampling, gdal_name):
    got = source(rasters[name], kind="categorical", resampling=resampling).read(WHOLE)
    assert_same_cells(got, gdalwarp(rasters[name], tmp_path / "ref.tif", gdal_name))


@pytest.mark.parametrize("resampling", ["nearest", "mode"])
def test_categorical_codes_are_never_blended(rasters, resampling):
    got = source(rasters["geology"], kind="categorical", resampling=resampling).read(WHOLE)
    assert set(np.unique(got[np.isfinite(got)])) <= {3.0, 7.0, 12.0, 40.0}
    bilinear = source(rasters["geology"], resampling="bilinear").read(WHOLE)
    assert not set(np.unique(bilinear[np.isfinite(bilinear)])) <= {3.0, 7.0, 12.0, 40.0}


def test_input_offset_by_whole_cells_is_read_without_warping(rasters):
    src = source(rasters["whole"])
    assert src._offset == (3, 5)
    got = src.read(WHOLE)
    with rasterio.open(rasters["whole"]) as ds:
        raw = ds.read(1).astype(float)
    raw[raw == -9999] = np.nan
    np.testing.assert_array_equal(got, raw[3:3 + GRID.height, 5:5 + GRID.width])


@pytest.mark.parametrize("name", ["geographic", "offset", "whole"])
def test_windowed_reads_equal_one_whole_read(rasters, name):
    src = source(rasters[name])
    whole = src.read(WHOLE)
    np.testing.assert_array_equal(read_tiled(src.read, GRID.shape, (37, 41)), whole)


@needs_gdalwarp
@pytest.mark.parametrize("resampling, gdal_name", [("bilinear", "bilinear"), ("average", "average"),
                                                    ("nearest", "near")])
def test_finer_input_downsampled_by_a_whole_factor_matches_gdalwarp(tmp_path, resampling, gdal_name):
    data = np.random.default_rng(3).normal(size=(330, 420)).astype("float32")
    path = write_raster(tmp_path / "fine.tif", data, transform=Affine(10, 0, 500000 - 40, 0, -10, 4000000 + 20))
    got = source(path, resampling=resampling).read(WHOLE)
    assert_same_cells(got, gdalwarp(path, tmp_path / "ref.tif", gdal_name))


def test_windows_larger_than_the_warp_blocks_equal_one_whole_read(tmp_path):
    """GDAL's warper estimates its resampling scale per chunk unless told; windows must not see that."""
    grid = Grid.from_bounds(UTM33, 30, (500000, 4000000 - 30 * 700, 500000 + 30 * 1100, 4000000))
    data = np.random.default_rng(5).normal(size=(720, 1120)).astype("float32")
    for res, name in ((30, "shifted"), (12, "finer")):
        path = write_raster(tmp_path / f"{name}.tif", data,
                            transform=Affine(res, 0, 500000 - 0.4 * res, 0, -res, 4000000 + 0.3 * res))
        src = source(path, grid)
        whole = src.read(Window(0, 0, grid.width, grid.height))
        for w in (Window(0, 0, 600, 600), Window(512, 100, 588, 600), Window(3, 511, 1097, 189)):
            np.testing.assert_array_equal(src.read(w), whole[w.row_off:w.row_off + w.height,
                                                             w.col_off:w.col_off + w.width], err_msg=name)


@pytest.mark.parametrize("name", ["geographic", "whole"])
def test_reads_beyond_the_grid_are_nodata_outside_and_equal_inside(rasters, name):
    src = source(rasters[name])
    whole = src.read(WHOLE)
    halo = 4
    padded = src.read(Window(-halo, -halo, GRID.width + 2 * halo, GRID.height + 2 * halo))
    np.testing.assert_array_equal(padded[halo:-halo, halo:-halo], whole)
    inside = np.zeros(padded.shape, bool)
    inside[halo:-halo, halo:-halo] = True
    assert np.isnan(padded[~inside]).all()
    corner = src.read(Window(GRID.width - 2, GRID.height - 2, 6, 6))
    np.testing.assert_array_equal(corner[:2, :2], whole[-2:, -2:])
    assert np.isnan(corner[2:, :]).all() and np.isnan(corner[:, 2:]).all()
    assert np.isnan(src.read(Window(-10, -10, 5, 5))).all()


@pytest.mark.parametrize("name", ["geographic", "whole"])
def test_two_threads_read_concurrently_with_their_own_handles(rasters, name):
    src = source(rasters[name])
    windows = [Window(c, r, 33, 29) for r in range(0, 90, 29) for c in range(0, 120, 33)] * 3
    expected = [src.read(w) for w in windows]
    src.close()

    both_started = threading.Barrier(2, timeout=30)  # so the pool really runs the two on two threads

    def read_all(offset: int) -> tuple[list[np.ndarray], int]:
        both_started.wait()
        order = windows[offset:] + windows[:offset]
        return [src.read(w) for w in order], id(src._handle("ds"))

    with ThreadPoolExecutor(2) as pool:
        (a, handle_a), (b, handle_b) = pool.map(read_all, [0, 7])
    assert handle_a != handle_b
    for got, want in zip(a, expected):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(b, expected[7:] + expected[:7]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype, nodata", [("int32", -1), ("uint8", 255), ("int16", -32768), ("float32", -3.4e38),
                                           ("float32", None), ("uint16", 0)])
def test_every_common_data_type_reads_as_float64_with_nodata_as_nan(tmp_path, dtype, nodata):
    data = (np.arange(12 * 10).reshape(12, 10) % 200).astype(dtype)
    if nodata is not None:
        data[3, 4] = nodata
    path = write_raster(tmp_path / f"{dtype}.tif", data, nodata=nodata)
    got = source(path, Grid(GRID.crs, ORIGIN, 10, 12)).read(Window(0, 0, 10, 12))
    assert got.dtype == np.float64
    expected = data.astype(np.float64)
    if nodata is not None:
        expected[data == np.asarray(nodata, dtype=dtype)] = np.nan
    np.testing.assert_array_equal(got, expected)


def test_band_is_selected(tmp_path):
    data = np.stack([np.full((4, 4), 1, "int16"), np.full((4, 4), 2, "int16")])
    path = write_raster(tmp_path / "two.tif", data)
    assert (source(path, Grid(GRID.crs, ORIGIN, 4, 4), band=2, band_given=True).read(Window(0, 0, 4, 4)) == 2).all()
    with pytest.raises(SpecError, match=r"inputs\.x\.band: .*two.tif has 2 band\(s\), band 3 does not exist"):
        RasterSource(InputSpec(name="x", path=str(path), band=3, band_given=True))


def test_multi_band_file_without_a_named_band_is_refused_not_read_as_band_1(tmp_path):
    path = write_raster(tmp_path / "three.tif", np.ones((3, 4, 4), "int16"))
    with pytest.raises(SpecError, match=r"^inputs\.x: .*three\.tif has 3 bands and the spec names none; "
                                        r"choose one with band: N \(1-3\)"):
        RasterSource(load_spec({"inputs": {"x": {"path": str(path)}}, "features": ["x"]}).inputs["x"])
    for band in (1, 3):  # a named band, even band 1 as old specs wrote it, is read
        spec = load_spec({"inputs": {"x": {"path": str(path), "band": band}}, "features": ["x"]})
        assert RasterSource(spec.inputs["x"]).spec.band == band


def test_one_band_file_needs_no_band(tmp_path):
    path = write_raster(tmp_path / "one.tif", np.ones((4, 4), "int16"))
    assert (source(path, Grid(GRID.crs, ORIGIN, 4, 4)).read(Window(0, 0, 4, 4)) == 1).all()


def test_spec_nodata_override_replaces_the_file_nodata(tmp_path):
    data = np.arange(16, dtype="int16").reshape(4, 4)
    path = write_raster(tmp_path / "a.tif", data, nodata=-32768)
    got = source(path, Grid(GRID.crs, ORIGIN, 4, 4), nodata=5).read(Window(0, 0, 4, 4))
    assert np.isnan(got[1, 1]) and np.isfinite(got).sum() == 15


def test_spec_nodata_the_band_cannot_hold_is_refused(tmp_path):
    path = write_raster(tmp_path / "a.tif", np.zeros((4, 4), "int16"))
    with pytest.raises(SpecError, match=r"inputs\.x\.nodata: -99999 cannot occur in the int16 band of .*a\.tif"):
        RasterSource(InputSpec(name="x", path=str(path), nodata=-99999))


def byte_raster_with_nodata_minus_one(path: Path) -> Path:
    """A Byte GeoTIFF whose GDAL_NODATA tag says -1, like Cloncurry's FaultDensity.tif."""
    data = np.arange(1, 11, dtype="uint8").repeat(4).reshape(5, 8)
    write_raster(path, data, nodata=255)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[42113].overwrite("-1")
    return path


def test_byte_raster_declaring_nodata_minus_one_is_read_as_gdal_does_with_one_warning(tmp_path, capsys):
    path = byte_raster_with_nodata_minus_one(tmp_path / "FaultDensity.tif")
    with rasterio.open(path) as ds:
        assert ds.nodata is None  # what GDAL makes of it: no nodata
    for _ in range(2):
        got = source(path, Grid(GRID.crs, ORIGIN, 8, 5)).read(Window(0, 0, 8, 5))
        assert np.isfinite(got).all() and got.min() == 1 and got.max() == 10
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1, warnings  # once, however often the file is opened
    assert warnings[0].startswith(f"warning: {path} declares nodata -1, which its uint8 band cannot hold")
    assert "input 'x'" in warnings[0] and "nodata: VALUE in the spec" in warnings[0]


def test_byte_raster_declaring_nodata_minus_one_is_read_with_nodata_none(tmp_path):
    path = byte_raster_with_nodata_minus_one(tmp_path / "FaultDensity.tif")
    got = source(path, Grid(GRID.crs, ORIGIN, 8, 5), nodata="none").read(Window(0, 0, 8, 5))
    assert np.isfinite(got).all() and got.min() == 1 and got.max() == 10


def test_geotiff_without_crs_is_refused_unless_the_spec_gives_one(tmp_path):
    path = write_raster(tmp_path / "nocrs.tif", np.ones((6, 6), "float32"), crs=None)
    with pytest.raises(GridError, match=r"inputs\.x: .*nocrs\.tif has no CRS; add crs: EPSG:XXXX"):
        RasterSource(InputSpec(name="x", path=str(path)))
    src = source(path, Grid(GRID.crs, ORIGIN, 6, 6), crs="EPSG:32633")
    assert (src.read(Window(0, 0, 6, 6)) == 1).all()


def test_bad_crs_override_is_refused(tmp_path):
    path = write_raster(tmp_path / "a.tif", np.ones((2, 2), "float32"), crs=None)
    with pytest.raises(SpecError, match=r"inputs\.x\.crs: 'EPSG:nope' is not a CRS"):
        load_spec({"inputs": {"x": {"path": str(path), "crs": "EPSG:nope"}}, "features": ["x"]})


def test_esri_ascii_grid_reads_with_crs_and_nodata_from_the_spec(tmp_path):
    rows = ["1 2 3 4", "5 -9999 7 8", "9 10 11 12"]
    (tmp_path / "old_grid.asc").write_text(
        "ncols 4\nnrows 3\nxllcorner 500000\nyllcorner 3999910\ncellsize 30\nNODATA_value -9999\n" + "\n".join(rows))
    with pytest.raises(GridError, match="old_grid.asc has no CRS"):
        RasterSource(InputSpec(name="x", path=str(tmp_path / "old_grid.asc")))
    src = source(tmp_path / "old_grid.asc", Grid(GRID.crs, ORIGIN, 4, 3), crs="EPSG:32633", nodata=-9999)
    got = src.read(Window(0, 0, 4, 3))
    assert src._offset == (0, 0)
    np.testing.assert_array_equal(got, [[1, 2, 3, 4], [5, np.nan, 7, 8], [9, 10, 11, 12]])


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is an empty \\(0-byte\\) file"),
    (b"this is not a raster at all\n", "is not a raster GDAL can read"),
])
def test_unusable_files_are_refused_naming_them(tmp_path, content, message):
    path = tmp_path / "input.tif"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=rf"inputs\.x: .*input\.tif {message}"):
        RasterSource(InputSpec(name="x", path=str(path)))


@pytest.mark.parametrize("transform", [ORIGIN, ORIGIN @ Affine.translation(0.5, 0)], ids=["direct", "warped"])
def test_truncated_geotiff_read_fails_naming_the_file(tmp_path, transform):
    data = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    path = write_raster(tmp_path / "whole.tif", data, transform=transform)
    (tmp_path / "cut.tif").write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    src = source(tmp_path / "cut.tif", Grid(GRID.crs, ORIGIN, 64, 64))
    with pytest.raises(InputFileError, match=r"inputs\.x: reading .*cut\.tif failed .*truncated or corrupt"):
        src.read(Window(0, 0, 64, 64))


def test_input_that_does_not_overlap_the_grid_is_refused(tmp_path):
    far = write_raster(tmp_path / "far.tif", np.ones((5, 5), "float32"),
                       transform=Affine(30, 0, 700000, 0, -30, 4000000))
    src = RasterSource(InputSpec(name="x", path=str(far)))
    with pytest.raises(GridError, match=r"inputs\.x: .*far\.tif does not overlap the grid"):
        src.attach(GRID)


def test_unique_values_list_the_categories_without_nodata(rasters):
    src = RasterSource(InputSpec(name="x", path=str(rasters["geology"]), kind="categorical",
                                 resampling="nearest"))
    assert src.unique_values() == [3, 7, 12, 40]


def test_continuous_raster_is_not_accepted_as_categorical(tmp_path):
    path = write_raster(tmp_path / "f.tif", np.arange(2000, dtype="float32").reshape(40, 50))
    src = RasterSource(InputSpec(name="x", path=str(path), kind="categorical", resampling="nearest"))
    with pytest.raises(SpecError, match="more than 1000 distinct values.*kind: continuous"):
        src.unique_values()


def test_describe_raster_reports_grid_bands_and_stats(rasters):
    d = describe_raster(str(rasters["geology"]))
    assert (d["width"], d["height"], d["crs"]) == (66, 55, "EPSG:32633")
    band = d["bands"][0]
    assert band["dtype"] == "int32" and band["nodata"] == 0
    assert band["min"] == 3 and band["max"] == 40


def test_infinite_cells_are_nodata(tmp_path):
    data = np.arange(GRID.width * GRID.height, dtype=np.float32).reshape(GRID.height, GRID.width)
    data[3, 4], data[5, 6] = np.inf, -np.inf
    write_raster(tmp_path / "inf.tif", data, transform=GRID.transform)
    got = source(tmp_path / "inf.tif").read(Window(0, 0, GRID.width, GRID.height))
    assert np.isnan(got[3, 4]) and np.isnan(got[5, 6])
    assert np.isfinite(np.delete(got.ravel(), [3 * GRID.width + 4, 5 * GRID.width + 6])).all()
