"""The forward pass as one ONNX graph: preprocessing, every ensemble member, mean and SD.

Built with the ``onnx`` package's helpers from the networks' weights (a network holds
only Input, Dense and Dropout layers, see :data:`~georaster_dl.models.bundle.ALLOWED_LAYERS`,
so no converter is needed) and stored in the model file, so that prediction runs it on
ONNX Runtime without importing TensorFlow. The graph, for raw feature rows ``features``
(float32, (n, bands)) as read from the stack::

    value transforms   columns of each transform gathered, transformed, concatenated
    clip, standardise  min(max(x, low), high) - mean) * scale   (per band)
    members            Dense layers (first layer of all members as one MatMul)
    outputs            mean (n, outputs) in target units; sd (n, outputs) for ensembles

The value transforms reorder the columns (transformed groups after the untouched ones);
the clip, standardisation vectors and the first layer's weight rows are permuted to
match, so no column is moved back. A transform is one function of :data:`VALUE_TRANSFORMS`
(gathered columns and their bands' parameters in, transformed columns out); clip, robust
and none are affine only. Quantile and log1p run in float64, as NumPy does.

Examples
--------
>>> graph = build_graph(bundle.preprocess, [dense_layers(n) for n in bundle.networks], None)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: ONNX opset of the graph (Gelu needs 20) and IR version (ONNX Runtime >= 1.16 reads 9).
OPSET = 20
IR_VERSION = 9
INPUT = "features"
OUTPUTS = ("mean", "sd")
#: Keras's constants for selu and leaky_relu (keras.activations).
_SELU = (1.67326324, 1.05070098)
_LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class DenseLayer:
    """One Dense layer: ``activation(x @ kernel + bias)``."""

    kernel: np.ndarray
    bias: np.ndarray | None
    activation: str


def dense_layers(network) -> list[DenseLayer]:
    """The Dense layers of a Keras network in order (Input and Dropout do nothing at inference)."""
    layers = []
    for layer in network.layers:
        if type(layer).__name__ != "Dense":
            continue
        config = layer.get_config()
        weights = layer.get_weights()
        layers.append(DenseLayer(np.asarray(weights[0], np.float32),
                                 np.asarray(weights[1], np.float32) if config.get("use_bias", True) else None,
                                 str(config.get("activation") or "linear")))
    return layers


class _Graph:
    """Nodes and initializers being collected, with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, value, dtype=np.float32) -> str:
        name = self.name("c")
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


# -- value transforms: (graph, columns (n, k) float32, the k bands' parameters) -> (n, k) float32

def _log(g: _Graph, x: str, bands: list[dict]) -> str:
    return g.op("Log", g.op("Max", x, g.const([b["floor"] for b in bands])))


def _log1p(g: _Graph, x: str, bands: list[dict]) -> str:
    x = g.op("Max", g.op("Cast", x, to=11), g.const(0.0, np.float64))
    return g.op("Cast", g.op("Log", g.op("Add", x, g.const(1.0, np.float64))), to=1)


def _quantile(g: _Graph, x: str, bands: list[dict]) -> str:
    """np.interp over each band's knots, as a sum of clipped segments (float64):
    ranks[0] + sum_i (clip(x, k_i, k_i+1) - k_i) * slope_i."""
    columns = []
    for j, b in enumerate(bands):
        knots, ranks = np.asarray(b["knots"], np.float64), np.asarray(b["ranks"], np.float64)
        col = g.op("Cast", g.op("Slice", x, g.const([j], np.int64), g.const([j + 1], np.int64),
                                g.const([1], np.int64)), to=11)
        if knots.size < 2:
            value = g.op("Add", g.op("Mul", col, g.const(0.0, np.float64)), g.const(ranks[0], np.float64))
        else:
            lo, hi = knots[:-1], knots[1:]
            slope = np.diff(ranks) / (hi - lo)
            inside = g.op("Sub", g.op("Min", g.op("Max", col, g.const(lo[None], np.float64)),
                                      g.const(hi[None], np.float64)), g.const(lo[None], np.float64))
            value = g.op("Add", g.op("MatMul", inside, g.const(slope[:, None], np.float64)),
                         g.const(ranks[0], np.float64))
        columns.append(g.op("Cast", value, to=1))
    return columns[0] if len(columns) == 1 else g.op("Concat", *columns, axis=1)


#: Transforms that change values before clipping and standardisation, by name.
VALUE_TRANSFORMS: dict[str, Callable[[_Graph, str, list[dict]], str]] = {
    "log": _log, "log1p": _log1p, "quantile": _quantile}


def _activation(g: _Graph, x: str, name: str) -> str:
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus"}
    if name in simple:
        return g.op(simple[name], x)
    if name == "linear":
        return x
    if name == "softmax":
        return g.op("Softmax", x, axis=-1)
    if name == "elu":
        return g.op("Elu", x, alpha=1.0)
    if name == "selu":
        return g.op("Selu", x, alpha=_SELU[0], gamma=_SELU[1])
    if name == "gelu":
        return g.op("Gelu", x, approximate="none")
    if name == "silu":
        return g.op("Mul", x, g.op("Sigmoid", x))
    if name == "leaky_relu":
        return g.op("LeakyRelu", x, alpha=_LEAKY_SLOPE)
    raise ValueError(f"activation {name!r} has no ONNX equivalent here")


def _preprocess(g: _Graph, bands: list[dict], steps: dict[str, np.ndarray]) -> tuple[str, np.ndarray]:
    """Value transforms, clipping and standardisation; returns the output and the band order."""
    groups: dict[str | None, list[int]] = {}
    for j, b in enumerate(bands):
        t = b.get("transform")
        groups.setdefault(t if t in VALUE_TRANSFORMS else None, []).append(j)
    order = np.arange(len(bands))
    x = INPUT
    if len(groups) > 1 or None not in groups:
        parts, order_parts = [], []
        for t, cols in groups.items():
            part = g.op("Gather", INPUT, g.const(cols, np.int64), axis=1)
            parts.append(part if t is None else VALUE_TRANSFORMS[t](g, part, [bands[j] for j in cols]))
            order_parts.append(cols)
        order = np.concatenate(order_parts)
        x = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=1)
    low, high = steps["low"][order], steps["high"][order]
    if np.isfinite(low).any() or np.isfinite(high).any():
        x = g.op("Min", g.op("Max", x, g.const(low[None])), g.const(high[None]))
    x = g.op("Mul", g.op("Sub", x, g.const(steps["mean"][order][None])), g.const(steps["scale"][order][None]))
    return x, order


def _dense(g: _Graph, x: str, layer: DenseLayer, kernel: np.ndarray | None = None) -> str:
    y = g.op("MatMul", x, g.const(layer.kernel if kernel is None else kernel))
    if layer.bias is not None:
        y = g.op("Add", y, g.const(layer.bias[None]))
    return y


def build_graph(preprocess, members: list[list[DenseLayer]], target: dict | None) -> bytes:
    """The serialised ONNX model of a bundle's forward pass.

    Parameters
    ----------
    preprocess : Preprocessor
        The bundle's fitted preprocessing.
    members : list of list of DenseLayer
        Each ensemble member's Dense layers (see :func:`dense_layers`).
    target : dict or None
        Regression target scaling ``{"mean", "std"}``: outputs are mapped back to units.

    Returns
    -------
    bytes
        An ONNX model with input ``features`` (float32, (n, bands)) and outputs ``mean``
        and, for more than one member, ``sd`` (float32, (n, outputs)).
    """
    from onnx import TensorProto, helper

    g = _Graph()
    x, order = _preprocess(g, preprocess.bands, preprocess.elementwise())
    firsts = [m[0] for m in members]
    # The first layer of every member in one MatMul (reads the rows once), its rows permuted
    # like the columns of x; then each member on its own share of the columns.
    first = DenseLayer(np.concatenate([f.kernel for f in firsts], axis=1)[order],
                       None if firsts[0].bias is None else np.concatenate([f.bias for f in firsts]), "linear")
    hidden = _dense(g, x, first)
    widths = np.cumsum([0] + [f.kernel.shape[1] for f in firsts])
    outs = []
    for m, layers in enumerate(members):
        h = hidden if len(members) == 1 else g.op("Slice", hidden, g.const([widths[m]], np.int64),
                                                    g.const([widths[m + 1]], np.int64), g.const([1], np.int64))
        h = _activation(g, h, layers[0].activation)
        for layer in layers[1:]:
            h = _activation(g, _dense(g, h, layer), layer.activation)
        outs.append(h)
    shift, scale = (float(target["mean"]), float(target["std"])) if target else (0.0, 1.0)
    n_out = members[0][-1].kernel.shape[1]
    graph_outputs = [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["n", n_out])]
    if len(outs) == 1:
        mean, sd = outs[0], None
    else:
        stacked = g.op("Concat", *(g.op("Unsqueeze", o, g.const([0], np.int64)) for o in outs), axis=0)
        mean = g.op("ReduceMean", stacked, g.const([0], np.int64), keepdims=0)
        dev = g.op("Sub", stacked, mean)
        sd = g.op("Sqrt", g.op("ReduceMean", g.op("Mul", dev, dev), g.const([0], np.int64), keepdims=0))
        graph_outputs.append(helper.make_tensor_value_info("sd", TensorProto.FLOAT, ["n", n_out]))
    if target:
        mean = g.op("Add", g.op("Mul", mean, g.const(scale)), g.const(shift))
        sd = None if sd is None else g.op("Mul", sd, g.const(scale))
    g.nodes.append(helper.make_node("Identity", [mean], ["mean"], name="out_mean"))
    if sd is not None:
        g.nodes.append(helper.make_node("Identity", [sd], ["sd"], name="out_sd"))
    n_bands = len(preprocess.bands)
    graph = helper.make_graph(g.nodes, "georaster_dl_forward",
                              [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", n_bands])],
                              graph_outputs, g.initializers)
    model = helper.make_model(graph, producer_name="georaster_dl", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model.SerializeToString()
