"""train --calibrate: temperature scaling fitted out of fold, built into the model's weights."""

from __future__ import annotations

import numpy as np
import pytest
from model_support import FAST, sample_area

from georaster_dl.calibration import calibrate, member_probabilities, tempered
from georaster_dl.cli.train import summary_line
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.forward import Forward
from georaster_dl.training import train, training_rows


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _overconfident(n: int, sharpness: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) and one member that reports softmax(sharpness * z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4)) * 1.5
    truth = _softmax(z)
    y = np.array([rng.choice(4, p=p) for p in truth])
    return _softmax(sharpness * z)[None], y


def test_the_fitted_temperature_undoes_overconfidence_and_lowers_the_calibration_error():
    folds = [_overconfident(1500, 3.0, seed) for seed in range(3)]
    result = calibrate([p for p, _ in folds], [y for _, y in folds])
    assert result["temperature"] == pytest.approx(3.0, rel=0.1)
    assert all(t == pytest.approx(3.0, rel=0.15) for t in result["fold_temperatures"])
    assert result["ece_after"] < result["ece_before"] / 2 and result["nll_after"] < result["nll_before"]
    assert sum(result["reliability"]["count"]) == 4500


def test_a_calibrated_model_is_the_same_model_with_every_members_logits_divided_by_the_temperature(tmp_path):
    """Same seed with and without --calibrate: the calibrated model file's probabilities are the
    mean of the uncalibrated members' softmax(logits / T), through the ONNX graph."""
    paths = sample_area()
    options = dict(label_field="landform", seed=3, ensemble=2, cv_folds=3, cv_block_size=1500,
                   **{**FAST, "epochs": 30})
    plain, _ = train(paths["spec"], paths["landforms"], "landform", **options)
    _, metrics = train(paths["spec"], paths["landforms"], "landform", calibrate=True, out=tmp_path / "c.gdl",
                       report_path=tmp_path / "c.html", **options)
    scaled = metrics["cv"]["calibration"]
    t = scaled["temperature"]
    assert 0.05 < t < 20 and t != pytest.approx(1.0, abs=1e-3)
    assert len(scaled["fold_temperatures"]) == 3 and 0 <= scaled["ece_after"] < 1
    assert f"; calibrated (T {t:.3g}): ece {scaled['ece_after']:.3f}" in summary_line(metrics)
    loaded = load_bundle(tmp_path / "c.gdl", networks=False)
    x = training_rows(loaded).x
    expected = tempered(member_probabilities(plain, x), t)
    np.testing.assert_allclose(Forward(loaded)(x)[0], expected, atol=1e-5)
    assert loaded.options["training"]["calibrate"] is True
    html = (tmp_path / "c.html").read_text()
    assert f"T = {t:.3g}" in html and "--calibrate</code>" in html
