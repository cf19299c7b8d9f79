"""Hostile and broken inputs through the real CLI: one clear error line, exit 2, no traceback, no output.

Every case is built by the test in a fresh folder (a copy of a small valid project), run
through ``georaster-dl stack|train|predict`` and checked the same way: exit code 2, exactly
one stderr line ``error: ...`` naming the file or parameter and what to do, and not a
single file created or changed (no output, no ``.partial``, no journal, nothing in the
working directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from affine import Affine
from conftest import ORIGIN, UTM33, write_raster
from predict_support import lambda_bundle, make_bundle, nested_bomb_bundle, rewrite_bundle, zip_bytes
from shapely.geometry import Point

from georaster_dl import progress
from georaster_dl.cli.main import main

SCRIPT = Path(sys.executable).with_name("georaster-dl")
SIZE = 48
#: Training options that finish in about a second on this small project.
TINY = ["--epochs", "2", "--hidden", "4", "--patience", "0", "--batch-size", "16"]


def _dem() -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE] / 8.0
    return (300 + 30 * np.sin(x) * np.cos(0.7 * y)).astype(np.float32)


def _points(grid_cells: list[tuple[int, int]], path: Path, transform: Affine = ORIGIN, **fields) -> Path:
    xs = [transform.c + (c + 0.5) * transform.a for _, c in grid_cells]
    ys = [transform.f + (r + 0.5) * transform.e for r, _ in grid_cells]
    gpd.GeoDataFrame(fields, geometry=[Point(x, y) for x, y in zip(xs, ys)], crs=UTM33).to_file(path)
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A small valid project: two rasters, a spec, labels and an (untrained) model."""
    d = tmp_path_factory.mktemp("base")
    write_raster(d / "dem.tif", _dem(), nodata=-9999)
    write_raster(d / "mag.tif", np.random.default_rng(0).normal(0, 50, (SIZE, SIZE)).astype(np.float32),
                 nodata=-9999)
    _write_spec(d)
    cells = [(r, c) for r in range(4, 44, 5) for c in range(4, 44, 8)]  # 8 x 5 = 40 labels, inside the slope halo
    _points(cells, d / "labels.gpkg", kind=["ridge", "valley"] * 20,
            cu=np.linspace(10, 50, len(cells)), name=[f"s{i}" for i in range(len(cells))])
    make_bundle(str(d / "spec.yaml"), d / "model.gdl", hidden=(4,))
    return d


def _write_spec(folder: Path, **changes) -> Path:
    spec = {"grid": {"reference": "dem"}, "inputs": {"dem": "dem.tif", "mag": "mag.tif"},
            "features": ["dem", "dem.slope", "mag"]}
    for key, value in changes.items():
        spec["inputs"][key] = value
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return folder / "spec.yaml"


def _train(work: Path, labels: str = "labels.gpkg", *extra: str, task: str = "prospectivity") -> list[str]:
    return ["train", "--task", task, "--spec", str(work / "spec.yaml"), "--labels", str(work / labels),
            "--out", str(work / "model_new.gdl"), "--metrics", str(work / "metrics.json"), *TINY, *extra]


def _predict(work: Path, model: str = "model.gdl", *extra: str) -> list[str]:
    return ["predict", str(work / model), str(work / "map.tif"), *extra]


# -- the corpus: each builder makes one bad input in ``work`` and returns (argv, texts the error names) --------

def truncated_geotiff(work):
    raw = (work / "dem.tif").read_bytes()
    (work / "cut.tif").write_bytes(raw[: len(raw) // 2])  # the header is whole, the lower rows are gone
    _write_spec(work, dem="cut.tif")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["cut.tif"]


def non_raster_named_tif(work):
    (work / "notes.tif").write_text("field notes, not a raster\n")
    return _predict(work, "model.gdl", "--input", f"dem={work / 'notes.tif'}"), ["notes.tif", "not a raster"]


def zero_byte_file(work):
    (work / "empty.tif").write_bytes(b"")
    _write_spec(work, mag="empty.tif")
    return _train(work), ["empty.tif"]


def one_by_one_raster(work):
    write_raster(work / "dot.tif", np.ones((1, 1), np.float32))
    _write_spec(work, dem="dot.tif")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["'dem.slope'", "dot.tif", "3 x 3"]


def all_nodata_raster(work):
    write_raster(work / "void.tif", np.full((SIZE, SIZE), -9999, np.float32), nodata=-9999)
    _write_spec(work, mag="void.tif")
    return _train(work), ["inputs.mag", "void.tif", "no valid cell", "nodata value"]


def nan_only_float_raster(work):
    write_raster(work / "nan.tif", np.full((SIZE, SIZE), np.nan, np.float32))
    _write_spec(work, mag="nan.tif")
    return _train(work), ["inputs.mag", "nan.tif", "no valid cell", "nodata value"]


def raster_without_crs(work):
    write_raster(work / "nocrs.tif", _dem(), crs=None)
    _write_spec(work, dem="nocrs.tif")
    return _train(work), ["nocrs.tif", "no CRS", "crs:"]


def inputs_without_overlap(work):
    write_raster(work / "far.tif", _dem(), transform=Affine(30, 0, 900000, 0, -30, 10))
    return _predict(work, "model.gdl", "--input", f"mag={work / 'far.tif'}"), ["far.tif", "does not overlap"]


def shapefile_missing_shx(work):
    gpd.read_file(work / "labels.gpkg").to_file(work / "pts.shp")
    (work / "pts.shx").unlink()
    return _train(work, "pts.shp"), ["pts.shp", ".shx"]


def shapefile_missing_dbf(work):
    gpd.read_file(work / "labels.gpkg").to_file(work / "pts.shp")
    (work / "pts.dbf").unlink()
    return _train(work, "pts.shp", "--label-field", "kind", task="landform"), ["pts.shp", ".dbf"]


def geojson_null_geometries(work):
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "geometry": None, "properties": {"kind": "ridge"}} for _ in range(8)]}
    (work / "nulls.geojson").write_text(json.dumps(doc))
    return _train(work, "nulls.geojson"), ["nulls.geojson", "geometr"]


def csv_text_in_coordinate(work):
    (work / "pts.csv").write_text("lon,lat,kind\n15.1,36.1,ridge\n15°7'23\",36.2,valley\n")
    return _train(work, "pts.csv"), ["pts.csv", "'lon'", "line 3", "decimal"]


def labels_outside_grid(work):
    far = Affine(30, 0, 700000, 0, -30, 4000000)
    _points([(r, r) for r in range(10)], work / "far.gpkg", transform=far, kind=["ridge"] * 10)
    return _train(work, "far.gpkg"), ["far.gpkg", "outside the grid", "CRS"]


def class_below_minimum(work):
    cells = [(r, c) for r in range(4, 44, 5) for c in range(4, 44, 8)]
    _points(cells, work / "few.gpkg", kind=["ridge"] * (len(cells) - 2) + ["saddle"] * 2)
    return (_train(work, "few.gpkg", "--label-field", "kind", task="landform"),
            ["'saddle'", "2 label", "add labels"])


def label_field_missing(work):
    return _train(work, "labels.gpkg", "--label-field", "cu_ppm", task="regression"), ["'cu_ppm'", "'cu'"]


def label_field_wrong_type(work):
    return _train(work, "labels.gpkg", "--label-field", "name", task="regression"), ["'name'", "numeric --label-field"]


def label_field_fractional_classes(work):
    return _train(work, "labels.gpkg", "--label-field", "cu", task="landform"), ["'cu'", "fractional", "class names"]


def spec_misspelt_key(work):
    spec = yaml.safe_load((work / "spec.yaml").read_text())
    spec["featurs"] = spec.pop("features")
    (work / "spec.yaml").write_text(yaml.safe_dump(spec))
    return _train(work), ["'featurs'", "'features'"]


def spec_python_tag(work):
    marker = work / "pwned"
    (work / "spec.yaml").write_text(
        "grid: {reference: dem}\ninputs: {dem: dem.tif}\nfeatures: [dem]\n"
        f"x: !!python/object/apply:os.system ['touch {marker}']\n")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["spec.yaml"]


def model_not_a_bundle(work):
    (work / "model.gdl").write_text("not a model")
    return _predict(work), ["model.gdl", "not a georaster_dl model file"]


def bundle_wrong_band_count(work):
    with zipfile.ZipFile(work / "model.gdl") as z:
        doc = json.loads(z.read("model.json"))
    rewrite_bundle(work / "model.gdl", work / "edited.gdl",
                   doc_changes={"band_names": doc["band_names"][:-1], "band_kinds": doc["band_kinds"][:-1]})
    return _predict(work, "edited.gdl"), ["edited.gdl", "takes 3 inputs", "retrain"]


def bundle_wrong_feature_list(work):
    with zipfile.ZipFile(work / "model.gdl") as z:
        spec = json.loads(z.read("model.json"))["spec"]
    rewrite_bundle(work / "model.gdl", work / "edited.gdl",
                   doc_changes={"spec": {**spec, "features": spec["features"][:-1]}})
    return _predict(work, "edited.gdl"), ["edited.gdl", "band 3 is nothing instead of 'mag'", "retrain"]


def bundle_path_traversal(work):
    rewrite_bundle(work / "model.gdl", work / "evil.gdl", add={"../x": b"escaped"})
    return _predict(work, "evil.gdl"), ["evil.gdl", "'../x'", "not allowed"]


def bundle_with_lambda_layer(work):
    lambda_bundle(work / "model.gdl", work / "lambda.gdl")
    return _predict(work, "lambda.gdl"), ["lambda.gdl", "'Lambda'"]


def bare_keras_with_lambda(work):
    lambda_bundle(work / "model.gdl", work / "lambda.gdl")
    with zipfile.ZipFile(work / "lambda.gdl") as z:
        (work / "lambda.keras").write_bytes(z.read("networks/member_00.keras"))
    (work / "lambda.gdl").unlink()
    return _predict(work, "lambda.keras"), ["lambda.keras", "bare Keras model", "not loaded"]


def output_is_a_directory(work):
    (work / "map.tif").mkdir()
    return _predict(work), ["map.tif is a folder", "map.tif/result.tif"]


def train_output_is_a_directory(work):
    (work / "model_new.gdl").mkdir()
    return _train(work), ["model_new.gdl is a folder", "model_new.gdl/result.gdl"]


# -- issue 16: writes outside the given paths, bounded loading, values that are not numbers, messages ----------

def planted_journal_symlink(work):
    (work / "map.tif.partial.journal").symlink_to(work / "mag.tif")
    return _predict(work), ["map.tif.partial.journal", "was not made by this run"]


def planted_partial_symlink(work):
    (work / "map.tif.partial").symlink_to(work / "mag.tif")
    return _predict(work), ["map.tif.partial", "was not made by this run"]


def planted_lock_symlink(work):
    (work / "map.tif.lock").symlink_to(work / "mag.tif")
    return _predict(work), ["map.tif.lock", "symbolic link"]


def overwrite_an_input(work):
    return (["predict", str(work / "model.gdl"), str(work / "dem.tif"), "--input", f"dem={work / 'dem.tif'}",
             "--overwrite"], ["dem.tif", "is also an input of this run"])


def overwrite_the_model(work):
    return ["predict", str(work / "model.gdl"), str(work / "model.gdl"), "--overwrite"], ["model.gdl", "also an input"]


def overwrite_an_input_through_a_hard_link(work):
    os.link(work / "dem.tif", work / "alias.tif")
    return (["predict", str(work / "model.gdl"), str(work / "alias.tif"), "--input", f"dem={work / 'dem.tif'}",
             "--overwrite"], ["alias.tif", "is also an input of this run"])


def train_metrics_over_the_labels(work):
    args = _train(work)
    args[args.index("--metrics") + 1] = str(work / "labels.gpkg")
    return [*args, "--overwrite"], ["metrics file", "labels.gpkg", "is also an input"]


def unrelated_partial_file(work):
    (work / "map.tif.partial").write_text("the user's notes")
    return _predict(work), ["map.tif.partial", "was not made by this run; move or delete it"]


def nested_zip_bomb(work):
    nested_bomb_bundle(work / "model.gdl", work / "bomb.gdl", inflated=64 << 20)
    return _predict(work, "bomb.gdl"), ["bomb.gdl", "not a valid model file", "config.json inflates to", "zip bomb"]


def yaml_billion_laughs(work):
    lines = ["grid: {reference: dem}", "inputs:", "  dem: dem.tif", "  geo:", "    path: mag.tif",
             "    kind: categorical", '    categories: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (work / "spec.yaml").write_text("\n".join(lines + ["features: [dem]", ""]))
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["spec.yaml", "aliases", "100,000 values"]


def yaml_billion_laughs_info(work):
    args, named = yaml_billion_laughs(work)
    return ["info", args[1]], named


def spec_of_many_megabytes(work):
    (work / "spec.yaml").write_text("features: [" + ", ".join(["dem.slope"] * 250_000) + "]\n")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["spec.yaml", "MiB", "more than the 1 MiB"]


def spec_of_too_many_features(work):
    spec = yaml.safe_load((work / "spec.yaml").read_text())
    spec["features"] = [f"dem.tpi(radius={r})" for r in range(1, 2001)]
    (work / "spec.yaml").write_text(yaml.safe_dump(spec))
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["2,000 features", "more than 1,000"]


def fifo_as_raster(work):
    os.mkfifo(work / "f.tif")
    return (["features", str(work / "f.tif"), str(work / "out.tif"), "--features", "slope"],
            ["f.tif", "not a regular file"])


def fifo_as_model(work):
    os.mkfifo(work / "m.gdl")
    return _predict(work, "m.gdl"), ["m.gdl", "not a regular file"]


def fifo_as_spec(work):
    os.mkfifo(work / "fifo.yaml")
    return ["stack", str(work / "fifo.yaml"), str(work / "out.tif")], ["fifo.yaml", "not a regular file"]


def z_factor_nan_option(work):
    return (["features", str(work / "dem.tif"), str(work / "out.tif"), "--features", "slope", "--z-factor", "nan"],
            ["--z-factor", "not a finite number"])


def z_factor_nan_in_spec(work):
    _write_spec(work, dem={"path": "dem.tif", "z_factor": float("nan")})
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["inputs.dem.z_factor", "positive number"]


def nan_statistics_in_model(work):
    with zipfile.ZipFile(work / "model.gdl") as z:
        doc = json.loads(z.read("model.json"))
    bands = [{**b, "mean": float("nan")} for b in doc["preprocess"]["bands"]]
    rewrite_bundle(work / "model.gdl", work / "nan.gdl",
                   doc_changes={"preprocess": {**doc["preprocess"], "bands": bands}})
    return _predict(work, "nan.gdl"), ["nan.gdl", "not a valid model file", "non-finite number NaN"]


def _categorical_model(work) -> Path:
    write_raster(work / "geo.tif", (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 3 + 1).astype(np.uint8), nodata=0)
    spec = {"grid": {"reference": "dem"}, "inputs": {"dem": str(work / "dem.tif"),
                                                     "geo": {"path": str(work / "geo.tif"), "kind": "categorical"}},
            "features": ["dem", "geo.onehot"]}
    return make_bundle(spec, work / "geo.gdl", hidden=(4,))


def override_with_a_continuous_raster(work):
    _categorical_model(work)
    return (_predict(work, "geo.gdl", "--input", f"geo={work / 'mag.tif'}"),
            ["--input geo=", "mag.tif", "more than 1000 distinct values", "3 categories"])


def override_with_other_categories(work):
    _categorical_model(work)
    write_raster(work / "other.tif", np.full((SIZE, SIZE), 7, np.uint8), nodata=0)
    return (_predict(work, "geo.gdl", "--input", f"geo={work / 'other.tif'}"),
            ["--input geo=", "other.tif", "(7) are none of the 3"])


def option_parser_error(work):
    return ["predict", str(work / "model.gdl"), "--windw", "512"], ["--windw", "georaster-dl predict --help"]


def hidden_layer_of_a_hundred_million(work):
    return _train(work, "labels.gpkg", "--hidden", "100000000"), ["hidden 100000000", "weights", "more than"]


def features_on_a_dem_without_crs(work):
    write_raster(work / "nocrs.tif", _dem(), crs=None)
    return (["features", str(work / "nocrs.tif"), str(work / "out.tif"), "--features", "slope"],
            ["nocrs.tif", "no CRS", "--crs EPSG:XXXX"])


def rotated_secondary_input(work):
    write_raster(work / "rot.tif", _dem(), transform=Affine(30, 5, ORIGIN.c, 5, -30, ORIGIN.f))
    _write_spec(work, mag="rot.tif")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["inputs.mag", "rot.tif", "rotated"]


def one_class_without_cv(work):
    cells = [(r, c) for r in range(4, 44, 5) for c in range(4, 44, 8)]
    _points(cells, work / "one.gpkg", kind=["ridge"] * len(cells))
    return (_train(work, "one.gpkg", "--label-field", "kind", task="landform"),
            ["one.gpkg", "every label is of one class", "'ridge'", "labels of at least two classes"])


# -- issue 14: hostile inputs that once gave an internal error ------------------------------------------------

def symlink_loop_as_raster(work):
    os.symlink("loop.tif", work / "loop.tif")
    _write_spec(work, dem="loop.tif")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["loop.tif", "symbolic links"]


def deeply_nested_spec(work):
    (work / "spec.yaml").write_text("features: " + "[" * 5000 + "]" * 5000 + "\n")
    return ["stack", str(work / "spec.yaml"), str(work / "out.tif")], ["spec.yaml", "nested more than 32 levels"]


def _grid_spec(work, resolution) -> Path:
    spec = {"grid": {"crs": "EPSG:32633", "resolution": resolution, "bounds": [500000, 3990000, 501440, 3991440]},
            "inputs": {"dem": "dem.tif"}, "features": ["dem"]}
    (work / "spec.yaml").write_text(yaml.safe_dump(spec))
    return work / "spec.yaml"


def resolution_nan(work):
    return ["stack", str(_grid_spec(work, float("nan"))), str(work / "out.tif")], ["grid.resolution", "nan"]


def resolution_inf(work):
    return ["stack", str(_grid_spec(work, float("inf"))), str(work / "out.tif")], ["grid.resolution", "inf"]


def resolution_1e308(work):
    return ["stack", str(_grid_spec(work, 1e308)), str(work / "out.tif")], ["grid: resolution", "cells"]


def bundle_member_bad_crc(work):
    data = bytearray((work / "model.gdl").read_bytes())
    with zipfile.ZipFile(work / "model.gdl") as z:
        info = z.getinfo("model.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x01
    (work / "crc.gdl").write_bytes(bytes(data))
    return _predict(work, "crc.gdl"), ["crc.gdl", "not a valid model file: model.json is corrupt"]


def _without_key(work, key: str) -> Path:
    with zipfile.ZipFile(work / "model.gdl") as z:
        doc = json.loads(z.read("model.json"))
    doc.pop(key)
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    doc["content_sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return rewrite_bundle(work / "model.gdl", work / "edited.gdl", replace={"model.json": json.dumps(doc).encode()})


def model_json_without_versions(work):
    _without_key(work, "versions")
    return _predict(work, "edited.gdl"), ["edited.gdl", "not a valid model file", "entry 'versions' is missing"]


def model_json_without_versions_info(work):
    _without_key(work, "versions")
    return ["info", str(work / "edited.gdl")], ["edited.gdl", "not a valid model file", "'versions' is missing"]


def model_json_wrong_types(work):
    rewrite_bundle(work / "model.gdl", work / "edited.gdl", doc_changes={"versions": ["keras"], "band_names": "dem"})
    return ["info", str(work / "edited.gdl")], ["edited.gdl", "not a valid model file", "should be a list, not text"]


def unwritable_output_folder(work):
    if not Path("/sys").is_dir():
        pytest.skip("needs /sys, a folder no one may create files in")
    return ["predict", str(work / "model.gdl"), "/sys/map.tif"], ["/sys/map.tif.lock", "cannot be created"]


def lock_path_is_a_folder(work):
    (work / "map.tif.lock").mkdir()
    return _predict(work), ["map.tif.lock", "is a folder"]


def zip_bomb_posing_as_a_model(work):
    (work / "bomb.gdl").write_bytes(zip_bytes({"model.json": b"\0" * (40 << 20)}))
    return _predict(work, "bomb.gdl"), ["bomb.gdl", "not a valid model file", "model.json inflates to 41,943,040"]


# -- issue 14.2: a multi-band raster without band: ----------------------------------------------------

def multi_band_evidence_without_band(work):
    write_raster(work / "terrain3.tif", np.stack([_dem()] * 3), nodata=-9999)
    _write_spec(work, mag="terrain3.tif")
    return _train(work), ["inputs.mag", "terrain3.tif", "3 bands", "band: N"]


def multi_band_replacement_input(work):
    write_raster(work / "terrain2.tif", np.stack([_dem()] * 2), nodata=-9999)
    return _predict(work, "model.gdl", "--input", f"mag={work / 'terrain2.tif'}"), ["terrain2.tif", "2 bands"]


CASES = [truncated_geotiff, non_raster_named_tif, zero_byte_file, one_by_one_raster, all_nodata_raster,
         nan_only_float_raster, raster_without_crs, inputs_without_overlap,
         shapefile_missing_shx, shapefile_missing_dbf, geojson_null_geometries, csv_text_in_coordinate,
         labels_outside_grid, class_below_minimum, label_field_missing, label_field_wrong_type,
         label_field_fractional_classes, spec_misspelt_key, spec_python_tag,
         model_not_a_bundle, bundle_wrong_band_count, bundle_wrong_feature_list, bundle_path_traversal,
         bundle_with_lambda_layer, bare_keras_with_lambda, output_is_a_directory, train_output_is_a_directory,
         # issue 16
         planted_journal_symlink, planted_partial_symlink, planted_lock_symlink, overwrite_an_input,
         overwrite_the_model, overwrite_an_input_through_a_hard_link, train_metrics_over_the_labels,
         unrelated_partial_file, nested_zip_bomb, yaml_billion_laughs, yaml_billion_laughs_info,
         spec_of_many_megabytes, spec_of_too_many_features, fifo_as_raster, fifo_as_model, fifo_as_spec,
         z_factor_nan_option, z_factor_nan_in_spec, nan_statistics_in_model, override_with_a_continuous_raster,
         override_with_other_categories, option_parser_error, hidden_layer_of_a_hundred_million,
         features_on_a_dem_without_crs, rotated_secondary_input, one_class_without_cv,
         # issue 14
         symlink_loop_as_raster, deeply_nested_spec, resolution_nan, resolution_inf, resolution_1e308,
         bundle_member_bad_crc, model_json_without_versions, model_json_without_versions_info, model_json_wrong_types,
         unwritable_output_folder, lock_path_is_a_folder, zip_bomb_posing_as_a_model,
         # issue 14.2
         multi_band_evidence_without_band, multi_band_replacement_input]
#: Cases also run through the installed console script in its own process, as users run it.
IN_A_PROCESS = {spec_python_tag, bundle_with_lambda_layer, truncated_geotiff, fifo_as_raster, nested_zip_bomb,
                yaml_billion_laughs, option_parser_error, symlink_loop_as_raster}


def _state(p: Path) -> tuple:
    """A path's own kind, size and time, and those of what a link leads to (None for a loop)."""
    own = p.lstat()
    try:
        target = p.stat()
    except OSError:
        return own.st_mode, own.st_size, own.st_mtime_ns, None
    return own.st_mode, own.st_size, own.st_mtime_ns, (target.st_size, target.st_mtime_ns)


def _snapshot(*folders: Path) -> dict[str, tuple]:
    return {str(p): _state(p) for folder in folders for p in sorted(folder.rglob("*"))}


@pytest.fixture
def work(base, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the valid project, also the working directory (stray files would show)."""
    folder = tmp_path / "work"
    shutil.copytree(base, folder)
    monkeypatch.chdir(folder)
    return folder


def _check(code: int, err: str, named: list[str]) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in named:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_bad_input_gives_one_error_line_exit_2_and_no_output(case, work, base, capsys):
    args, named = case(work)
    capsys.readouterr()
    before = _snapshot(work, base)
    try:
        code = main(args)
    finally:
        progress.configure(False)
    _, err = capsys.readouterr()
    _check(code, err, named)
    assert _snapshot(work, base) == before


@pytest.mark.parametrize("case", sorted(IN_A_PROCESS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_bad_input_through_a_real_process(case, work, base):
    args, named = case(work)
    before = _snapshot(work, base)
    run = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=work, timeout=300)
    _check(run.returncode, run.stderr, named)
    assert _snapshot(work, base) == before
