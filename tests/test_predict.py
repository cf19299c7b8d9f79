"""Prediction: tiled equals whole, any worker count or scheduler gives the same bytes, outputs styled."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import write_raster
from georaster_dl.errors import OutputError, UserInputError
from georaster_dl.prediction import predict
from predict_support import make_bundle, synthetic_dem

ROWS, COLS = 1100, 1300


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    write_raster(d / "dem.tif", synthetic_dem(ROWS, COLS), nodata=np.nan)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")}},
            "features": ["dem", "dem.slope", "dem.tpi(radius=3)", "dem.aspect"]}
    models = {task: make_bundle(spec, d / f"{task}.gdl", task=task, members=2 if task != "regression" else 1)
              for task in ("prospectivity", "landform", "regression")}
    return d, spec, models


def _pixels(path):
    with rasterio.open(path) as ds:
        return ds.read(masked=False)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=st.sampled_from([512, 1024, 1536]), workers=st.integers(1, 3))
def test_tiled_prediction_equals_whole_raster_prediction(workspace, tmp_path_factory, window, workers):
    d, _, models = workspace
    out_dir = tmp_path_factory.mktemp("tiled")
    whole = d / "whole.tif"
    if not whole.exists():
        predict(models["prospectivity"], whole, window=1536, workers=1)  # one window covers the raster
    tiled = predict(models["prospectivity"], out_dir / "tiled.tif", window=window, workers=workers)[0]
    a, b = _pixels(whole), _pixels(tiled)
    assert np.array_equal(a, b, equal_nan=True)
    assert np.isnan(a).any() and np.isfinite(a).any()  # nodata carried through, values elsewhere


def test_output_bytes_do_not_depend_on_worker_count(workspace, tmp_path):
    _, _, models = workspace
    one = predict(models["prospectivity"], tmp_path / "one.tif", window=512, workers=1)[0]
    three = predict(models["prospectivity"], tmp_path / "three.tif", window=512, workers=3)[0]
    assert _sha(one) == _sha(three)


def test_nodata_cells_are_the_union_of_feature_neighbourhoods(workspace, tmp_path):
    d, _, models = workspace
    out = predict(models["prospectivity"], tmp_path / "p.tif", window=512)[0]
    with rasterio.open(d / "dem.tif") as ds:
        dem = ds.read(1)
    prob = _pixels(out)[0]
    # tpi(radius=3) reads 3 cells around: a cell next to a hole (or the edge) is nodata
    hole = np.argwhere(np.isnan(dem))[0]
    r, c = hole
    assert np.isnan(prob[r, max(c - 2, 0)])
    assert np.isnan(prob[:3]).all() and np.isnan(prob[:, -3:]).all()
    assert np.isfinite(prob[100:200, 100:200]).all()


def test_prospectivity_ensemble_writes_mean_and_sd_with_a_ramp_style(workspace, tmp_path):
    _, _, models = workspace
    out = predict(models["prospectivity"], tmp_path / "p.tif", window=512)[0]
    with rasterio.open(out) as ds:
        assert ds.count == 2 and ds.descriptions == ("probability", "probability sd")
        assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        assert ds.block_shapes[0] == (512, 512) and ds.compression.value == "ZSTD"
        prob = ds.read(1)
    assert np.nanmin(prob) >= 0 and np.nanmax(prob) <= 1
    assert "singlebandpseudocolor" in (tmp_path / "p.qml").read_text()


def test_landform_writes_paletted_classes_and_probabilities(workspace, tmp_path):
    _, _, models = workspace
    out = predict(models["landform"], tmp_path / "lf.tif", window=512)
    assert [p.name for p in out] == ["lf.tif", "lf_probabilities.tif"]
    with rasterio.open(out[0]) as ds:
        assert ds.dtypes[0] == "uint8" and ds.nodata == 0
        assert ds.colormap(1)[1][:3] == (31, 119, 180)
        assert ds.tags(1)["CLASS_2"] == "class 2"
        classes = ds.read(1)
    with rasterio.open(out[1]) as ds:
        probs = ds.read()[:3]
    valid = classes > 0
    assert np.array_equal(classes[valid], np.argmax(probs[:, valid], axis=0) + 1)
    assert 'type="paletted"' in (tmp_path / "lf.qml").read_text()


def test_bands_option_selects_outputs(workspace, tmp_path):
    _, _, models = workspace
    out = predict(models["landform"], tmp_path / "lf.tif", window=512, bands=("class",))
    assert [p.name for p in out] == ["lf.tif"]
    with pytest.raises(UserInputError, match="not an output of a landform model"):
        predict(models["landform"], tmp_path / "x.tif", bands=("mean",))


def test_regression_values_are_in_target_units(workspace, tmp_path):
    from rasterio.windows import Window

    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.stack import Stack

    _, _, models = workspace
    out = predict(models["regression"], tmp_path / "r.tif", window=512)[0]
    with rasterio.open(out) as ds:
        assert ds.count == 1 and ds.descriptions == ("value",)
        values = ds.read(1)
    # the network learns the z-score of the target (mean 10, sd 2): maps hold raw * 2 + 10
    bundle = load_bundle(models["regression"])
    with Stack(bundle.spec, prepare=False) as stack:
        data, valid = stack.read_window(Window(0, 0, COLS, ROWS))
    raw = bundle.networks[0](bundle.preprocess.apply(data[:, valid].T)).numpy()[:, 0]
    np.testing.assert_allclose(values[valid], raw * 2 + 10, rtol=1e-5, atol=1e-5)


def test_input_override_by_name(workspace, tmp_path):
    d, _, models = workspace
    write_raster(tmp_path / "dem2.tif", synthetic_dem(ROWS, COLS, seed=5) + 50, nodata=np.nan)
    base = predict(models["prospectivity"], tmp_path / "a.tif", window=512)[0]
    other = predict(models["prospectivity"], tmp_path / "b.tif", window=512, inputs={"dem": tmp_path / "dem2.tif"})[0]
    assert not np.array_equal(_pixels(base), _pixels(other), equal_nan=True)
    with pytest.raises(UserInputError, match="no input named 'dme'"):
        predict(models["prospectivity"], tmp_path / "c.tif", inputs={"dme": tmp_path / "dem2.tif"})


def test_existing_output_is_kept_without_overwrite(workspace, tmp_path):
    _, _, models = workspace
    out = tmp_path / "p.tif"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        predict(models["prospectivity"], out)
    assert out.read_bytes() == b"keep me"


def test_window_size_must_be_a_tile_multiple(workspace, tmp_path):
    _, _, models = workspace
    with pytest.raises(UserInputError, match="multiple of 512"):
        predict(models["prospectivity"], tmp_path / "p.tif", window=700)


@pytest.mark.slow
def test_local_cluster_writes_the_same_pixels_as_a_local_run(workspace, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, _, models = workspace
    local = predict(models["prospectivity"], tmp_path / "local.tif", window=512, workers=2)[0]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = predict(models["prospectivity"], tmp_path / "cluster.tif", window=512, scheduler=client)[0]
        # the model was loaded once per worker process, not once per window
        loads = client.run(lambda: __import__("georaster_dl.engine.worker", fromlist=["x"]).worker_predictor.cache_info().misses)
    assert np.array_equal(_pixels(local), _pixels(remote), equal_nan=True)
    assert _sha(local) == _sha(remote)
    assert all(v <= 1 for v in loads.values())


def test_one_hot_models_map_what_the_forward_pass_gives_on_full_rows(workspace, tmp_path):
    # Prediction reads one-hot inputs as codes and expands them a strip at a time; the map
    # must equal the forward pass on the stack's full one-hot rows, as training scores them.
    from rasterio.windows import Window

    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.models.forward import Forward
    from georaster_dl.stack import Stack

    d, _, _ = workspace
    dem = synthetic_dem(ROWS, COLS)
    geology = (np.digitize(np.nan_to_num(dem, nan=200), [190, 200, 210, 220]) * 10 + 10).astype("uint8")
    write_raster(tmp_path / "geology.tif", geology, nodata=0)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")},
                       "geology": {"path": str(tmp_path / "geology.tif"), "kind": "categorical"}},
            "features": ["dem", "geology.onehot", "dem.geomorphons(search=3, onehot=true)"]}
    model = make_bundle(spec, tmp_path / "m.gdl")
    out = predict(model, tmp_path / "p.tif", window=512, workers=2)[0]
    bundle = load_bundle(model)
    with Stack(bundle.spec, prepare=False) as stack:
        assert len(stack.band_names) == 1 + 5 + 10 and len(stack.compact_layout) == 3
        data, valid = stack.read_window(Window(0, 0, COLS, ROWS))
    expected = np.full((ROWS, COLS), np.nan, np.float32)
    expected[valid] = Forward(bundle)(data[:, valid].T)[0][:, 0]
    assert np.array_equal(_pixels(out)[0], expected, equal_nan=True)


def test_an_output_under_the_home_folder_may_be_written_with_a_tilde(workspace, tmp_path, monkeypatch):
    _, _, models = workspace
    monkeypatch.setenv("HOME", str(tmp_path))
    written = predict(models["regression"], "~/r.tif", window=512)
    assert written == [tmp_path / "r.tif"] and (tmp_path / "r.tif").exists()
    with pytest.raises(UserInputError, match="--resume: there is no journal"):
        predict(models["regression"], "~/r2.tif", resume=True)


#: Runs the CLI with TensorFlow and Keras unimportable.
_WITHOUT_TENSORFLOW = """
import sys

class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is made unimportable by this test")

sys.meta_path.insert(0, NoTensorFlow())
from georaster_dl.cli.main import main
code = main(sys.argv[1:])
assert not [m for m in sys.modules if m.partition(".")[0] in ("tensorflow", "keras")]
sys.exit(code)
"""


def test_predict_and_info_work_without_tensorflow(workspace, tmp_path):
    import subprocess
    import sys

    from rasterio.windows import Window

    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.stack import Stack

    _, _, models = workspace
    model = models["prospectivity"]
    run = [sys.executable, "-c", _WITHOUT_TENSORFLOW]
    done = subprocess.run(run + ["predict", str(model), str(tmp_path / "p.tif"), "--window", "512"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    described = subprocess.run(run + ["info", str(model)], capture_output=True, text=True)
    assert described.returncode == 0 and "task         prospectivity" in described.stdout, described.stderr
    # the map equals the members' Keras outputs (the normal forward pass before ONNX) within 1e-5
    bundle = load_bundle(model)
    with Stack(bundle.spec, prepare=False) as stack:
        data, valid = stack.read_window(Window(0, 0, COLS, ROWS))
    z = bundle.preprocess.apply(data[:, valid].T)
    members = np.stack([net(z, training=False).numpy()[:, 0] for net in bundle.networks])
    pixels = _pixels(tmp_path / "p.tif")
    assert np.array_equal(np.isfinite(pixels[0]), valid)
    np.testing.assert_allclose(pixels[0][valid], members.mean(axis=0), rtol=0, atol=1e-5)
    np.testing.assert_allclose(pixels[1][valid], members.std(axis=0), rtol=0, atol=1e-5)
    same = predict(model, tmp_path / "in_process.tif", window=1024)[0]
    assert np.array_equal(_pixels(same), pixels, equal_nan=True)


def test_device_gpu_without_a_cuda_provider_is_one_clear_error(workspace, tmp_path, capsys):
    import onnxruntime

    from georaster_dl.cli.main import main

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this ONNX Runtime has a CUDA provider")
    _, _, models = workspace
    for device in ("gpu", "cuda"):
        assert main(["predict", str(models["prospectivity"]), str(tmp_path / "g.tif"), "--device", device]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --device {device}: this ONNX Runtime has no CUDA provider; install onnxruntime-gpu "
                       "instead of onnxruntime on a machine with an NVIDIA driver, or use --device auto"]
    assert not list(tmp_path.iterdir())
    assert main(["predict", str(models["prospectivity"]), str(tmp_path / "a.tif"), "--device", "auto"]) == 0
