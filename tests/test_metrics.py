"""Metrics: prospectivity AUC against every cell (ties one half), rate curves, landform and regression scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from georaster_dl.metrics import (area_metrics, landform_metrics, mean_sd, plain_json, prospectivity_metrics,
                                  regression_metrics, write_metrics)


def _pairwise_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_auc_counts_ties_one_half():
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 10, 3000).astype(float)
    pos = rng.integers(4, 10, 40).astype(float)
    m = prospectivity_metrics(pos, cells)
    assert m["auc"] == pytest.approx(_pairwise_auc(pos, cells), abs=1e-12)


def test_area_under_the_success_curve_is_the_auc():
    rng = np.random.default_rng(1)
    cells, pos = rng.random(20_000), rng.random(200) ** 0.3
    m = prospectivity_metrics(pos, cells)
    area, captured = np.asarray(m["curve"]["area"]), np.asarray(m["curve"]["captured"])
    assert (area[0], captured[0], area[-1], captured[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(captured) >= 0)
    assert np.trapezoid(captured, area) == pytest.approx(m["auc"], abs=0.01)


def test_captured_shares_count_points_in_the_top_of_the_area():
    cells = np.arange(1000, dtype=float)          # scores 0..999, one cell each
    pos = np.array([999.5, 960.0, 920.0, 850.0, 10.0])  # above 0, 4, 8, 15, 99 % of the area
    captured = prospectivity_metrics(pos, cells)["captured"]
    assert captured == {"top_5pct": 0.4, "top_10pct": 0.6, "top_20pct": 0.8}


def test_area_metrics_leave_presence_cells_out_of_the_negatives():
    score_map = np.array([[0.9, 0.1], [0.5, np.nan]])
    m = area_metrics(score_map, np.array([0]), np.array([0]))
    assert m["n_cells"] == 2 and m["auc"] == 1.0


def test_no_positives_give_nan_auc():
    assert np.isnan(prospectivity_metrics(np.array([]), np.arange(5.0))["auc"])


def test_landform_metrics():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = landform_metrics(y, p, ["valley", "slope", "ridge"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["slope"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                       "support": 2}
    assert -1 <= m["kappa"] < m["accuracy"]


def test_regression_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    m = regression_metrics(y, y + np.array([0.5, -0.5, 0.5, -0.5]))
    assert m["rmse"] == pytest.approx(0.5) and m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 1.0 / 5.0)


def test_mean_and_sd_skip_missing_folds():
    assert mean_sd([0.8, float("nan"), 0.6]) == (pytest.approx(0.7), pytest.approx(np.std([0.8, 0.6], ddof=1)))


def test_metrics_are_written_as_standard_json(tmp_path):
    doc = {"auc": np.float32(0.75), "folds": [np.nan, 1.0], "shape": (2, 3), "n": np.int64(4)}
    assert plain_json(doc) == {"auc": 0.75, "folds": [None, 1.0], "shape": [2, 3], "n": 4}
    path = write_metrics(tmp_path / "m.json", doc)
    assert json.loads(path.read_text())["folds"] == [None, 1.0]
    assert "NaN" not in path.read_text()


def test_auprc_is_one_for_a_perfect_ranking_and_near_the_deposit_share_for_a_random_one():
    rng = np.random.default_rng(0)
    cells = rng.random(20000)
    perfect = prospectivity_metrics(np.full(50, 2.0), cells)
    assert perfect["auprc"] == 1.0 and perfect["auprc_random"] == pytest.approx(50 / 20050)
    random = prospectivity_metrics(rng.random(200), cells)
    assert random["auprc"] == pytest.approx(random["auprc_random"], abs=0.01)


def test_prediction_area_intersection_balances_deposits_and_area():
    rng = np.random.default_rng(1)
    cells, deposits = rng.random(50000), rng.beta(5, 1, 400)  # deposits score high
    pa = prospectivity_metrics(deposits, cells)["pa"]
    assert np.all(np.diff(pa["deposits"]) <= 0) and np.all(np.diff(pa["area"]) <= 0)
    assert pa["area"][0] == 1 and pa["deposits"][0] == 1
    x = pa["intersection"]
    assert x["deposits"] == pytest.approx(1 - x["area"], abs=0.02)
    assert x["deposits"] == pytest.approx(np.mean(deposits >= x["threshold"]))
    assert x["area"] == pytest.approx(np.mean(cells >= x["threshold"]), abs=1e-4)
    assert x["deposits"] > 0.7  # 70 % of deposits in under 30 % of the area


def test_expected_calibration_error_is_small_when_calibrated_and_large_when_overconfident():
    from georaster_dl.metrics import calibration

    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.5, 1.0, 100000)
    y = np.where(rng.random(confidence.size) < confidence, 0, 1)  # class 0 right as often as it claims
    calibrated = calibration(np.c_[confidence, 1 - confidence], y)
    assert calibrated["ece"] < 0.01
    overconfident = calibration(np.c_[np.full(y.size, 0.99), np.full(y.size, 0.01)], y)
    assert overconfident["ece"] == pytest.approx(0.99 - np.mean(y == 0), abs=1e-9)
    diagram = calibrated["reliability"]
    assert sum(diagram["count"]) == y.size and np.isnan(diagram["accuracy"][0])  # nothing below 0.5
    assert diagram["accuracy"][9] == pytest.approx(diagram["confidence"][9], abs=0.01)
