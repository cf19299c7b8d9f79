"""The ONNX forward pass agrees with Keras for every transform and activation, and a graph
that does not is refused when the model is saved."""

from __future__ import annotations

import numpy as np
import pytest

from georaster_dl.errors import GeoRasterDLError
from georaster_dl.models import onnx_graph
from georaster_dl.models.bundle import ModelBundle
from georaster_dl.models.forward import Forward
from georaster_dl.models.network import ACTIVATIONS, NetworkOptions, build_network
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.spec import load_spec
from georaster_dl.transforms import TRANSFORMS

#: One band per transform, plus a constant band (one quantile knot), a one-hot and a class band.
BANDS = [("log", "continuous"), ("log1p", "continuous"), ("quantile", "continuous"), ("clip", "continuous"),
         ("robust", "continuous"), ("none", "continuous"), ("quantile", "continuous"), ("clip(5, 95)", "continuous"),
         (None, "onehot"), (None, "class"), ("normal", "continuous"), ("auto", "continuous")]


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.c_[rng.lognormal(3, 2, n), rng.exponential(500, n) * (rng.random(n) > 0.3), rng.normal(6e5, 1e4, n),
                 rng.standard_cauchy(n), rng.gamma(1.5, 2, n), rng.normal(0, 1e-3, n), np.full(n, 7.0),
                 rng.normal(-50, 30, n), rng.integers(0, 2, n), rng.integers(1, 5, n), rng.lognormal(1, 1, n),
                 rng.pareto(2, n)].astype(np.float32)


def _bundle(task: str, activation: str, members: int = 2) -> ModelBundle:
    names = [f"b{i}" for i in range(len(BANDS))]
    kinds = [k for _, k in BANDS]
    pre = Preprocessor.fit(_rows(3000, 0), names, kinds, [t for t, _ in BANDS])
    n_out = 3 if task == "landform" else 1
    opts = NetworkOptions(hidden=(16, 8), activation=activation, dropout=0.2).validated(task)
    spec = load_spec({"inputs": {n: {"path": f"{n}.tif"} for n in names}, "features": names})  # never opened
    return ModelBundle(task, spec, names, kinds, pre, [build_network(len(names), n_out, task, opts, s)
                                                        for s in range(members)],
                       classes=[{"name": f"c{i}", "colour": [0, 0, 0], "value": i} for i in range(3)]
                       if task == "landform" else None,
                       target={"mean": 250.0, "std": 40.0} if task == "regression" else None)


def test_every_transform_of_the_preprocessor_is_in_the_graph():
    # normal and auto are stored as the transforms they resolve to (a quantile table, clip, ...)
    assert {t.split("(")[0] for t, _ in BANDS if t} == set(TRANSFORMS)
    stored = {b["transform"] for b in _bundle("prospectivity", "relu").preprocess.to_dict()["bands"]
              if b["kind"] == "continuous"}
    assert stored <= {"none", "clip", "robust"} | set(onnx_graph.VALUE_TRANSFORMS)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_graph_agrees_with_keras_within_1e5(activation):
    x = _rows(5000, 1)  # other rows than the preprocessing was fitted on: values beyond the knots and clips
    for task in ("landform", "prospectivity", "regression"):
        bundle = _bundle(task, activation)
        mean, sd = Forward(bundle)(x)
        z = bundle.preprocess.apply(x)
        members = np.stack([net(z, training=False).numpy() for net in bundle.networks])
        scale, shift = (40.0, 250.0) if task == "regression" else (1.0, 0.0)
        np.testing.assert_allclose(mean, members.mean(axis=0) * scale + shift, rtol=1e-6, atol=1e-5 * scale)
        np.testing.assert_allclose(sd, members.std(axis=0) * scale, rtol=1e-6, atol=1e-5 * scale)


def test_one_member_gives_no_sd_and_any_batch_gives_the_same_bytes():
    bundle = _bundle("prospectivity", "relu", members=1)
    x = _rows(3001, 2)
    mean, sd = Forward(bundle)(x)
    assert sd is None and mean.shape == (3001, 1)
    for batch in (1, 7, 1000):
        assert np.array_equal(Forward(bundle, batch_rows=batch, threads=2)(x)[0], mean)
    assert np.array_equal(Forward(bundle)(x[5:6])[0], mean[5:6])


def test_one_hot_bands_are_row_lookups_in_the_graph_and_agree_with_keras():
    spec = load_spec({"inputs": {"a": {"path": "a.tif"},
                                 "geo": {"path": "geo.tif", "kind": "categorical", "categories": [3, 5, 9, 11]}},
                      "features": ["geo.onehot", "a"]})
    rng = np.random.default_rng(4)
    codes = rng.integers(-1, 4, 4000)  # -1: a code unseen in training (0 in every band)
    full = np.c_[np.eye(4, dtype=np.float32)[codes] * (codes >= 0)[:, None], rng.normal(5, 2, 4000)].astype(np.float32)
    names = [f"geo.onehot:{c}" for c in (3, 5, 9, 11)] + ["a"]
    kinds = ["onehot"] * 4 + ["continuous"]
    pre = Preprocessor.fit(full, names, kinds, [None] * 5)
    opts = NetworkOptions(hidden=(8,)).validated("prospectivity")
    bundle = ModelBundle("prospectivity", spec, names, kinds, pre,
                         [build_network(5, 1, "prospectivity", opts, s) for s in range(2)])
    forward = Forward(bundle)
    assert bundle.compact_layout() == [(3, 5, 9, 11), None]
    mean, sd = forward(full)
    compact = np.c_[codes, full[:, 4]].astype(np.float32)
    for a, b in zip(forward(compact, compact=True), (mean, sd)):
        assert np.array_equal(a, b)
    members = np.stack([net(pre.apply(full), training=False).numpy() for net in bundle.networks])
    np.testing.assert_allclose(mean, members.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(sd, members.std(axis=0), atol=1e-5)


def test_a_graph_that_differs_from_keras_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    bundle = _bundle("prospectivity", "relu")
    monkeypatch.setitem(onnx_graph.VALUE_TRANSFORMS, "log1p", lambda g, x, bands: x)  # a wrong graph
    with pytest.raises(GeoRasterDLError, match="ONNX forward pass differs from Keras .* not written"):
        bundle.save(tmp_path / "m.gdl", check_rows=_rows(500, 3))
    assert list(tmp_path.iterdir()) == []
