"""``georaster-dl features``: a multi-band GeoTIFF of terrain features, --list, progress,
and one clear error line (exit 2, no output) for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from terrain_support import compute, read, synthetic_dem, write_dem

from georaster_dl.cli.features import parse_features
from georaster_dl.cli.main import main
from georaster_dl.features import registered


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    return write_dem(tmp_path_factory.mktemp("cli") / "dem.tif", synthetic_dem(120, 140, seed=8))


def test_features_command_writes_one_described_band_per_feature_with_its_own_nodata(dem, tmp_path, capsys):
    out = tmp_path / "features.tif"
    code = main(["features", str(dem), str(out), "--features",
                 "slope:units=percent,aspect,tpi:radius=10:shape=annulus:inner=3,geomorphons(search=8,flat=2)"])
    assert code == 0, capsys.readouterr().err
    values, grid = read(dem)
    with rasterio.open(out) as ds:
        assert ds.descriptions == ("dem.slope(units=percent)", "dem.aspect", "dem.tpi(inner=3,radius=10,shape=annulus)",
                                   "dem.geomorphons(flat=2.0,search=8)")
        data = ds.read()
    np.testing.assert_array_equal(data[0], compute("slope", values, grid, units="percent"))
    np.testing.assert_array_equal(data[2], compute("tpi", values, grid, radius=10, shape="annulus", inner=3))
    np.testing.assert_array_equal(data[3], compute("geomorphons", values, grid, search=8, flat=2.0))
    assert (~np.isnan(data[0]) & np.isnan(data[2])).any()  # slope keeps the cells TPI's wider frame loses


def test_z_factor_and_json_progress(dem, tmp_path, capsys):
    out = tmp_path / "slope.tif"
    assert main(["--json-progress", "features", str(dem), str(out), "--features", "slope", "--z-factor", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-2]["stage"] == "stack" and lines[-2]["done"] == lines[-2]["total"]
    values, grid = read(dem)
    np.testing.assert_allclose(read(out)[0], compute("slope", 2 * values, grid), atol=1e-4, equal_nan=True)


def test_list_shows_every_feature_with_units_halo_and_parameters(capsys):
    assert main(["features", "--list"]) == 0
    text = capsys.readouterr().out
    for name in registered():
        assert f"\n{name}: " in "\n" + text
    assert "units: 1/m (convex > 0); halo: 1 cell (3x3 window)" in text
    assert "halo: radius cells" in text and "halo: search - 1 cells" in text
    assert "shape=disk (disk | annulus)" in text and "onehot=false" in text


def test_feature_list_accepts_colon_and_parenthesis_parameters():
    assert parse_features(" slope , tpi:radius=3:shape=annulus:inner=1,geomorphons(search=5,skip=1)") == [
        "dem.slope", "dem.tpi(inner=1,radius=3,shape=annulus)", "dem.geomorphons(search=5,skip=1)"]


@pytest.mark.parametrize("features, message", [
    ("slope,aspetc", "unknown feature 'aspetc' (did you mean 'aspect'?)"),
    ("tpi:radis=4", "unknown parameter 'radis' (did you mean 'radius'?)"),
    ("tpi:radius=300", "does not fit the 140 x 120-cell grid; use a smaller radius (at most 59)"),
])
def test_bad_features_exit_2_with_one_line_and_no_output(dem, tmp_path, capsys, features, message):
    out = tmp_path / "bad.tif"
    assert main(["features", str(dem), str(out), "--features", features]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("array, message", [
    (np.full((30, 30), np.nan), "has no valid cell on the grid (every cell is nodata)"),
    (np.arange(50.0)[None, :], "terrain features need a DEM of at least 3 x 3 cells"),
    (np.arange(50.0)[:, None], "terrain features need a DEM of at least 3 x 3 cells"),
])
def test_unusable_dems_exit_2_with_one_line_and_no_output(tmp_path, capsys, array, message):
    path = write_dem(tmp_path / "dem.tif", array)
    out = tmp_path / "out.tif"
    assert main(["features", str(path), str(out), "--features", "slope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not out.exists() and not (tmp_path / "out.tif.partial").exists()


def test_a_multi_band_dem_needs_band_and_none_is_read_silently(dem, tmp_path, capsys):
    with rasterio.open(dem) as src:
        values, profile = src.read(1), src.profile
    stacked = tmp_path / "two.tif"
    with rasterio.open(stacked, "w", **{**profile, "count": 2}) as ds:
        ds.write(np.stack([values * 0, values]))
    out = tmp_path / "slope.tif"
    assert main(["features", str(stacked), str(out), "--features", "slope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "two.tif has 2 bands" in err and "--band N" in err and "\n" not in err
    assert not out.exists()
    assert main(["features", str(stacked), str(out), "--features", "slope", "--band", "2"]) == 0
    assert main(["features", str(dem), str(tmp_path / "ref.tif"), "--features", "slope"]) == 0
    np.testing.assert_array_equal(read(out)[0], read(tmp_path / "ref.tif")[0])


def test_missing_dem_or_features_is_a_usage_error(tmp_path, capsys):
    assert main(["features", str(tmp_path / "dem.tif"), str(tmp_path / "o.tif")]) == 2
    assert "give DEM, OUT and --features" in capsys.readouterr().err


def test_nodata_option_overrides_the_dems_own(dem, tmp_path, capsys):
    values, _ = read(dem)
    marker = float(values[60, 70])
    out = tmp_path / "slope.tif"
    assert main(["features", str(dem), str(out), "--features", "slope", "--nodata", repr(marker)]) == 0
    with rasterio.open(out) as ds:
        slope = ds.read(1)
    assert np.isnan(slope[59:62, 69:72]).all() and np.isfinite(slope[50, 50])
    assert main(["features", str(dem), str(tmp_path / "bad.tif"), "--features", "slope", "--nodata", "minus one"]) == 2
    assert "--nodata" in capsys.readouterr().err and not (tmp_path / "bad.tif").exists()


@pytest.mark.parametrize("feature, names", [("geomorphons:search=5", 10), ("landform_weiss:radius=4", 6)])
def test_a_class_feature_alone_is_written_as_byte_codes_with_colours_and_names(dem, tmp_path, capsys, feature, names):
    out = tmp_path / "classes.tif"
    assert main(["features", str(dem), str(out), "--features", feature]) == 0, capsys.readouterr().err
    definition = registered()[feature.split(":")[0]]
    with rasterio.open(out) as ds:
        assert ds.dtypes == ("uint8",) and ds.nodata == 0
        codes, colours, tags = ds.read(1), ds.colormap(1), ds.tags(1)
    assert set(np.unique(codes)) - {0} <= set(definition.classes)
    assert {c: colours[c][:3] for c in definition.classes} == definition.colours
    assert {int(k[6:]): v for k, v in tags.items() if k.startswith("CLASS_")} == definition.classes
    assert len(definition.classes) == names and 'type="paletted"' in out.with_suffix(".qml").read_text()
