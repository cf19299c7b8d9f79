"""Explanations: per-feature Integrated Gradients attributions of a model's output, per cell.

``predict --explain`` writes ``OUT_explain.tif``: one float32 band per feature of the
model's spec, in spec order, described by the feature's name (the bands of a feature, e.g.
the one-hot bands of a categorical input, summed into one), holding its attribution to
the output: prospectivity the probability, regression the value (target units), landform
the probability of the class the map shows.

Method: Integrated Gradients (Sundararajan et al. 2017) in the space the network sees:
the standardised inputs, from the baseline **z = 0**, i.e. every continuous band at its
training mean (after its transform: clip, log, quantile...) and no category for one-hot
inputs (all their bands 0, what an unseen code gives). Attributions are complete:
``baseline output + sum of the bands = the prediction`` (within the quadrature error of
:data:`IG_STEPS` midpoint steps); the baseline output is stored in the tag
``GDL_BASELINE`` (landform: one value per class, in class order). Ensembles: the members'
mean attributions and mean baseline output.

TensorFlow is not imported: the members' Dense weights are read from their ``.keras``
files (HDF5, with h5py) and the backward pass is a few NumPy matrix products. The first
layer is linear in the path position ``a``, ``h1(a) = a * (z @ W1) + b1``, so the
gradients are integrated on the first layer's pre-activations and mapped back to the
inputs once: ``attribution_j = z_j * (mean_a dF/dh1(a)) @ W1[j]``; a one-hot input's
attribution is that of its one band set to 1.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from georaster_dl.engine.outputs import OutputFile
from georaster_dl.errors import ModelFileError
from georaster_dl.io import qml
from georaster_dl.models.onnx_graph import _LEAKY_SLOPE, _SELU, DenseLayer, dense_layers
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.tasks import get_task

#: Midpoint steps of the path integral. On the sample prospectivity model (2-member ensemble,
#: 58,189 valid cells) the largest completeness error was 0.022 with 8 steps (99.997% of cells
#: within 0.02), 0.0099 with 16, 0.0056 with 32; each step costs one forward and backward pass.
IG_STEPS = 16
#: Rows of one backward pass: a chunk's activations stay in the cache (32,768 rows of a 8-64-64-1
#: network, one BLAS thread: 0.30 CPU s with 1024-row chunks, 0.98 with 4096).
CHUNK_ROWS = 1024
#: Key and file-name suffix of the explain output.
EXPLAIN_KEY = "explain"
EXPLAIN_SUFFIX = "_explain"
BASELINE_TAG = "GDL_BASELINE"
METHOD_TAG = "GDL_EXPLAIN_METHOD"
#: Points of each dependence plot kept in the metrics (a seeded subsample of the held-out rows).
DEPENDENCE_POINTS = 400
#: Inputs with a dependence plot in the report: the strongest by mean absolute attribution.
DEPENDENCE_INPUTS = 4
#: Largest difference allowed between this module's forward pass and the ONNX graph's.
CHECK_TOLERANCE = 1e-4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _gelu_grad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * (1.0 + erf(x / np.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


#: Elementwise activations: (forward(x), derivative(x, forward(x))), as Keras computes them.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "linear": (lambda x: x, lambda x, y: np.ones_like(x)),
    "relu": (lambda x: np.maximum(x, 0), lambda x, y: (x > 0).astype(x.dtype)),
    "sigmoid": (_sigmoid, lambda x, y: y * (1 - y)),
    "tanh": (np.tanh, lambda x, y: 1 - y * y),
    "softplus": (lambda x: np.logaddexp(x, 0).astype(x.dtype), lambda x, y: _sigmoid(x)),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x, y: np.where(x > 0, 1, y + 1)),
    "selu": (lambda x: _SELU[1] * np.where(x > 0, x, _SELU[0] * np.expm1(np.minimum(x, 0))),
             lambda x, y: np.where(x > 0, _SELU[1], y + _SELU[1] * _SELU[0])),
    "gelu": (_gelu, _gelu_grad),
    "silu": (lambda x: x * _sigmoid(x), lambda x, y: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "leaky_relu": (lambda x: np.where(x > 0, x, _LEAKY_SLOPE * x),
                   lambda x, y: np.where(x > 0, 1, _LEAKY_SLOPE).astype(x.dtype)),
}


def member_layers(bundle) -> list[list[DenseLayer]]:
    """The Dense layers of every ensemble member: from the networks in memory (a model just
    trained, e.g. a cross-validation fold's), else read from the model file without TensorFlow.

    A Keras 3 ``.keras`` file stores the i-th Dense layer's kernel and bias under
    ``layers/dense`` (i = 0) or ``layers/dense_{i}`` of ``model.weights.h5``, in the order of
    ``config.json``'s layers; the widths are checked to chain, and :class:`Explainer` checks
    the result against the ONNX graph.
    """
    import h5py

    from georaster_dl.models.bundle import member_bytes

    if bundle.networks:
        return [dense_layers(network) for network in bundle.networks]
    members = []
    for name, data in member_bytes(bundle):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                config = json.loads(inner.read("config.json"))
                weights = inner.read("model.weights.h5")
            dense = [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
            layers = []
            with h5py.File(io.BytesIO(weights), "r") as h5:
                for i, cfg in enumerate(dense):
                    group = h5[f"layers/dense{'' if i == 0 else f'_{i}'}/vars"]
                    bias = np.asarray(group["1"], np.float32) if cfg.get("use_bias", True) else None
                    layers.append(DenseLayer(np.asarray(group["0"], np.float32), bias,
                                             str(cfg.get("activation") or "linear")))
        except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{bundle.path}: the weights of {name} cannot be read for --explain "
                                 f"({type(exc).__name__}: {exc}); the file is corrupt: retrain the model") from None
        widths = [layers[0].kernel.shape[0]] + [layer.kernel.shape[1] for layer in layers]
        if not layers or any(layer.kernel.shape[0] != w for layer, w in zip(layers, widths)):
            raise ModelFileError(f"{bundle.path}: the Dense layers of {name} do not chain; the file is corrupt: "
                                 "retrain the model")
        members.append(layers)
    return members


def feature_columns(bundle) -> list[tuple[str, list[int]]]:
    """Each feature of the model's spec (its name) with its columns of compact rows."""
    from georaster_dl import features  # noqa: F401  (registers the built-in features)
    from georaster_dl.features.registry import resolve

    out, col = [], 0
    for ref in bundle.spec.features:
        f = resolve(ref, bundle.spec.inputs[ref.input])
        n = 1 if f.onehot_codes is not None else len(f.band_names)
        out.append((str(ref), list(range(col, col + n))))
        col += n
    return out


class Explainer:
    """Integrated Gradients attributions of a model bundle's output, per feature.

    Parameters
    ----------
    bundle : ModelBundle
        A loaded bundle (its networks need not be loaded).
    steps : int
        Midpoint steps of the path integral.

    Attributes
    ----------
    names : list of str
        The features, in spec order (one attribution column each).
    baseline : numpy.ndarray
        The output at the baseline (one value per class for landform models), ensemble mean.
    """

    def __init__(self, bundle, steps: int = IG_STEPS) -> None:
        # several outputs (class probabilities): the class the map shows is explained
        self.per_class = bundle.n_outputs > 1
        self.path = bundle.path
        self.steps = int(steps)
        # float64: BLAS rounds a row's float32 products differently by its position in the matrix
        # (OpenBLAS's Haswell kernel: by row mod 6), which made tiles differ from the whole in the
        # last bit; float64 products differ around 1e-16 and round to the same float32 attribution.
        self.members = [[DenseLayer(layer.kernel.astype(np.float64),
                                    None if layer.bias is None else layer.bias.astype(np.float64), layer.activation)
                         for layer in member] for member in member_layers(bundle)]
        layout = bundle.compact_layout()
        starts = np.cumsum([0] + [1 if codes is None else len(codes) for codes in layout])
        self.plain = [j for j, codes in enumerate(layout) if codes is None]
        self.onehot = [j for j, codes in enumerate(layout) if codes is not None]
        self.preprocess = Preprocessor([bundle.preprocess.bands[starts[j]] for j in self.plain])
        # per member: first-layer rows of the plain bands, and [0; rows of the group] per one-hot column
        # (position p, -1 for an unseen code, selects row p + 1), as the ONNX graph does
        self.plain_rows = [m[0].kernel[starts[self.plain]] for m in self.members]
        self.onehot_rows = [[np.concatenate([np.zeros((1, m[0].kernel.shape[1])),
                                             m[0].kernel[starts[j]:starts[j + 1]]]) for j in self.onehot]
                            for m in self.members]
        target = bundle.target or {"mean": 0.0, "std": 1.0}
        self.shift, self.scale = float(target["mean"]), float(target["std"])
        columns = feature_columns(bundle)
        self.names = [name for name, _ in columns]
        self.columns = [cols for _, cols in columns]
        self.baseline = self._outputs(np.zeros((1, len(self.plain)), np.float32),
                                      np.zeros((1, len(self.onehot)), np.int64))[0]

    @property
    def tags(self) -> dict[str, str]:
        """GeoTIFF tags of the explain output: the baseline output and the method."""
        return {BASELINE_TAG: " ".join(f"{v:.9g}" for v in self.baseline),
                METHOD_TAG: (f"integrated gradients, {self.steps} midpoint steps, in the standardised inputs "
                             "the network sees, from the baseline 0 (continuous bands at their training mean, "
                             "one-hot inputs no category); baseline output + sum of bands = prediction; "
                             + ("the baseline lists one value per class; attributions are to the probability "
                                "of the class shown" if self.per_class else "")).rstrip("; ")}

    def _forward(self, layers: list[DenseLayer], h1: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Pre-activations and outputs of every layer from the first layer's pre-activation ``h1``."""
        pres, outs = [h1], []
        for i, layer in enumerate(layers):
            if i:
                pres.append(outs[-1] @ layer.kernel + (0 if layer.bias is None else layer.bias))
            pre = pres[-1]
            if layer.activation == "softmax":
                e = np.exp(pre - pre.max(axis=1, keepdims=True))
                outs.append(e / e.sum(axis=1, keepdims=True))
            else:
                outs.append(ACTIVATIONS[layer.activation][0](pre))
        return pres, outs

    def _first_product(self, m: int, z: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``z @ W1`` of member ``m`` over every input (plain bands and one-hot rows), no bias."""
        u = z @ self.plain_rows[m]
        for k, rows in enumerate(self.onehot_rows[m]):
            u += rows[positions[:, k]]
        return u

    def _gradient(self, layers: list[DenseLayer], h1: np.ndarray, cls: np.ndarray | None) -> np.ndarray:
        """d output / d ``h1`` (the output: column 0, or column ``cls`` of a softmax)."""
        pres, outs = self._forward(layers, h1)
        last, y = layers[-1], outs[-1]
        if last.activation == "softmax":
            yc = y[np.arange(len(y)), cls][:, None]
            g = -yc * y
            g[np.arange(len(y)), cls] += yc[:, 0]
        else:
            g = ACTIVATIONS[last.activation][1](pres[-1][:, :1], y[:, :1])
            g = np.concatenate([g, np.zeros((len(y), y.shape[1] - 1), g.dtype)], axis=1)
        for i in range(len(layers) - 1, 0, -1):
            g = g @ layers[i].kernel.T
            g *= ACTIVATIONS[layers[i - 1].activation][1](pres[i - 1], outs[i - 1])
        return g

    def __call__(self, rows: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """Attributions (n, features) float32 for compact feature rows ``rows`` (n, columns)
        without nodata; ``mean`` (landform): the predicted probabilities, whose largest
        picks the class explained."""
        out = np.empty((len(rows), len(self.names)), np.float32)
        for start in range(0, len(rows), CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            out[part] = self._chunk(rows[part], None if mean is None else mean[part])
        return out

    def _chunk(self, rows: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
        z = self.preprocess.apply(rows[:, self.plain])
        positions = rows[:, self.onehot].astype(np.int64) + 1
        cls = np.argmax(mean, axis=1) if self.per_class else None
        columns = np.zeros((len(rows), len(self.plain) + len(self.onehot)), np.float64)
        alphas = (np.arange(self.steps) + 0.5) / self.steps
        for m, layers in enumerate(self.members):
            u = self._first_product(m, z, positions)
            bias = 0 if layers[0].bias is None else layers[0].bias
            grad = sum(self._gradient(layers, a * u + bias, cls) for a in alphas) / self.steps
            columns[:, self.plain] += z * (grad @ self.plain_rows[m].T)
            for k, j in enumerate(self.onehot):
                columns[:, j] += np.einsum("nh,nh->n", grad, self.onehot_rows[m][k][positions[:, k]])
        columns *= self.scale / len(self.members)
        return np.stack([columns[:, cols].sum(axis=1) for cols in self.columns], axis=1)

    def _outputs(self, z: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The ensemble's mean output in target units for standardised plain bands ``z`` and
        one-hot row indices ``positions`` (position + 1)."""
        mean = np.mean([self._forward(layers, self._first_product(m, z, positions)
                                      + (0 if layers[0].bias is None else layers[0].bias))[1][-1]
                        for m, layers in enumerate(self.members)], axis=0)
        return mean * self.scale + self.shift

    def check(self, forward, n: int = 256) -> None:
        """Refuse weights whose forward pass differs from the ONNX graph's ``forward`` (a
        :class:`~georaster_dl.models.forward.Forward`) on ``n`` random compact rows."""
        rng = np.random.default_rng(0)
        rows = np.empty((n, len(self.plain) + len(self.onehot)), np.float32)
        for j, band in zip(self.plain, self.preprocess.bands):
            rows[:, j] = band.get("mean", 0.0) + rng.normal(size=n) * band.get("std", 1.0)
        for k, j in enumerate(self.onehot):
            rows[:, j] = rng.integers(-1, len(self.onehot_rows[0][k]) - 1, n)
        theirs = forward(rows, compact=True)[0]
        ours = self._outputs(self.preprocess.apply(rows[:, self.plain]), rows[:, self.onehot].astype(np.int64) + 1)
        worst = float(np.max(np.abs(ours - theirs), initial=0.0)) / self.scale
        if not worst <= CHECK_TOLERANCE:
            raise ModelFileError(f"{self.path}: the weights read for --explain give outputs {worst:.3g} away from its "
                                 "forward graph; the file is inconsistent: retrain the model")


def single_thread_blas():
    """A context running NumPy's matrix products on one thread: window workers already use
    the cores, and BLAS threads on top of them made the backward pass 8-20 times slower
    (32,768 rows, 2 cores: 0.30 CPU s on one BLAS thread, 6.1 on two)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def explain_output(out: Path, bundle) -> OutputFile:
    """The explain file of a prediction into ``out``: ``OUT_explain.tif``, one band per feature,
    styled with a diverging ramp over +-1/4 of the output's range (probabilities: +-0.25;
    regression: a quarter of the training targets' 2-98% range), band 1 shown."""
    lo, hi = get_task(bundle.task).fixed_range or bundle.value_range or (0.0, 1.0)
    half = (hi - lo) / 4 or 1.0
    return OutputFile(EXPLAIN_KEY, out.with_name(f"{out.stem}{EXPLAIN_SUFFIX}{out.suffix}"),
                      [name for name, _ in feature_columns(bundle)], "float32", float("nan"),
                      style=qml.ramp_qml(-half, half, qml.DIVERGING_RAMP))


def spread(attributions: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Attribution rows of the valid cells as (features, rows, cols) float32 bands, NaN elsewhere."""
    grid = np.full((attributions.shape[1],) + valid.shape, np.nan, np.float32)
    grid[:, valid] = attributions.T
    return grid


def held_out_summary(parts: list[tuple[Explainer, np.ndarray, np.ndarray | None]], seed: int) -> dict:
    """The global explanation of a cross-validated model on its held-out rows.

    ``parts``: per fold, the fold model's :class:`Explainer`, the held-out compact rows and
    (landform) the fold model's probabilities for them. Returns ``mean_abs`` (feature ->
    mean absolute attribution over every held-out row), ``n_rows``, and ``dependence``:
    for the :data:`DEPENDENCE_INPUTS` strongest features read as one continuous column, up
    to :data:`DEPENDENCE_POINTS` (value, attribution) pairs.
    """
    names = parts[0][0].names
    attributions = np.concatenate([explainer(rows, mean) for explainer, rows, mean in parts])
    rows = np.concatenate([rows for _, rows, _ in parts])
    mean_abs = {name: float(v) for name, v in zip(names, np.abs(attributions).mean(axis=0))}
    continuous = {name: cols[0] for name, cols in zip(names, parts[0][0].columns)
                  if len(cols) == 1 and cols[0] in parts[0][0].plain}
    strongest = sorted(continuous, key=lambda n: -mean_abs[n])[:DEPENDENCE_INPUTS]
    pick = np.random.default_rng(seed).permutation(len(rows))[:DEPENDENCE_POINTS]
    return {"n_rows": len(rows), "mean_abs": mean_abs, "method": parts[0][0].tags[METHOD_TAG],
            "dependence": {name: {"value": rows[pick, continuous[name]].round(6).tolist(),
                                  "attribution": attributions[pick, names.index(name)].round(6).tolist()}
                           for name in strongest}}
