"""The georaster-dl command: --version, info, stack, and one clean line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import tifffile
import yaml
from affine import Affine
from conftest import UTM33, write_raster
from shapely.geometry import LineString

from georaster_dl import __version__, progress
from georaster_dl.cli.main import main
from georaster_dl.export import spec_hash
from georaster_dl.stack import Stack

SCRIPT = Path(sys.executable).with_name("georaster-dl")


def run_script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as users run it."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The same entry point in-process (faster), with its exit code and output."""
    try:
        code = main(list(args))
    finally:
        progress.configure(False)  # --json-progress is process-wide: do not leak it into other tests
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    write_raster(tmp_path / "dem.tif", rng.normal(200, 20, (70, 90)).astype("int16"), nodata=-32768)
    write_raster(tmp_path / "mag.tif", rng.normal(0, 1, (30, 40)).astype("float32"), nodata=-9999,
                 transform=Affine(80, 0, 499950.5, 0, -80, 4000040.2))
    write_raster(tmp_path / "geology.tif", rng.integers(1, 4, (70, 90)).astype("uint8"), nodata=0)
    gpd.GeoDataFrame(geometry=[LineString([(500100, 3999000), (502000, 3998200)])], crs=UTM33).to_file(
        tmp_path / "faults.gpkg")
    write_spec(tmp_path, {})
    return tmp_path


def write_spec(folder: Path, changes: dict, name: str = "spec.yaml") -> Path:
    spec = {"grid": {"reference": "dem"},
            "inputs": {"dem": "dem.tif", "mag": {"path": "mag.tif", "resampling": "bilinear"},
                       "geology": {"path": "geology.tif", "kind": "categorical"},
                       "faults": {"path": "faults.gpkg", "kind": "vector"}},
            "features": ["dem", "mag", "geology.onehot", "faults.distance"]}
    for key, value in changes.items():
        if key.startswith("inputs."):
            spec["inputs"][key.split(".", 1)[1]] = value
        else:
            spec[key] = value
    (folder / name).write_text(yaml.safe_dump(spec))
    return folder / name


def test_version_from_the_console_script():
    result = run_script("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"georaster-dl, version {__version__}"


def test_stack_writes_one_band_per_feature_with_descriptions(project):
    (project / "out").mkdir()
    result = run_script("stack", str(project / "spec.yaml"), str(project / "out" / "stack.tif"))
    assert result.returncode == 0, result.stderr
    with rasterio.open(project / "out" / "stack.tif") as ds, Stack(project / "spec.yaml") as stack:
        assert ds.descriptions == ("dem", "mag", "geology.onehot:1", "geology.onehot:2", "geology.onehot:3",
                                   "faults.distance")
        assert ds.count == 6 and ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        assert (ds.width, ds.height, ds.crs, ds.transform) == (90, 70, stack.grid.crs, stack.grid.transform)
        assert ds.tags()["spec_sha256"] == spec_hash(stack.spec)
        assert ds.tags()["software"] == f"georaster_dl {__version__}"
        np.testing.assert_array_equal(ds.read(), stack.read_window(rasterio.windows.Window(0, 0, 90, 70))[0])
    assert "wrote" in result.stderr and "Traceback" not in result.stderr


def test_info_describes_a_raster_and_a_spec(project, capsys):
    code, out, _ = run_main(capsys, "info", str(project / "mag.tif"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["crs"] == "EPSG:32633" and doc["bands"][0]["nodata"] == -9999
    code, out, _ = run_main(capsys, "info", str(project / "spec.yaml"))
    doc = yaml.safe_load(out)
    assert code == 0 and doc["grid"]["width"] == 90
    assert [b["name"] for b in doc["bands"]][:2] == ["dem", "mag"]


def test_json_progress_prints_one_json_object_per_line(project, capsys):
    code, out, err = run_main(capsys, "--json-progress", "stack", str(project / "spec.yaml"),
                              str(project / "s.tif"))
    assert code == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines and all(set(line) == {"stage", "done", "total", "message", "eta_s"} for line in lines)
    stack_lines = [line for line in lines if line["stage"] == "stack"]
    assert stack_lines[0]["done"] == 0 and stack_lines[-1]["done"] == stack_lines[-1]["total"] == 1
    assert any(line["stage"] == "info" and "wrote" in line["message"] for line in lines)


def byte_with_nodata_minus_one(path: Path) -> None:
    write_raster(path, np.ones((70, 90), "uint8"), nodata=255)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[42113].overwrite("-1")


def test_a_nodata_the_band_cannot_hold_is_ignored_as_gdal_does_with_one_warning(project, capsys):
    byte_with_nodata_minus_one(project / "FaultDensity.tif")
    write_spec(project, {"inputs.mag": {"path": "FaultDensity.tif"}})
    code, _, err = run_main(capsys, "stack", str(project / "spec.yaml"), str(project / "out.tif"))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "FaultDensity.tif declares nodata -1, which its uint8 band cannot hold" in warnings[0]
    with rasterio.open(project / "out.tif") as ds:
        assert ds.descriptions[1] == "mag"


def make_bad_input(project: Path, case: str) -> tuple[list[str], str]:
    """Build one bad input; return the stack arguments and what the error line must name."""
    spec, out = project / "spec.yaml", project / "out.tif"
    if case == "missing file":
        write_spec(project, {"inputs.mag": {"path": "nope.tif"}})
        return [str(spec), str(out)], "inputs.mag: " + str(project / "nope.tif") + " does not exist"
    if case == "missing spec":
        return [str(project / "nope.yaml"), str(out)], "nope.yaml does not exist"
    if case == "not a raster":
        (project / "notes.tif").write_text("field notes, not a raster\n")
        write_spec(project, {"inputs.mag": {"path": "notes.tif"}})
        return [str(spec), str(out)], "notes.tif is not a raster GDAL can read"
    if case == "no crs":
        write_raster(project / "nocrs.tif", np.ones((5, 5), "float32"), crs=None)
        write_spec(project, {"inputs.mag": {"path": "nocrs.tif"}})
        return [str(spec), str(out)], "nocrs.tif has no CRS; add crs:"
    if case == "no overlap":
        write_raster(project / "far.tif", np.ones((5, 5), "float32"), transform=Affine(30, 0, 900000, 0, -30, 10))
        write_spec(project, {"inputs.mag": {"path": "far.tif"}})
        return [str(spec), str(out)], "far.tif does not overlap the grid"
    if case == "bilinear on categorical":
        write_spec(project, {"inputs.geology": {"path": "geology.tif", "kind": "categorical",
                                                "resampling": "bilinear"}})
        return [str(spec), str(out)], "inputs.geology.resampling: 'bilinear' would blend class codes"
    if case == "vector with no features":
        gpd.GeoDataFrame({"a": []}, geometry=[], crs=UTM33).to_file(project / "empty.gpkg")
        write_spec(project, {"inputs.faults": {"path": "empty.gpkg"}})
        return [str(spec), str(out)], "empty.gpkg has no features"
    if case == "misspelt key":
        write_spec(project, {"inputs.mag": {"path": "mag.tif", "resamplig": "cubic"}})
        return [str(spec), str(out)], "inputs.mag: unknown key 'resamplig' (did you mean 'resampling'?)"
    if case == "output folder missing":
        return [str(spec), str(project / "nowhere" / "out.tif")], "folder " + str(project / "nowhere")
    if case == "existing output":
        out.write_text("an earlier result")
        return [str(spec), str(out)], "out.tif already exists; pass --overwrite"
    raise AssertionError(case)


BAD_INPUTS = ["missing file", "missing spec", "not a raster", "no crs", "no overlap",
              "bilinear on categorical", "vector with no features", "misspelt key",
              "output folder missing", "existing output"]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gives_one_error_line_exit_2_and_no_output(project, capsys, case):
    args, named = make_bad_input(project, case)
    before = {p.name: p.stat().st_mtime_ns for p in project.iterdir()}
    code, out, err = run_main(capsys, "stack", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert named in lines[0]
    assert "Traceback" not in err
    after = {p.name: p.stat().st_mtime_ns for p in project.iterdir()}
    assert after == before  # no output, no .partial, nothing touched


def test_bad_input_through_the_console_script(project):
    args, named = make_bad_input(project, "no overlap")
    result = run_script("stack", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and named in result.stderr
    assert not (project / "out.tif").exists()


def test_debug_shows_the_traceback(project):
    args, named = make_bad_input(project, "no crs")
    result = run_script("--debug", "stack", *args)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr and "GridError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_existing_output_is_replaced_with_overwrite(project, capsys):
    (project / "out.tif").write_text("an earlier result")
    code, _, err = run_main(capsys, "stack", str(project / "spec.yaml"), str(project / "out.tif"), "--overwrite")
    assert code == 0, err
    with rasterio.open(project / "out.tif") as ds:
        assert ds.count == 6


def test_window_that_is_not_a_tile_multiple_is_refused(project, capsys):
    code, _, err = run_main(capsys, "stack", str(project / "spec.yaml"), str(project / "o.tif"), "--window", "300")
    assert code == 2 and err.startswith("error: --window must be a positive multiple of 512")


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = run_main(capsys, "stack", "--colour", "red")
    assert code == 2 and "No such option" in err
