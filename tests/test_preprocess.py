"""Per-band preprocessing: transforms, standardisation, one-hot bands untouched, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from georaster_dl.errors import SpecError
from georaster_dl.models.preprocess import DEFAULT_TRANSFORM, Preprocessor


@pytest.fixture
def heavy() -> np.ndarray:
    """A heavy-tailed survey-like band (log-normal with extreme cells), a signed band, a one-hot band."""
    rng = np.random.default_rng(0)
    tail = rng.lognormal(0, 1.5, 5000)
    tail[:10] = 1e5
    return np.c_[tail, rng.normal(0, 300, 5000), rng.integers(0, 2, 5000)].astype(np.float32)


def _fit(x, transform):
    return Preprocessor.fit(x, ["a", "b", "g.onehot:1"], ["continuous", "continuous", "onehot"], [transform, None, None])


def test_clip_keeps_the_spread_of_the_bulk_against_extremes(heavy):
    clipped = _fit(heavy, "clip").apply(heavy)[:, 0]
    plain = _fit(heavy, "none").apply(heavy)[:, 0]
    # A plain z-score squeezes 99 % of the cells into a sliver; clipping keeps them spread.
    assert np.percentile(plain, 99) - np.percentile(plain, 1) < 0.1
    assert np.percentile(clipped, 99) - np.percentile(clipped, 1) > 1.0
    assert clipped.max() < 20
    assert abs(clipped.mean()) < 1e-4 and abs(clipped.std() - 1) < 1e-3


@pytest.mark.parametrize("transform", ["none", "log", "log1p", "quantile", "normal", "auto", "clip", "clip(1, 99)"])
def test_transforms_standardise_the_training_values(heavy, transform):
    out = _fit(heavy, transform).apply(heavy)
    assert out.dtype == np.float32
    assert abs(out[:, 0].mean()) < 1e-3 and abs(out[:, 0].std() - 1) < 1e-3


def test_robust_scaling_uses_median_and_iqr(heavy):
    out = _fit(heavy, "robust").apply(heavy)[:, 0]
    assert abs(np.median(out)) < 1e-3
    q1, q3 = np.percentile(out, [25, 75])
    assert abs((q3 - q1) - 1.349) < 1e-2


def test_log_and_quantile_behave_as_documented():
    x = np.array([[0.0], [1.0], [10.0], [100.0], [1000.0]], np.float32)
    log = Preprocessor.fit(x, ["a"], ["continuous"], ["log"])
    band = log.bands[0]
    assert band["floor"] == 1.0  # values <= 0 are raised to the smallest positive training value
    expected = (np.log(np.maximum(x[:, 0], 1.0)) - band["mean"]) / band["std"]
    np.testing.assert_allclose(log.apply(x)[:, 0], expected, rtol=1e-5, atol=1e-6)
    log1p = Preprocessor.fit(x - 1, ["a"], ["continuous"], ["log1p"])
    band = log1p.bands[0]
    expected = (np.log1p(np.maximum(x[:, 0] - 1, 0)) - band["mean"]) / band["std"]  # -1 is raised to 0
    np.testing.assert_allclose(log1p.apply(x - 1)[:, 0], expected, rtol=1e-5, atol=1e-6)
    quantile = Preprocessor.fit(x, ["a"], ["continuous"], ["quantile"])
    ranks = quantile.apply(x)[:, 0]
    assert np.all(np.diff(ranks) > 0)  # monotone
    beyond = quantile.apply(np.array([[1e9], [-5.0]], np.float32))[:, 0]
    assert beyond[0] == ranks.max() and beyond[1] == ranks.min()  # bounded outside the training range


def test_tied_values_get_one_quantile_rank():
    x = np.r_[np.full(600, 100.0), np.linspace(200, 1000, 400)].astype(np.float32)[:, None]
    pre = Preprocessor.fit(x, ["d"], ["continuous"], ["quantile"])
    assert len(np.unique(pre.apply(x[:600]))) == 1


def test_onehot_and_class_bands_pass_unchanged(heavy):
    pre = _fit(heavy, None)
    np.testing.assert_array_equal(pre.apply(heavy)[:, 2], heavy[:, 2])
    assert pre.bands[2]["transform"] is None


def test_nan_stays_nan(heavy):
    x = heavy[:3].copy()
    x[1, 0] = np.nan
    for t in ("log", "log1p", "quantile", "normal", "auto", "clip", "robust", "none"):
        out = _fit(heavy, t).apply(x)
        assert np.isnan(out[1, 0]) and np.isfinite(out[0]).all()


def test_parameters_round_trip_through_json(heavy):
    for t in ("log", "log1p", "quantile", "normal", "auto", "clip(2,98)", "robust", "none"):
        pre = _fit(heavy, t)
        again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
        np.testing.assert_array_equal(again.apply(heavy), pre.apply(heavy))


def test_constant_band_stays_finite():
    x = np.ones((50, 1), np.float32)
    assert np.isfinite(Preprocessor.fit(x, ["c"], ["continuous"], [None]).apply(x)).all()


@pytest.mark.parametrize("transform, message", [
    ("lgo", "unknown transform 'lgo' (did you mean 'log'?)"),
    ("clip(99, 1)", "only clip takes arguments"),
    ("log(2)", "only clip takes arguments"),
])
def test_bad_transforms_are_refused(heavy, transform, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        _fit(heavy, transform)


def test_log_of_non_positive_band_is_refused():
    x = -np.abs(np.random.default_rng(0).normal(size=(20, 1))).astype(np.float32)
    with pytest.raises(SpecError, match="log needs positive values"):
        Preprocessor.fit(x, ["neg"], ["continuous"], ["log"])


def test_normal_maps_each_value_to_its_normal_score():
    from scipy.special import ndtri

    x = np.arange(101, dtype=np.float32)[:, None] ** 2  # skewed; each value is one percentile knot
    pre = Preprocessor.fit(x, ["d"], ["continuous"], ["normal"])
    band = pre.bands[0]
    assert band["transform"] == "quantile" and band["scores"] == "normal"  # a quantile table: old readers apply it
    scores = ndtri(np.clip(np.arange(101) / 100, 0.001, 0.999))
    expected = (scores - scores.mean()) / scores.std()
    np.testing.assert_allclose(pre.apply(x)[:, 0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pre.apply(np.array([[-1e9], [1e9]], np.float32))[:, 0], expected[[0, -1]], rtol=1e-5)


def test_auto_picks_normal_for_skewed_bands_and_clip_for_the_others(heavy):
    rng = np.random.default_rng(1)
    x = np.c_[heavy[:, 0], heavy[:, 1], rng.integers(1, 11, 5000), 1e4 * rng.exponential(1, 5000)].astype(np.float32)
    pre = Preprocessor.fit(x, list("abcd"), ["continuous"] * 4, ["auto", "auto", "auto", None])
    chosen = [(b["transform"], b.get("scores"), b["auto"]) for b in pre.bands]
    # log-normal with extremes and a distance-like exponential: normal scores; Gaussian and 10 levels: clipped
    assert chosen == [("quantile", "normal", True), ("clip", None, True), ("clip", None, True),
                      ("quantile", "normal", True)]
    assert pre.bands[0]["skewness"] > 1 and abs(pre.bands[1]["skewness"]) < 0.2
    assert DEFAULT_TRANSFORM == "auto"
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.apply(x), pre.apply(x))


def test_transform_labels_name_what_the_user_sees(heavy):
    from georaster_dl.models.preprocess import transform_label

    pre = Preprocessor.fit(heavy, ["a", "b", "g.onehot:1"], ["continuous", "continuous", "onehot"],
                           ["auto", "normal", None])
    assert [transform_label(b) for b in pre.bands] == ["normal (auto)", "normal", "-"]
