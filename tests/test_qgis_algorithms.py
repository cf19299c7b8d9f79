"""Every GeoRaster DL algorithm end to end in real, headless QGIS with the real backend.

Each algorithm runs through ``qgis_process.bin run georaster_dl:<alg>`` on the sample study
area (generated at 256 x 256 cells); PyQGIS scripts check processing.run with memory layers,
cancelling, and the styled loading of outputs. Tests whose backend command has not landed
yet skip with the command's name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from qgis_support import (BACKEND, make_profile, missing_commands, qgis_process, requires_qgis, run_algorithm,
                          run_script)

pytestmark = [pytest.mark.qgis, requires_qgis]
#: One network: the outputs checked here are those of a single model (no SD bands).
FAST_TRAINING = {"HIDDEN": "16", "EPOCHS": 3, "BATCH_SIZE": 128, "SEED": 1, "ENSEMBLE": 1}


def needs(*commands: str) -> None:
    missing = missing_commands(*commands)
    assert not missing, f"backend command(s) {', '.join(missing)} missing from {BACKEND}"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from georaster_dl.sampledata import write_sample_data

    folder = tmp_path_factory.mktemp("sample")
    write_sample_data(folder, size=256)
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return make_profile(tmp_path_factory.mktemp("qgis_home"), backend=str(BACKEND))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


def grid_of(path):
    with rasterio.open(path) as ds:
        return ds.crs, ds.transform, ds.width, ds.height


def read(path, band=1):
    with rasterio.open(path) as ds:
        return ds.read(band, masked=True), list(ds.descriptions), ds.dtypes[0]


def pyqgis(env, tmp_path, **config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"backend": str(BACKEND), **config}))
    return run_script(env, "processing_checks.py", path)


@pytest.fixture(scope="module")
def landform_model(env, sample, out):
    needs("train")
    return run_algorithm(env, "train_landforms", {
        "DEM": sample / "dem.tif", "FEATURES": ["slope", "tpi"], "MORE": "tpi:radius=5",
        "LABELS": sample / "landforms.gpkg", "LABEL_FIELD": "landform", **FAST_TRAINING, "CALIBRATE": True,
        "OUTPUT": out / "landforms.gdl", "REPORT": out / "landforms.html"})


@pytest.fixture(scope="module")
def prospectivity_model(env, sample, out):
    needs("train")
    return run_algorithm(env, "train_prospectivity", {
        "GRID": sample / "dem.tif", "EVIDENCE": [sample / "magnetics.tif"], "CATEGORICAL": [sample / "geology.tif"],
        "VECTORS": [sample / "faults.gpkg"], "LABELS": sample / "deposits.gpkg", **FAST_TRAINING,
        "OUTPUT": out / "prospectivity.gdl", "REPORT": out / "prospectivity.html"})


@pytest.fixture(scope="module")
def classified(env, sample, out, landform_model):
    needs("predict")
    return run_algorithm(env, "classify_landforms", {"MODEL": landform_model["OUTPUT"], "DEM": sample / "dem.tif",
                                                      "OUTPUT": out / "landforms.tif"})


@pytest.fixture(scope="module")
def prospectivity_map(env, out, prospectivity_model):
    needs("predict")
    return run_algorithm(env, "map_prospectivity", {"MODEL": prospectivity_model["OUTPUT"],
                                                     "OUTPUT": out / "prospectivity.tif"})


def test_the_plugins_choices_are_the_backends_capabilities(env, tmp_path):
    done = subprocess.run([str(BACKEND), "info", "--capabilities", "--json"], capture_output=True, text=True)
    doc = json.loads(done.stdout)
    found = pyqgis(env, tmp_path, choices=True)["choices"]
    params = found["parameters"]
    terrain = [n for n, f in doc["features"].items() if f["inputs"] == ["continuous"]]
    assert params["terrain_features.FEATURES"] == params["train_landforms.FEATURES"] == terrain
    for alg in ("train_landforms", "train_prospectivity", "train_regression"):
        assert params[f"{alg}.ACTIVATION"] == doc["activations"]
        assert params[f"{alg}.OPTIMIZER"] == doc["optimizers"]
        assert params[f"{alg}.EPOCHS"] == doc["train_defaults"]["epochs"]
    for alg in ("predict", "classify_landforms", "map_prospectivity"):
        assert params[f"{alg}.DEVICE"] == doc["devices"]
        assert params[f"{alg}.MODEL"] == f"GeoRaster DL model (*{doc['files']['model']})"
    search = next(p for p in doc["features"]["geomorphons"]["params"] if p["name"] == "search")
    assert params["geomorphons.SEARCH"] == search["default"]
    # read once per backend: cached in the profile under the backend's real path
    assert [k.split("|")[0] for k in found["cache_keys"]] == [os.path.realpath(BACKEND)]


def test_dialog_defaults_keep_work_and_skill(env, sample, tmp_path):
    described = pyqgis(env, tmp_path, choices=True)["choices"]["described"]
    for alg in ("train_landforms", "train_prospectivity", "train_regression"):
        assert described[f"{alg}.CV_FOLDS"][1] == 5 and described[f"{alg}.CV_BLOCK_SIZE"][1] is None
    assert described["train_landforms.LABEL_FIELD"][1:] == [None, True]  # nothing (such as fid) pre-selected
    assert "also used as evidence" in described["train_prospectivity.GRID"][0]
    common = [f"--DEM={sample / 'dem.tif'}", f"--LABELS={sample / 'landforms.gpkg'}"]
    no_field = qgis_process(env, "run", "georaster_dl:train_landforms", *common, f"--OUTPUT={tmp_path / 'm.gdl'}")
    assert "Class field: choose the attribute holding the landform classes." in no_field.stderr
    temporary = qgis_process(env, "run", "georaster_dl:train_landforms", *common, "--LABEL_FIELD=landform",
                             "--OUTPUT=TEMPORARY_OUTPUT")
    assert "Model file: choose where to save the model (.gdl); a temporary file is deleted" in temporary.stderr
    assert no_field.returncode and temporary.returncode and not list(tmp_path.glob("m.*"))


def test_backend_messages_name_the_dialogs_parameters(env, sample, tmp_path):
    labels = gpd.read_file(sample / "landforms.gpkg")
    labels.loc[labels.index[0], "landform"] = "rare"  # a class with one label: too few to learn
    labels.to_file(tmp_path / "labels.gpkg")
    done = qgis_process(env, "run", "georaster_dl:train_landforms", f"--DEM={sample / 'dem.tif'}",
                        f"--LABELS={tmp_path / 'labels.gpkg'}", "--LABEL_FIELD=landform", "--CV_FOLDS=0",
                        f"--OUTPUT={tmp_path / 'm.gdl'}")
    assert done.returncode != 0 and "'rare'" in done.stderr
    assert "--where" not in done.stderr and "tick 'Selected features only'" in done.stderr


def test_terrain_features_writes_one_band_per_feature_on_the_dem_grid(env, sample, out):
    needs("features")
    result = run_algorithm(env, "terrain_features", {"INPUT": sample / "dem.tif", "FEATURES": ["slope", "aspect"],
                                                     "MORE": "tpi:radius=3", "OUTPUT": out / "terrain.tif"})
    assert grid_of(result["OUTPUT"]) == grid_of(sample / "dem.tif")
    with rasterio.open(result["OUTPUT"]) as ds:
        assert ds.count == 3
        slope = ds.read(1, masked=True)
    assert 0 <= slope.min() and slope.max() < 90 and slope.count() > 0.5 * slope.size


def test_geomorphons_are_forms_1_to_10_in_a_byte_raster_with_colours_and_names(env, sample, out, tmp_path):
    needs("features")
    result = run_algorithm(env, "geomorphons", {"INPUT": sample / "dem.tif", "SEARCH": 5,
                                                "OUTPUT": out / "geomorphons.tif"})
    forms, _, dtype = read(result["OUTPUT"])
    assert grid_of(result["OUTPUT"]) == grid_of(sample / "dem.tif") and dtype == "uint8"
    assert set(np.unique(forms.compressed())) <= set(range(1, 11)) and len(np.unique(forms.compressed())) > 3
    with rasterio.open(result["OUTPUT"]) as ds:
        table = ds.colormap(1)
    assert len({table[code] for code in range(1, 11)}) == 10  # a colour per form
    bare = tmp_path / "bare_geomorphons.tif"  # without its .qml: styled from the colour table and names
    shutil.copy(result["OUTPUT"], bare)
    styled = pyqgis(env, tmp_path, loader=[result["OUTPUT"], str(bare)])["loader"]
    forms = ["flat", "summit", "ridge", "shoulder", "spur", "slope", "hollow", "footslope", "valley", "depression"]
    for path in (result["OUTPUT"], str(bare)):
        assert styled[path]["type"] == "paletted"
        assert styled[path]["classes"] == {str(code): name for code, name in enumerate(forms, 1)}


def byte_declaring_nodata_minus_one(path, like):
    """A Byte raster (codes 1-10) on ``like``'s grid whose GDAL_NODATA tag says -1, as GA's FaultDensity.tif."""
    import tifffile

    with rasterio.open(like) as ds:
        profile = {"driver": "GTiff", "width": ds.width, "height": ds.height, "count": 1, "dtype": "uint8",
                   "crs": ds.crs, "transform": ds.transform, "nodata": 255}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write((np.arange(profile["width"] * profile["height"]) % 10 + 1).astype("uint8").reshape(
            1, profile["height"], profile["width"]))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[42113].overwrite("-1")
    return path


def test_an_impossible_nodata_warns_once_and_the_dialogs_nodata_override_applies(env, sample, tmp_path):
    byte = byte_declaring_nodata_minus_one(tmp_path / "FaultDensity.tif", sample / "dem.tif")
    plain = qgis_process(env, "run", "georaster_dl:stack_rasters", f"--EVIDENCE={byte}",
                         f"--OUTPUT={tmp_path / 'plain.tif'}")
    assert plain.returncode == 0, plain.stderr
    log = plain.stdout + plain.stderr
    assert log.count("FaultDensity.tif declares nodata -1, which its uint8 band cannot hold") == 1
    assert "Nodata overrides" in log
    assert read(tmp_path / "plain.tif")[0].count() == read(byte)[0].size  # every cell valid, as GDAL reads it
    result = run_algorithm(env, "stack_rasters", {"EVIDENCE": [byte], "NODATA": "FaultDensity=1",
                                                  "OUTPUT": tmp_path / "override.tif"})
    values = read(result["OUTPUT"])[0]
    assert values.mask.sum() == (read(byte)[0] == 1).sum() and values.min() == 2
    refused = qgis_process(env, "run", "georaster_dl:stack_rasters", f"--EVIDENCE={byte}", "--NODATA=Faults=1",
                           f"--OUTPUT={tmp_path / 'refused.tif'}")
    assert refused.returncode != 0
    assert "Nodata overrides: no chosen raster layer is named 'Faults'; the rasters are FaultDensity" in refused.stderr
    assert not (tmp_path / "refused.tif").exists()


def test_a_raster_output_named_for_another_format_is_refused(env, sample, tmp_path):
    done = qgis_process(env, "run", "georaster_dl:terrain_features", f"--INPUT={sample / 'dem.tif'}",
                        f"--OUTPUT={tmp_path / 'slope.gpkg'}")
    assert done.returncode != 0
    assert ("Terrain features: slope.gpkg is not a GeoTIFF, the only format the backend writes; "
            "name it slope.tif.") in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_terrain_features_from_the_typed_entry_alone(env, sample, tmp_path):
    result = pyqgis(env, tmp_path, run={"algorithm": "georaster_dl:terrain_features", "params": {
        "INPUT": str(sample / "dem.tif"), "FEATURES": [], "MORE": "tpi:radius=2", "OUTPUT": str(tmp_path / "t.tif")}})
    assert read(result["run"]["OUTPUT"])[1] == ["dem.tpi(radius=2)"]
    refused = pyqgis(env, tmp_path, run={"algorithm": "georaster_dl:terrain_features", "params": {
        "INPUT": str(sample / "dem.tif"), "FEATURES": [], "MORE": " ", "OUTPUT": str(tmp_path / "none.tif")}})
    assert "Choose at least one feature, or type one under 'More features'" in refused["run"]["error"]


def test_every_band_of_multi_band_evidence_is_used_and_a_multi_band_dem_refused(env, sample, tmp_path):
    with rasterio.open(sample / "dem.tif") as ds:
        profile = {"driver": "GTiff", "width": ds.width, "height": ds.height, "count": 3, "dtype": "float32",
                   "crs": ds.crs, "transform": ds.transform}
        dem = ds.read(1).astype("float32")
    terrain = tmp_path / "terrain.tif"
    with rasterio.open(terrain, "w", **profile) as ds:
        ds.write(np.stack([dem, dem * 2, dem * 3]))
        ds.descriptions = ("dem.slope", "dem.aspect", None)
    result = run_algorithm(env, "stack_rasters", {"EVIDENCE": [terrain], "OUTPUT": tmp_path / "stack.tif"})
    assert read(result["OUTPUT"])[1] == ["dem_slope", "dem_aspect", "terrain_b3"]
    assert read(result["OUTPUT"], band=3)[0].max() == 3 * dem.max()
    refused = qgis_process(env, "run", "georaster_dl:terrain_features", f"--INPUT={terrain}",
                           f"--OUTPUT={tmp_path / 'slope.tif'}")
    assert "DEM: terrain has 3 bands; terrain features need a one-band elevation raster" in refused.stderr
    assert not (tmp_path / "slope.tif").exists()


def test_stack_aligns_rasters_and_vector_distances_on_the_reference_grid(env, sample, out):
    result = run_algorithm(env, "stack_rasters", {
        "GRID": sample / "dem.tif", "EVIDENCE": [sample / "magnetics.tif", sample / "radiometrics.tif"],
        "CATEGORICAL": [sample / "geology.tif"], "VECTORS": [sample / "faults.gpkg"], "ONEHOT": True,
        "OUTPUT": out / "stack.tif"})
    assert grid_of(result["OUTPUT"]) == grid_of(sample / "dem.tif")
    with rasterio.open(result["OUTPUT"]) as ds:
        names = list(ds.descriptions)
    assert names[:3] == ["dem", "magnetics", "radiometrics"] and names[-1] == "faults.distance"
    assert sum(n.startswith("geology.onehot") for n in names) == 6


def test_train_landforms_writes_model_and_report(landform_model):
    assert landform_model["OUTPUT"].endswith(".gdl")
    assert "<html" in open(landform_model["REPORT"], encoding="utf-8").read().lower()


def test_training_cross_validates_by_default_on_blocks_derived_from_the_grid(landform_model):
    done = subprocess.run([str(BACKEND), "info", landform_model["OUTPUT"], "--json"], capture_output=True, text=True)
    doc = json.loads(done.stdout)
    # 5 folds; blocks a tenth of the 256-cell x 30 m grid's side (768 m, to 2 significant digits)
    assert doc["options"]["training"]["cv_folds"] == 5 and doc["options"]["training"]["cv_block_size"] == 770
    assert doc["metrics"]["cv"]
    # the fixture ticked 'Calibrate probabilities': the temperature is in the metrics
    assert doc["options"]["training"]["calibrate"] is True and doc["metrics"]["cv"]["calibration"]["temperature"] > 0


def test_classify_landforms_writes_named_classes_and_probabilities_on_the_dem_grid(classified, sample):
    classes, _, dtype = read(classified["OUTPUT"])
    assert dtype == "uint8" and grid_of(classified["OUTPUT"]) == grid_of(sample / "dem.tif")
    names = set(gpd.read_file(sample / "landforms.gpkg")["landform"])
    assert set(np.unique(classes.compressed())) <= set(range(1, len(names) + 1))
    with rasterio.open(classified["PROBABILITIES"]) as ds:
        assert ds.count == len(names) and all(d.startswith("probability ") for d in ds.descriptions)


def test_prospectivity_map_is_a_probability_on_the_grid(prospectivity_map, sample):
    p, names, _ = read(prospectivity_map["OUTPUT"])
    assert grid_of(prospectivity_map["OUTPUT"]) == grid_of(sample / "dem.tif")
    assert names == ["probability"] and 0 <= p.min() and p.max() <= 1


def test_ranked_targets_cover_the_top_area_ranked_and_load_styled_by_rank(env, prospectivity_map, tmp_path):
    needs("targets")
    out = tmp_path / "targets.gpkg"
    params = {"MAP": prospectivity_map["OUTPUT"], "TOP_AREA": 5, "OUTPUT": str(out)}
    added = pyqgis(env, tmp_path, load={"algorithm": "georaster_dl:ranked_targets", "params": params})["load"]
    frame = gpd.read_file(out)
    p, _, _ = read(prospectivity_map["OUTPUT"])
    assert 4.5 <= 100 * frame["cells"].sum() / p.count() <= 5.5
    assert frame["rank"].tolist() == list(range(1, len(frame) + 1))
    assert frame["mean_probability"].idxmax() == 0 and frame.crs == grid_of(prospectivity_map["OUTPUT"])[0]
    layer = next(v for source, v in added.items() if source.startswith(str(out)))
    assert layer["type"] == "graduatedSymbol" and layer["attribute"] == "rank"
    assert layer["features"] == len(frame) and layer["ranges"][0].startswith("rank")


def test_ranked_targets_refuse_a_class_map_and_a_shapefile_name(env, classified, prospectivity_map, tmp_path):
    needs("targets")
    done = qgis_process(env, "run", "georaster_dl:ranked_targets", f"--MAP={classified['OUTPUT']}",
                        f"--OUTPUT={tmp_path / 't.gpkg'}")
    assert done.returncode != 0 and "is a class map" in done.stderr and "Traceback" not in done.stderr
    done = qgis_process(env, "run", "georaster_dl:ranked_targets", f"--MAP={prospectivity_map['OUTPUT']}",
                        f"--OUTPUT={tmp_path / 't.shp'}")
    assert done.returncode != 0 and "t.shp is not a GeoPackage" in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []


def test_map_prospectivity_refuses_a_landform_model_with_one_line_and_writes_nothing(env, landform_model, tmp_path):
    done = qgis_process(env, "run", "georaster_dl:map_prospectivity", f"--MODEL={landform_model['OUTPUT']}",
                        f"--OUTPUT={tmp_path / 'p.tif'}")
    assert done.returncode != 0
    assert f"{landform_model['OUTPUT']} is a landform model, not a prospectivity model" in done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


def test_describe_model_lists_the_inputs_replace_model_inputs_takes(env, sample, prospectivity_model):
    result = run_algorithm(env, "describe_model", {"MODEL": prospectivity_model["OUTPUT"]})
    assert result["TASK"] == "prospectivity" and "magnetics" in result["BANDS"]
    inputs = dict(pair.split("=", 1) for pair in result["INPUTS"].split("; "))
    assert set(inputs) == {"dem", "magnetics", "geology", "faults"}
    assert inputs["magnetics"] == str(sample / "magnetics.tif")


def test_train_regression_then_predict_writes_values(env, sample, out):
    needs("train", "predict")
    model = run_algorithm(env, "train_regression", {
        "EVIDENCE": [sample / "magnetics.tif", sample / "radiometrics.tif"], "GRID": sample / "dem.tif",
        "CATEGORICAL": [sample / "geology.tif"], "LABELS": sample / "assays.gpkg", "LABEL_FIELD": "cu_ppm",
        **FAST_TRAINING, "OUTPUT": out / "cu.gdl", "REPORT": out / "cu.html"})
    result = run_algorithm(env, "predict", {"MODEL": model["OUTPUT"], "OUTPUT": out / "cu.tif"})
    values, names, _ = read(result["OUTPUT"])
    assert names == ["value"] and values.count() > 0 and "PROBABILITIES" not in result


def test_a_mistyped_feature_list_is_one_clear_error_without_traceback(env, sample, tmp_path):
    done = qgis_process(env, "run", "georaster_dl:train_landforms", f"--DEM={sample / 'dem.tif'}",
                        "--FEATURES=slope", "--MORE=tpi radius=10", f"--LABELS={sample / 'landforms.gpkg'}",
                        "--LABEL_FIELD=landform", f"--OUTPUT={tmp_path / 'm.gdl'}")
    assert done.returncode != 0
    assert "cannot parse 'dem.tpi radius=10'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not list(tmp_path.iterdir())


def test_evaluate_writes_an_html_report(env, sample, out, prospectivity_model):
    needs("evaluate")
    result = run_algorithm(env, "evaluate", {"MODEL": prospectivity_model["OUTPUT"],
                                             "LABELS": sample / "deposits.gpkg", "REPORT": out / "evaluation.html",
                                             "METRICS": out / "evaluation.json"})
    assert "<html" in open(result["REPORT"], encoding="utf-8").read().lower()
    assert json.loads(open(result["METRICS"], encoding="utf-8").read())


def test_outputs_load_styled_with_the_models_class_names(env, sample, classified, prospectivity_map, tmp_path):
    bare = tmp_path / "bare_landforms.tif"  # without its .qml: the loader reads the colour table and tags
    shutil.copy(classified["OUTPUT"], bare)
    styled = pyqgis(env, tmp_path, loader=[classified["OUTPUT"], str(bare), prospectivity_map["OUTPUT"]])["loader"]
    names = set(gpd.read_file(sample / "landforms.gpkg")["landform"])
    for path in (classified["OUTPUT"], str(bare)):
        assert styled[path]["type"] == "paletted"
        assert set(styled[path]["classes"].values()) == names
    assert styled[prospectivity_map["OUTPUT"]]["type"] == "singlebandpseudocolor"


def test_toolbox_run_adds_styled_class_and_probability_layers_to_the_project(env, sample, landform_model, tmp_path):
    target = tmp_path / "landforms.tif"
    params = {"MODEL": landform_model["OUTPUT"], "DEM": str(sample / "dem.tif"), "OUTPUT": str(target)}
    added = pyqgis(env, tmp_path, load={"algorithm": "georaster_dl:classify_landforms", "params": params})["load"]
    names = set(gpd.read_file(sample / "landforms.gpkg")["landform"])
    assert added[str(target)]["type"] == "paletted" and set(added[str(target)]["classes"].values()) == names
    probabilities = added[str(tmp_path / "landforms_probabilities.tif")]
    assert probabilities["type"] == "singlebandpseudocolor" and probabilities["band_count"] == len(names)


def test_memory_and_virtual_layers_are_written_to_files_for_the_backend(env, sample, tmp_path):
    result = pyqgis(env, tmp_path, layers={"dem": str(sample / "dem.tif"), "faults": str(sample / "faults.gpkg"),
                                           "out": str(tmp_path / "stack.tif")})["layers"]
    assert result["virtual_valid"] and result["memory_provider"] == "memory" and result["memory_features"] > 0
    assert any(line.startswith("Writing raster layer 'virtual dem'") for line in result["log"])
    assert grid_of(result["output"]) == grid_of(sample / "dem.tif")
    with rasterio.open(result["output"]) as ds:
        assert ds.count == 2 and ds.descriptions[1].endswith(".distance")


def test_cancel_in_processing_run_stops_the_backend_and_leaves_no_output(env, sample, tmp_path):
    needs("train")
    target = tmp_path / "cancelled.gdl"
    params = {"DEM": str(sample / "dem.tif"), "LABELS": str(sample / "landforms.gpkg"), "LABEL_FIELD": "landform",
              "EPOCHS": 1000, "OUTPUT": str(target), "REPORT": str(tmp_path / "cancelled.html")}
    result = pyqgis(env, tmp_path, cancel={"algorithm": "georaster_dl:train_landforms", "params": params,
                                           "out": str(target)})["cancel"]
    assert result["error"].startswith("Cancelled")
    assert result["pids_at_cancel"] and result["alive_after"] == []
    assert result["seconds"] < 2.0
    assert result["left"] == []


def test_map_prospectivity_writes_explanation_and_area_of_applicability_styled(env, out, prospectivity_model):
    result = run_algorithm(env, "map_prospectivity", {"MODEL": prospectivity_model["OUTPUT"], "APPLICABILITY": True,
                                                      "EXPLAIN": True, "OUTPUT": out / "prospectivity_aoa.tif"})
    assert result["EXPLAIN"] == str(out / "prospectivity_aoa_explain.tif")
    with rasterio.open(result["EXPLAIN"]) as ds, rasterio.open(result["OUTPUT"]) as pred:
        total = ds.read().sum(axis=0) + float(ds.tags()["GDL_BASELINE"])
        probability = pred.read(1)
        assert ds.count >= 3 and "magnetics" in " ".join(ds.descriptions)
    valid = np.isfinite(probability)
    assert np.abs(total[valid] - probability[valid]).max() < 0.05  # completeness
    assert "#2166ac" in (out / "prospectivity_aoa_explain.qml").read_text()  # the diverging ramp
    assert result["APPLICABILITY"] == str(out / "prospectivity_aoa_applicability.tif")
    with rasterio.open(result["APPLICABILITY"]) as ds:
        assert ds.descriptions == ("dissimilarity index", "area of applicability")
        mask = ds.read(2, masked=True)
        assert float(ds.tags()["GDL_AOA_THRESHOLD"]) > 0
    assert set(np.unique(mask.compressed())) <= {0.0, 1.0} and mask.count() > 0
    assert 'type="paletted" band="2"' in (out / "prospectivity_aoa_applicability.qml").read_text()
