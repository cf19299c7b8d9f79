"""Evaluating a model against labels, from Python and from the CLI."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from model_support import FAST, sample_area

from georaster_dl.cli.main import main
from georaster_dl.errors import LabelError
from georaster_dl.evaluation import evaluate
from georaster_dl.training import train


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate")
    paths = sample_area()
    _, metrics = train(paths["spec"], paths["deposits"], "prospectivity", seed=1, out=d / "p.gdl",
                       **{**FAST, "epochs": 20})
    return d / "p.gdl", metrics


def test_evaluating_on_the_training_points_reproduces_the_success_rate(model):
    path, trained = model
    m = evaluate(path, sample_area()["deposits"])
    assert m["task"] == "prospectivity"
    assert m["evaluation"]["auc"] == pytest.approx(trained["training"]["success"]["auc"])
    assert m["evaluation"]["captured"] == trained["training"]["success"]["captured"]
    assert m["labels"]["n_used"] == trained["labels"]["n_used"]
    # baselines fitted on the final model's training rows, scored on the same labels and cells
    assert m["evaluation"]["baselines_note"].startswith("fitted on the 440 rows the final model trained on")
    assert set(m["evaluation"]["baselines"]) == {"logistic", "random_forest"}
    for b in m["evaluation"]["baselines"].values():
        assert 0.5 < b["auc"] <= 1 and (b["n_positives"], b["n_cells"]) == (40, m["evaluation"]["n_cells"])


def test_known_absences_get_their_own_auc(model, tmp_path):
    path, _ = model
    deposits = gpd.read_file(sample_area()["deposits"])
    with_absences = deposits.copy()
    with_absences["flag"] = 1
    shifted = deposits.copy()
    shifted["geometry"] = deposits.geometry.translate(0.01, 0.01)  # about 1 km away, degrees
    shifted["flag"] = 0
    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame(np.r_[with_absences.to_numpy(), shifted.to_numpy()], columns=with_absences.columns,
                     geometry="geometry", crs=deposits.crs).to_file(labels)
    m = evaluate(path, labels, label_field="flag")["evaluation"]
    assert 0 <= m["auc_absences"] <= 1 and m["n_positives"] == len(deposits)


def test_no_baselines_when_the_training_labels_changed(tmp_path):
    paths = sample_area()
    deposits = gpd.read_file(paths["deposits"])
    deposits.to_file(tmp_path / "deposits.gpkg")
    bundle, _ = train(paths["spec"], tmp_path / "deposits.gpkg", "prospectivity", seed=0, **{**FAST, "epochs": 3})
    deposits.iloc[:-1].to_file(tmp_path / "deposits.gpkg")  # one deposit fewer since training
    m = evaluate(bundle, paths["deposits"])["evaluation"]
    assert m["baselines"] == {}
    assert m["baselines_note"].startswith("not fitted: the model's training rows cannot be drawn again: ")
    assert "deposits.gpkg has changed since training" in m["baselines_note"]
    assert evaluate(bundle, paths["deposits"], baselines=False)["evaluation"]["baselines_note"] == \
        "not fitted (--no-baselines)"


def test_landform_classes_unknown_to_the_model_are_named(tmp_path):
    paths = sample_area()
    landforms = gpd.read_file(paths["landforms"])
    bundle, _ = train(paths["spec"], paths["landforms"], "landform", label_field="landform", seed=0,
                      **{**FAST, "epochs": 5})
    landforms.loc[:4, "landform"] = "cliff"
    landforms.to_file(tmp_path / "new.gpkg")
    with pytest.raises(LabelError, match="class 'cliff' of the labels is not a class of the model"):
        evaluate(bundle, tmp_path / "new.gpkg")
    m = evaluate(bundle, paths["landforms"])["evaluation"]  # the training field is the default
    assert 0 <= m["accuracy"] <= 1 and len(m["confusion"]) == 5
    assert 0 <= m["ece"] <= 1 and sum(m["reliability"]["count"]) == m["n"]
    for b in m["baselines"].values():  # multinomial logistic and forest, on the model's classes
        assert b["accuracy"] > 0.4 and len(b["confusion"]) == 5


def test_evaluate_command_writes_metrics_and_report(model, tmp_path, capsys):
    path, _ = model
    args = ["evaluate", str(path), "--labels", str(sample_area()["deposits"]), "--metrics",
            str(tmp_path / "m.json"), "--report", str(tmp_path / "r.html")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "evaluation: auc" in err and "baselines: logistic auc" in err
    assert json.loads((tmp_path / "m.json").read_text())["evaluation"]["auc"] > 0.5
    html = (tmp_path / "r.html").read_text()
    assert "<h2>ROC curve" in html and "<h2>Map" in html and "<h2>Prediction-area plot" in html
    assert "auprc" in err and "auprc" in html
    assert "<h2>Baselines (same training rows, same labels)</h2><p class='note'>Baselines fitted on the" in html
    assert main(args) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.gdl"), "--labels", str(sample_area()["deposits"])]) == 2
    assert "none.gdl does not exist" in capsys.readouterr().err
