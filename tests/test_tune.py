"""``--tune``: model selection by inner spatial cross-validation, deterministic for a seed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from model_support import sample_area

from georaster_dl.io.labels import read_labels
from georaster_dl.models.fit import target_scaling
from georaster_dl.models.network import NetworkOptions
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.models.tune import CANDIDATES, select_options
from georaster_dl.samples import label_samples
from georaster_dl.stack import Stack
from georaster_dl.training import train


@pytest.fixture(scope="module")
def copper():
    paths = sample_area()
    with Stack(paths["spec"]) as stack:
        labels = read_labels(paths["assays"], stack.grid, field="cu_ppm")
        s = label_samples(stack, labels, "regression", "cu_ppm").samples
        pre = Preprocessor.fit(s.x, stack.band_names, stack.band_kinds, stack.band_transforms)
        yield s, pre, stack.grid


def test_tuner_scores_every_candidate_and_repeats_its_choice(copper):
    samples, pre, grid = copper
    options = NetworkOptions(epochs=5, learning_rate=0.01).validated("regression")
    runs = [select_options(samples, "regression", options, 1, pre, target_scaling(samples.y), grid, 2500, seed=7)
            for _ in range(2)]
    (chosen, record), (again, record2) = runs
    assert record == record2 and chosen == again
    assert set(record["scores"]) == {name for name, _ in CANDIDATES}
    assert all(-1 < v < 1 for v in record["scores"].values())  # R² of the copper assays
    best = max(record["scores"].values())
    name = next(n for n, _ in CANDIDATES if record["scores"][n] == best)  # ties: the first candidate
    assert record["chosen"] == name
    assert chosen == replace(options, **dict(CANDIDATES)[name])


def test_tuner_keeps_the_options_when_the_rows_cannot_be_split(copper):
    samples, pre, grid = copper
    options = NetworkOptions(epochs=2).validated("regression")
    chosen, record = select_options(samples, "regression", options, 1, pre, target_scaling(samples.y), grid,
                                    10**9, seed=1)  # one block holds every row
    assert chosen is options and "fewer than --cv-folds 3" in record["skipped"]


def test_tuned_model_records_its_choice_and_is_byte_identical_for_a_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    paths = sample_area()
    runs = [train(paths["spec"], paths["deposits"], "prospectivity", seed=2, ensemble=1, epochs=4, tune=True,
                  out=tmp_path / f"{i}.gdl") for i in range(2)]
    assert (tmp_path / "0.gdl").read_bytes() == (tmp_path / "1.gdl").read_bytes()
    bundle, metrics = runs[0]
    tuning = bundle.options["tuning"]
    assert tuning == metrics["training"]["tuning"] and tuning["chosen"] in dict(CANDIDATES)
    assert len(tuning["scores"]) == len(CANDIDATES) and all(0.5 < v <= 1 for v in tuning["scores"].values())
    change = dict(CANDIDATES)[tuning["chosen"]]
    assert all(bundle.options["network"][k] == (list(v) if isinstance(v, tuple) else v) for k, v in change.items())
    assert bundle.options["training"]["tune"] is True
