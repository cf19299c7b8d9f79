"""GeoTIFF writer: layout, compression, metadata, styles, and atomic writes that fail cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
import tifffile
from conftest import UTM33
from rasterio.windows import Window

from georaster_dl import __version__
from georaster_dl.errors import OutputError
from georaster_dl.grid import Grid
from georaster_dl.io.qml import paletted_qml, qml_path, ramp_qml, write_qml
from georaster_dl.io.writer import GeoTIFFWriter, creation_options, partial_path, write_geotiff

GRID = Grid.from_bounds(UTM33, 30, (500000, 4000000 - 30 * 700, 500000 + 30 * 600, 4000000))


def data(bands: int = 2, dtype: str = "float32") -> np.ndarray:
    a = np.random.default_rng(0).normal(100, 10, (bands, GRID.height, GRID.width)).astype(dtype)
    a[:, :5, :5] = np.nan if np.dtype(dtype).kind == "f" else 0
    return a


def test_file_is_tiled_512_with_crs_transform_nodata_and_descriptions(tmp_path):
    out = write_geotiff(tmp_path / "out.tif", data(), GRID, nodata=float("nan"), descriptions=["dem", "dem.slope"])
    with rasterio.open(out) as ds:
        assert ds.block_shapes == [(512, 512), (512, 512)]
        assert ds.profile["tiled"]
        assert ds.crs == GRID.crs and ds.transform == GRID.transform
        assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (600, 700, 2, "float32")
        assert np.isnan(ds.nodata)
        assert ds.descriptions == ("dem", "dem.slope")
        np.testing.assert_array_equal(ds.read(), data())
    assert not partial_path(out).exists()


def test_default_compression_is_zstd_with_floating_point_predictor(tmp_path):
    out = write_geotiff(tmp_path / "out.tif", data(), GRID, nodata=float("nan"))
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.compression == tifffile.COMPRESSION.ZSTD
        assert page.predictor == tifffile.PREDICTOR.FLOATINGPOINT
        assert not tif.is_bigtiff
        assert page.tilewidth == 512 and page.tilelength == 512


@pytest.mark.parametrize("compress, codec, predictor", [
    ("deflate", tifffile.COMPRESSION.ADOBE_DEFLATE, tifffile.PREDICTOR.HORIZONTAL),
    ("lzw", tifffile.COMPRESSION.LZW, tifffile.PREDICTOR.HORIZONTAL),
    ("zstd", tifffile.COMPRESSION.ZSTD, tifffile.PREDICTOR.HORIZONTAL),
    ("none", tifffile.COMPRESSION.NONE, tifffile.PREDICTOR.NONE),
])
def test_selectable_compression_with_integer_predictor(tmp_path, compress, codec, predictor):
    arr = data(1, "int16")
    out = write_geotiff(tmp_path / "out.tif", arr, GRID, nodata=0, compress=compress)
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].compression == codec and tif.pages[0].predictor == predictor
    with rasterio.open(out) as ds:
        assert ds.nodata == 0
        np.testing.assert_array_equal(ds.read(), arr)


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(OutputError, match="compression 'jpeg' is not supported; choose one of 'zstd'"):
        write_geotiff(tmp_path / "out.tif", data(1), GRID, compress="jpeg")


def test_bigtiff_is_chosen_when_needed():
    assert creation_options("float32")["bigtiff"] == "IF_SAFER"


def test_tags_record_the_software_version_and_extra_tags(tmp_path):
    out = write_geotiff(tmp_path / "out.tif", data(1), GRID, nodata=float("nan"), tags={"spec_sha256": "abc"})
    with rasterio.open(out) as ds:
        assert ds.tags()["software"] == f"georaster_dl {__version__}"
        assert ds.tags()["spec_sha256"] == "abc"


def test_class_raster_has_colour_table_and_category_names(tmp_path):
    codes = np.random.default_rng(0).integers(1, 4, (1, GRID.height, GRID.width)).astype("uint8")
    colours = {1: (255, 0, 0), 2: (0, 128, 0), 3: (0, 0, 255, 255)}
    out = write_geotiff(tmp_path / "classes.tif", codes, GRID, nodata=0, colormap=colours,
                        category_names={1: "ridge", 2: "valley", 3: "plain"})
    with rasterio.open(out) as ds:
        table = ds.colormap(1)
        assert table[1] == (255, 0, 0, 255) and table[2] == (0, 128, 0, 255) and table[3] == (0, 0, 255, 255)
        assert ds.tags(1)["CLASS_2"] == "valley"
        np.testing.assert_array_equal(ds.read(), codes)


@pytest.mark.parametrize("overviews", [True, False])
def test_overviews_only_on_request(tmp_path, overviews):
    out = write_geotiff(tmp_path / "out.tif", data(1), GRID, nodata=float("nan"), overviews=overviews)
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == ([2] if overviews else [])


def test_window_by_window_writes_equal_the_array(tmp_path):
    arr = data(3)
    with GeoTIFFWriter(tmp_path / "out.tif", GRID, 3, "float32", float("nan")) as writer:
        for w in GRID.windows(512):
            writer.write(w, arr[:, w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width])
        assert writer.partial.exists() and not (tmp_path / "out.tif").exists()
    with rasterio.open(tmp_path / "out.tif") as ds:
        np.testing.assert_array_equal(ds.read(), arr)


def test_exception_mid_write_leaves_neither_output_nor_partial(tmp_path):
    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        with GeoTIFFWriter(out, GRID, 1, "float32", float("nan")) as writer:
            writer.write(Window(0, 0, 512, 512), np.ones((512, 512), "float32"))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_interrupt_mid_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with GeoTIFFWriter(tmp_path / "out.tif", GRID, 1, "float32", float("nan")) as writer:
            writer.write(Window(0, 0, 512, 512), np.ones((512, 512), "float32"))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


_FULL_DISK = textwrap.dedent("""\
    import json, resource, signal, sys
    import numpy as np
    from georaster_dl.errors import GeoRasterDLError
    from georaster_dl.grid import Grid
    from georaster_dl.io.writer import write_geotiff

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # the write fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    grid = Grid.from_bounds("EPSG:32633", 30, (0, 0, 30 * 1024, 30 * 1024))
    noise = np.random.default_rng(0).normal(size=(2, 1024, 1024)).astype("float32")
    try:
        write_geotiff(sys.argv[1], noise, grid, nodata=float("nan"), compress=sys.argv[2])
        print(json.dumps({"error": None}))
    except GeoRasterDLError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
""")


@pytest.mark.parametrize("compress", ["zstd", "none"])
def test_write_failing_on_file_size_limit_gives_output_error_and_leaves_nothing(tmp_path, compress):
    out = tmp_path / "out.tif"
    run = subprocess.run([sys.executable, "-c", _FULL_DISK, str(out), compress], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["error"] == "OutputError"
    assert "out.tif.partial failed" in result["message"] and "ulimit -f" in result["message"]
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite_and_replaced_with_it(tmp_path):
    out = tmp_path / "out.tif"
    out.write_text("precious")
    with pytest.raises(OutputError, match="out.tif already exists; pass --overwrite"):
        write_geotiff(out, data(1), GRID)
    assert out.read_text() == "precious"
    write_geotiff(out, data(1), GRID, overwrite=True)
    with rasterio.open(out) as ds:
        assert ds.count == 1


def test_output_folder_must_exist(tmp_path):
    with pytest.raises(OutputError, match="folder .*missing does not exist; create it first"):
        write_geotiff(tmp_path / "missing" / "out.tif", data(1), GRID)
    assert not (tmp_path / "missing").exists()


def test_output_path_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "out.tif").mkdir()
    with pytest.raises(OutputError, match="out.tif is a folder; give a file name"):
        write_geotiff(tmp_path / "out.tif", data(1), GRID, overwrite=True)


def test_a_partial_file_the_run_did_not_make_is_the_users_and_kept(tmp_path):
    partial_path(tmp_path / "out.tif").write_text("half a file")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"out.tif.partial exists and was not made by this run; move or delete"):
            write_geotiff(tmp_path / "out.tif", data(1), GRID, overwrite=overwrite)
    assert partial_path(tmp_path / "out.tif").read_text() == "half a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif.partial"]


def test_paletted_qml_is_valid_xml_with_escaped_labels(tmp_path):
    path = write_qml(tmp_path / "classes.tif", paletted_qml({1: ("ridge & spur", (255, 0, 0)),
                                                            2: ('valley "floor"', (0, 128, 0))}))
    assert path == qml_path(tmp_path / "classes.tif") == tmp_path / "classes.qml"
    root = ET.parse(path).getroot()
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [(e.get("value"), e.get("color"), e.get("label")) for e in entries] == [
        ("1", "#ff0000", "ridge & spur"), ("2", "#008000", 'valley "floor"')]
    assert not (tmp_path / "classes.qml.partial").exists()


def test_ramp_qml_is_valid_xml_spanning_min_to_max(tmp_path):
    path = write_qml(tmp_path / "probability.tif", ramp_qml(0.0, 1.0))
    renderer = ET.parse(path).getroot().find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    items = renderer.findall("rastershader/colorrampshader/item")
    assert float(items[0].get("value")) == 0.0 and float(items[-1].get("value")) == 1.0
    assert len(items) == 5
