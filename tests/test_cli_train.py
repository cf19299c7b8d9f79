"""The ``train`` command: options, outputs, progress, and one-line errors with exit code 2."""

from __future__ import annotations

import json

from model_support import sample_area

from georaster_dl.cli.main import main
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.describe import describe_bundle
from georaster_dl.training import training_rows


def _args(tmp_path, *extra: str) -> list[str]:
    paths = sample_area()
    return ["train", "--task", "prospectivity", "--spec", str(paths["spec"]), "--labels", str(paths["deposits"]),
            "--out", str(tmp_path / "m.gdl"), "--epochs", "10", "--learning-rate", "0.01", "--batch-size", "64",
            *extra]


def test_train_command_writes_the_model_and_metrics(tmp_path, capsys):
    code = main(["--json-progress", *_args(tmp_path, "--cv-folds", "2", "--cv-block-size", "2500", "--hidden", "16",
                                           "--ensemble", "2", "--metrics", str(tmp_path / "m.json"))])
    assert code == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert {"train", "score", "info"} <= {line["stage"] for line in lines}
    assert any(line["message"].startswith("cross-validation: auc_pooled") for line in lines)
    lift = [line["message"] for line in lines if line["message"].startswith("baselines: logistic auc_pooled")]
    assert len(lift) == 1 and "lift over the best" in lift[0]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["cv"]["folds"] == 2 and 0 <= metrics["cv"]["auc_pooled"] <= 1
    assert set(metrics["cv"]["baselines"]) == {"logistic", "random_forest"}
    text = describe_bundle(tmp_path / "m.gdl")
    assert "hidden [16]" in text and "2 member(s)" in text and "cv (2 folds)" in text


def test_bad_values_exit_2_naming_the_valid_ones(tmp_path, capsys):
    assert main(_args(tmp_path, "--optimizer", "adamw")) == 2
    assert "'adamw' is not one of 'adam', 'sgd', 'rmsprop'" in capsys.readouterr().err
    assert main(_args(tmp_path, "--hidden", "64,zero")) == 2
    assert "error: hidden must list positive layer sizes" in capsys.readouterr().err
    assert main(_args(tmp_path, "--label-field", "nope")) == 2
    assert "has no field 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "m.gdl").exists()


def test_existing_model_is_kept_without_overwrite(tmp_path, capsys):
    (tmp_path / "m.gdl").write_bytes(b"previous")
    assert main(_args(tmp_path)) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "m.gdl").read_bytes() == b"previous"
    assert main(_args(tmp_path, "--overwrite")) == 0
    assert (tmp_path / "m.gdl").read_bytes()[:2] == b"PK"


def test_no_baselines_skips_them(tmp_path, capsys):
    code = main(_args(tmp_path, "--cv-folds", "2", "--cv-block-size", "2500", "--no-baselines", "--metrics",
                      str(tmp_path / "m.json")))
    assert code == 0
    assert "baselines:" not in capsys.readouterr().err
    assert "baselines" not in json.loads((tmp_path / "m.json").read_text())["cv"]


def test_presence_only_options_are_recorded_and_draw_the_same_rows_again(tmp_path, capsys):
    code = main(_args(tmp_path, "--presence-neighbours", "1", "--ensemble", "1",
                      "--metrics", str(tmp_path / "m.json")))
    assert code == 0
    bundle = load_bundle(tmp_path / "m.gdl")
    assert bundle.options["training"]["presence_neighbours"] == 1
    training = json.loads((tmp_path / "m.json").read_text())["training"]
    n_deposits = int(capsys.readouterr().err.split(" labels on valid cells")[0].split()[-1])
    assert training["n_presence"] > 6 * n_deposits  # most of each deposit's 8 neighbours
    rows = training_rows(bundle)
    assert len(rows) == training["n_samples"] and int(rows.y.sum()) == training["n_presence"]
    assert main(_args(tmp_path, "--overwrite", "--presence-neighbours", "-1")) == 2
    assert "error: --presence-neighbours must be 0 or more cells, got -1" in capsys.readouterr().err
