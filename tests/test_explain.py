"""predict --explain: Integrated Gradients attributions per feature, complete, tiled equals whole."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from conftest import write_raster
from georaster_dl.cli.main import main
from georaster_dl.explain import BASELINE_TAG, Explainer
from georaster_dl.prediction import predict
from model_support import FAST, sample_area
from predict_support import make_bundle, synthetic_dem


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.descriptions, ds.tags()


@pytest.fixture(scope="module")
def sample_model(tmp_path_factory):
    """The sample prospectivity model (a 2-member ensemble) and its explained prediction."""
    from georaster_dl.training import train

    d = tmp_path_factory.mktemp("explain_sample")
    paths = sample_area()
    train(paths["spec"], paths["deposits"], "prospectivity", seed=0, out=d / "p.gdl", ensemble=2, **FAST)
    written = predict(d / "p.gdl", d / "p.tif", explain=True, window=512)
    return d / "p.gdl", written


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    write_raster(d / "dem.tif", synthetic_dem(560, 600), nodata=np.nan)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")}},
            "features": ["dem", "dem.slope", "dem.tpi(radius=3)", "dem.aspect"]}
    models = {task: make_bundle(spec, d / f"{task}.gdl", task=task, members=2 if task == "landform" else 1)
              for task in ("prospectivity", "landform", "regression")}
    return d, models


def test_sample_model_attributions_are_complete_per_feature_in_spec_order(sample_model):
    model, written = sample_model
    assert [p.name for p in written] == ["p.tif", "p_explain.tif"]
    prob = _read(written[0])[0][0]  # band 2: the members' SD
    bands, names, tags = _read(written[1])
    assert names == ("dem", "dem.slope", "dem.tpi(radius=5)", "mag", "radiometrics", "geology.onehot",
                     "faults.distance")
    valid = np.isfinite(prob)
    assert np.isfinite(bands[:, valid]).all() and np.isnan(bands[:, ~valid]).all() and (~valid).any()
    error = np.abs(float(tags[BASELINE_TAG]) + bands.sum(axis=0)[valid] - prob[valid])
    assert np.mean(error <= 0.02) >= 0.99
    assert "integrated gradients" in tags["GDL_EXPLAIN_METHOD"]
    assert (written[1].parent / "p_explain.qml").read_text().count("#f7f7f7") == 1  # the diverging ramp
    # every input matters somewhere: no band is all zeros
    assert (np.abs(bands[:, valid]).max(axis=1) > 1e-3).all()


def test_attributions_match_tensorflow_gradients_with_one_hot_bands_summed(sample_model):
    """Integrated Gradients computed with TensorFlow's autodiff on the full one-hot rows, each
    feature's bands summed, equal the NumPy backward pass on compact rows."""
    import tensorflow as tf
    from rasterio.windows import Window

    from georaster_dl.features.registry import resolve
    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.stack import Stack

    model, _ = sample_model
    bundle = load_bundle(model)
    explainer = Explainer(bundle)
    with Stack(bundle.spec, prepare=False) as stack:
        full, valid = stack.read_window(Window(0, 0, 256, 256))
        compact, _ = stack.read_window(Window(0, 0, 256, 256), compact=True)
    cells = np.flatnonzero(valid.ravel())[::37]
    rows = full.reshape(full.shape[0], -1)[:, cells].T
    z = tf.constant(bundle.preprocess.apply(rows))
    grads = []
    for a in (np.arange(explainer.steps) + 0.5) / explainer.steps:
        path = tf.Variable(a * z)
        with tf.GradientTape() as tape:
            out = tf.add_n([net(path, training=False)[:, 0] for net in bundle.networks]) / len(bundle.networks)
        grads.append(tape.gradient(out, path).numpy())
    per_band = z.numpy() * np.mean(grads, axis=0)
    widths = [len(resolve(ref, bundle.spec.inputs[ref.input]).band_names) for ref in bundle.spec.features]
    assert widths[5] > 1  # geology.onehot: several bands summed into one
    expected = np.stack([part.sum(axis=1) for part in np.split(per_band, np.cumsum(widths)[:-1], axis=1)], axis=1)
    got = explainer(compact.reshape(compact.shape[0], -1)[:, cells].T)
    assert np.allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("task", ["landform", "regression"])
def test_landform_and_regression_attributions_are_complete(workspace, tmp_path, task):
    d, models = workspace
    written = predict(models[task], tmp_path / "m.tif", explain=True, window=512)
    bands, names, tags = _read(written[-1])
    assert names == ("dem", "dem.slope", "dem.tpi(radius=3)", "dem.aspect")
    baseline = np.array(tags[BASELINE_TAG].split(), float)
    if task == "landform":  # the probability of the class the map shows
        (classes,), _, _ = _read(written[0])
        probabilities, _, _ = _read(written[1])
        valid = classes > 0
        assert baseline.size == 3 and abs(baseline.sum() - 1) < 1e-5
        shown = np.take_along_axis(probabilities[:3], classes[None].astype(int) - 1, axis=0)[0]
        expected, base = shown[valid], baseline[classes[valid] - 1]
    else:
        (value,), _, _ = _read(written[0])
        valid = np.isfinite(value)
        expected, base = value[valid], baseline[0]
    assert np.isnan(bands[:, ~valid]).all() and (~valid).any()
    error = np.abs(base + bands[:, valid].sum(axis=0) - expected)
    scale = 2.0 if task == "regression" else 1.0  # the regression bundle's target std
    assert np.mean(error <= 0.02 * scale) >= 0.99


def test_tiled_explanation_equals_whole_raster_explanation(workspace, tmp_path):
    _, models = workspace
    whole = predict(models["prospectivity"], tmp_path / "whole.tif", explain=True, window=1024, workers=1)[-1]
    tiled = predict(models["prospectivity"], tmp_path / "tiled.tif", explain=True, window=512, workers=2)[-1]
    a, b = _read(whole)[0], _read(tiled)[0]
    assert a.shape[0] == 4 and np.isnan(a).any() and np.isfinite(a).any()
    assert np.array_equal(a, b, equal_nan=True)


def test_existing_explain_output_is_refused_and_nothing_is_written(workspace, tmp_path, capsys):
    _, models = workspace
    (tmp_path / "m_explain.tif").write_bytes(b"keep")
    assert main(["predict", str(models["prospectivity"]), str(tmp_path / "m.tif"), "--explain"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "m_explain.tif" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_explain.tif"]
    assert (tmp_path / "m_explain.tif").read_bytes() == b"keep"


def test_without_explain_no_explain_file_is_written(workspace, tmp_path):
    _, models = workspace
    written = predict(models["regression"], tmp_path / "m.tif", window=512)
    assert [p.name for p in written] == ["m.tif"] and not (tmp_path / "m_explain.tif").exists()


def test_explain_works_without_tensorflow(workspace, tmp_path):
    import subprocess
    import sys

    from test_predict import _WITHOUT_TENSORFLOW

    _, models = workspace
    out = tmp_path / "m.tif"
    done = subprocess.run([sys.executable, "-c", _WITHOUT_TENSORFLOW, "predict", str(models["landform"]), str(out),
                           "--explain"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    bands, names, tags = _read(tmp_path / "m_explain.tif")
    assert len(names) == 4 and len(tags[BASELINE_TAG].split()) == 3 and np.isfinite(bands).any()
