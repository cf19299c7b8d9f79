"""The dense network: options, validation, architecture per task, seeding, the small first example."""

from __future__ import annotations

import numpy as np
import pytest

from georaster_dl.models.fit import fit_network
from georaster_dl.models.network import NetworkOptions, OptionError, auto_batch_size, build_network, parse_hidden
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.samples import Samples


def _samples(x: np.ndarray, y: np.ndarray) -> Samples:
    n = len(y)
    return Samples(x.astype(np.float32), y, np.arange(n), np.arange(n))


def test_small_first_example_learns_a_linear_target():
    # 10 inputs, one hidden layer of 20 relu units, MSE, Adam at 0.01.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 10))
    y = x @ rng.normal(size=10) + 0.05 * rng.normal(size=2000)
    options = NetworkOptions(hidden="20", activation="relu", loss="mse", optimizer="adam", learning_rate=0.01,
                             dropout=0.0, epochs=40, patience=0).validated("regression")
    train = _samples(x, y)
    pre = Preprocessor.fit(train.x, [f"b{i}" for i in range(10)], ["continuous"] * 10, ["none"] * 10)
    model, history = fit_network(train, None, "regression", options, 1, pre, {"mean": float(y.mean()),
                                                                               "std": float(y.std())}, seed=0)
    assert model.count_params() == 10 * 20 + 20 + 20 + 1
    assert history["epochs_run"] == 40 and history["loss"][-1] < 0.05 * history["loss"][0]
    pred = model(pre.apply(train.x)).numpy()[:, 0] * y.std() + y.mean()
    assert np.corrcoef(pred, y)[0, 1] > 0.98


@pytest.mark.parametrize("task, n_out, activation", [("landform", 4, "softmax"), ("prospectivity", 1, "sigmoid"),
                                                      ("regression", 1, "linear")])
def test_output_layer_fits_the_task(task, n_out, activation):
    options = NetworkOptions(hidden=(8, 4)).validated(task)
    model = build_network(5, n_out, task, options, seed=1)
    assert model.layers[-1].get_config()["activation"] == activation
    assert [layer.name for layer in model.layers] == ["features", "hidden_1", "dropout_1", "hidden_2", "dropout_2",
                                                      "output"]
    out = model(np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)).numpy()
    assert out.shape == (7, n_out)
    if task == "landform":
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_default_loss_per_task():
    assert NetworkOptions().validated("landform").loss == "categorical_crossentropy"
    assert NetworkOptions().validated("prospectivity").loss == "binary_crossentropy"
    assert NetworkOptions().validated("regression").loss == "mse"


def test_same_seed_gives_the_same_weights_and_another_seed_other_weights():
    options = NetworkOptions().validated("prospectivity")
    a, b, c = (build_network(6, 1, "prospectivity", options, seed=s).get_weights() for s in (3, 3, 4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("changes, task, expected", [
    ({"activation": "rleu"}, "landform", "activation 'rleu' is not valid (did you mean 'relu'?); valid: 'relu'"),
    ({"optimizer": "adamw"}, "landform", "valid: 'adam', 'sgd', 'rmsprop'"),
    ({"loss": "binary_crossentropy"}, "regression", "does not fit a regression model"),
    ({"class_weights": "auto"}, "landform", "valid: 'balanced', 'none'"),
    ({"dropout": 1.0}, "landform", "dropout must be in [0, 1)"),
    ({"learning_rate": 0}, "landform", "learning_rate must be positive"),
    ({"epochs": 0}, "landform", "epochs must be at least 1"),
    ({"batch_size": 0}, "landform", "batch_size must be at least 1"),
    ({"hidden": "64,x"}, "landform", "hidden must list positive layer sizes"),
    ({"hidden": (0,)}, "landform", "hidden must list positive layer sizes"),
    ({}, "clustering", "task 'clustering' is not valid"),
])
def test_bad_option_values_are_refused_listing_the_valid_ones(changes, task, expected):
    with pytest.raises(OptionError) as err:
        NetworkOptions(**changes).validated(task)
    assert expected in str(err.value)


def test_hidden_layers_parse_from_text_numbers_and_lists():
    assert parse_hidden("64, 32") == (64, 32)
    assert parse_hidden(20) == (20,)
    assert parse_hidden([8, 4, 2]) == (8, 4, 2)


def test_options_round_trip_through_a_dict():
    options = NetworkOptions(hidden=(16, 8), activation="tanh", dropout=0.2).validated("landform")
    assert NetworkOptions.from_dict(options.to_dict()) == options
    with pytest.raises(OptionError, match="unknown network option 'hiden'"):
        NetworkOptions.from_dict({"hiden": [3]})


@pytest.mark.parametrize("patience", [0, 3])
def test_categories_without_training_rows_get_no_weight(patience):
    # A one-hot band that is 0 in every training row never gets a gradient; its random
    # start weights would give its cells a random offset, so they are zeroed. Unit 2 lies
    # only in the validation rows: without early stopping (the validation rows unused) it is
    # unseen; with it, the network is retrained on every row, unit 2's included.
    rng = np.random.default_rng(1)
    n = 400
    unit = np.where(np.arange(n) < 300, rng.integers(0, 2, n), 2)
    x = np.c_[rng.normal(size=n), np.eye(3)[unit]]
    y = (x[:, 0] + unit > 0.5).astype(np.int64)
    names, kinds = ["mag", "geo:0", "geo:1", "geo:2"], ["continuous", "onehot", "onehot", "onehot"]
    pre = Preprocessor.fit(x.astype(np.float32), names, kinds, [None] * 4)
    options = NetworkOptions(hidden="8", epochs=5, patience=patience).validated("prospectivity")
    data = _samples(x, y)
    train, val = data.subset(np.arange(n) < 300), data.subset(np.arange(n) >= 300)
    model, _ = fit_network(train, val if patience else None, "prospectivity", options, 1, pre, None, seed=0)
    kernel = model.get_layer("hidden_1").kernel.numpy()
    assert np.all(kernel[:3].any(axis=1))
    assert kernel[3].any() == bool(patience)


def test_batches_are_sized_to_give_small_sets_enough_steps():
    # about 16 steps an epoch: a few dozen deposits with their background no longer take 1 step an epoch
    assert [auto_batch_size(n) for n in (10, 300, 3000, 4096, 40000)] == [16, 19, 188, 256, 256]
    assert NetworkOptions().validated("prospectivity").batch_size is None
