"""TrainConfig: every training choice by name, validated once, defaults defined once."""

from __future__ import annotations

from dataclasses import fields

import pytest

from georaster_dl.errors import UserInputError
from georaster_dl.models.config import TrainConfig
from georaster_dl.models.network import NetworkOptions, OptionError
from georaster_dl.models.settings import TrainSettings

#: A value for every option, none of them a default, so a swapped field would show.
OPTIONS = {"hidden": "24,12", "activation": "tanh", "dropout": 0.25, "loss": "mse", "optimizer": "sgd",
           "learning_rate": 0.01, "epochs": 7, "batch_size": 33, "patience": 3, "class_weights": "none",
           "background_ratio": 4, "buffer": 150, "ensemble": 3, "seed": 9, "cv_folds": 4, "cv_block_size": 2500,
           "cv_buffer": 100, "presence_neighbours": 2, "tune": True, "calibrate": True, "label_field": "kind",
           "where": "mag >= 4", "layer": "points", "baselines": False}


def test_every_option_reaches_its_own_field():
    config = TrainConfig.from_options("landform", **OPTIONS)
    assert config.network == NetworkOptions(hidden=(24, 12), activation="tanh", dropout=0.25, loss="mse",
                                            optimizer="sgd", learning_rate=0.01, epochs=7, batch_size=33,
                                            patience=3, class_weights="none")
    assert config.settings == TrainSettings(background_ratio=4.0, buffer=150.0, ensemble=3, seed=9, cv_folds=4,
                                            cv_block_size=2500.0, cv_buffer=100.0, presence_neighbours=2, tune=True,
                                            calibrate=True)
    assert (config.label_field, config.where, config.layer, config.baselines) == ("kind", "mag >= 4", "points", False)
    # the names the config takes are exactly the fields of its parts: one place for each default
    names = {f.name for part in (NetworkOptions, TrainSettings) for f in fields(part)}
    assert set(OPTIONS) == names | {"label_field", "where", "layer", "baselines"}


def test_defaults_and_the_task_default_loss():
    config = TrainConfig.from_options("regression")
    assert config.network == NetworkOptions(loss="mse") and config.settings == TrainSettings()
    assert config.baselines is True


def test_an_unknown_option_is_refused_with_the_closest_name():
    with pytest.raises(OptionError, match="unknown training option 'epoch'.*'epochs'"):
        TrainConfig.from_options("landform", epoch=5)


@pytest.mark.parametrize("options, message", [({"loss": "binary_crossentropy"}, "does not fit a regression model"),
                                              ({"ensemble": 0}, "--ensemble must be at least 1"),
                                              ({"cv_folds": 3}, "--cv-folds needs --cv-block-size"),
                                              ({"calibrate": True}, "--calibrate applies to models of class "
                                                                    "probabilities \\(landform\\), not regression")])
def test_values_are_validated_for_the_task(options, message):
    with pytest.raises(UserInputError, match=message):
        TrainConfig.from_options("regression", **options)


def test_calibrate_needs_cross_validation():
    with pytest.raises(UserInputError, match="--calibrate needs --cv-folds"):
        TrainConfig.from_options("landform", calibrate=True)


def test_the_config_is_frozen():
    with pytest.raises(AttributeError):
        TrainConfig.from_options("landform").task = "regression"
