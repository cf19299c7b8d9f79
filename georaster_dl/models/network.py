"""The dense network (multilayer perceptron) and the options that shape it.

One network maps a row of standardised features to the task's output:

- ``landform``: softmax over the classes;
- ``prospectivity``: one sigmoid unit (probability of presence);
- ``regression``: one linear unit (the standardised target).

:class:`NetworkOptions` holds every choice a user can make (hidden layers, activation,
dropout, loss, optimizer, learning rate, epochs, batch size, early-stopping patience,
class weights) and validates it with errors that list the valid values.

Examples
--------
The small network a user tries first: 10 inputs, 20 relu units, MSE, Adam at 0.01.

>>> opts = NetworkOptions(hidden=(20,), loss="mse", learning_rate=0.01, dropout=0.0)
>>> net = build_network(10, 1, "regression", opts, seed=0)   # doctest: +SKIP
>>> net.count_params()                                         # doctest: +SKIP
241
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from georaster_dl.errors import UserInputError, closest, one_of
from georaster_dl.tasks import TASKS, get_task

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "leaky_relu", "softplus", "linear")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
CLASS_WEIGHTS = ("balanced", "none")
#: Most weights a network may hold (16 bytes each to train with Adam: 0.8 GiB).
MAX_WEIGHTS = 50_000_000
#: Automatic batch size: aim at this many gradient steps an epoch, batches within these limits.
STEPS_PER_EPOCH = 16
BATCH_LIMITS = (16, 256)


class OptionError(UserInputError, ValueError):
    """A network or training option has an invalid value."""


@dataclass(frozen=True)
class NetworkOptions:
    """Architecture and training options of a dense network.

    Attributes
    ----------
    hidden : tuple of int
        Units of each hidden layer (``(64, 32)``: two layers).
    activation : str
        Activation of the hidden layers (see :data:`ACTIVATIONS`).
    dropout : float
        Dropout rate after each hidden layer, in [0, 1).
    loss : str or None
        Loss; None picks the task's default (categorical or binary cross-entropy, MSE).
    optimizer : {'adam', 'sgd', 'rmsprop'}
    learning_rate : float
    epochs : int
        Epochs (passes over the training rows); with early stopping, the most.
    batch_size : int or None
        Rows per gradient step; None sizes it to the training rows (:func:`auto_batch_size`).
    patience : int
        Epochs without improvement of the validation loss before training stops; the best
        weights are restored. 0 (the default) disables early stopping (all epochs, last
        weights): on the spatially clustered sample sets of this field a validation set held
        out in blocks is small and unrepresentative, its best epoch varies from model to
        model, and fixed short training scored better on all eight real targets screened.
    class_weights : {'balanced', 'none'}
        Weight classes inversely to their frequency (classification tasks).
    """

    hidden: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    dropout: float = 0.1
    loss: str | None = None
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    epochs: int = 20
    batch_size: int | None = None
    patience: int = 0
    class_weights: str = "balanced"

    def validated(self, task: str) -> NetworkOptions:
        """Check every option for ``task``; return a copy with the loss filled in.

        Raises
        ------
        OptionError
            Naming the option, the value received and the valid values.
        """
        check_choice("task", task, TASKS)
        hidden = parse_hidden(self.hidden)
        # Refuse before TensorFlow allocates: a layer of 10^8 units fails deep inside it.
        weights = sum(a * b for a, b in zip((1, *hidden), (*hidden, 1)))  # at least: one input, one output
        if weights > MAX_WEIGHTS:
            raise OptionError(f"hidden {','.join(map(str, hidden))}: the network would hold at least {weights:,} "
                              f"weights ({weights * 16 / 2**30:.1f} GiB to train), more than {MAX_WEIGHTS:,}; "
                              "use layers of tens to hundreds of units")
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("class_weights", self.class_weights, CLASS_WEIGHTS)
        losses = get_task(task).losses
        loss = self.loss or losses[0]
        if loss not in losses:
            raise OptionError(f"loss {loss!r} does not fit a {task} model{closest(loss, losses)}; "
                              f"valid: {one_of(losses)}")
        if not 0 <= self.dropout < 1:
            raise OptionError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not self.learning_rate > 0:
            raise OptionError(f"learning_rate must be positive, got {self.learning_rate!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if int(self.patience) < 0:
            raise OptionError(f"patience must be 0 (no early stopping) or more, got {self.patience!r}")
        return replace(self, hidden=hidden, loss=loss, dropout=float(self.dropout),
                       learning_rate=float(self.learning_rate), epochs=int(self.epochs),
                       batch_size=None if self.batch_size is None else int(self.batch_size),
                       patience=int(self.patience))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkOptions:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        names = [f.name for f in fields(cls)]
        for key in d:
            if key not in names:
                raise OptionError(f"unknown network option {key!r}{closest(key, names)}; valid: {one_of(names)}")
        return cls(**{**d, "hidden": parse_hidden(d.get("hidden", cls.hidden))})


def check_choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of ``valid``."""
    if value not in valid:
        raise OptionError(f"{name} {value!r} is not valid{closest(str(value), valid)}; valid: {one_of(valid)}")


def parse_hidden(value: str | int | tuple | list) -> tuple[int, ...]:
    """Hidden layer sizes from ``"64,32"``, ``64`` or ``[64, 32]``.

    Examples
    --------
    >>> parse_hidden("64, 32")
    (64, 32)
    """
    items = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    try:
        sizes = tuple(int(str(item).strip()) for item in items)
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise OptionError(f"hidden must list positive layer sizes such as '64,32', got {value!r}")
    return sizes


def auto_batch_size(n_rows: int) -> int:
    """Rows per gradient step when the options name none: about :data:`STEPS_PER_EPOCH` steps an
    epoch, within :data:`BATCH_LIMITS`.

    With a fixed 256, a few dozen deposits and their background (~300 rows) took one or two
    gradient steps an epoch, and early stopping ended training after a few dozen steps:
    badly under-fitted (Nanling Li: pooled AUC 0.85; with ~16 steps an epoch 0.96, see BENCHMARKS.md).
    Large sets keep batches of 256.

    Examples
    --------
    >>> auto_batch_size(300), auto_batch_size(3000), auto_batch_size(40000)
    (19, 188, 256)
    """
    return int(min(max(-(-int(n_rows) // STEPS_PER_EPOCH), BATCH_LIMITS[0]), BATCH_LIMITS[1]))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

    With the same seed, training on CPU gives the same weights, hence the same metrics.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def build_network(n_inputs: int, n_outputs: int, task: str, options: NetworkOptions, seed: int):
    """Build and compile the dense network.

    Parameters
    ----------
    n_inputs : int
        Number of feature bands.
    n_outputs : int
        Number of classes (landform) or 1.
    task : {'landform', 'prospectivity', 'regression'}
    options : NetworkOptions
        Already validated for ``task`` (see :meth:`NetworkOptions.validated`).
    seed : int
        Seeds the initial weights and dropout masks.

    Returns
    -------
    keras.Model
        Compiled; layer and optimizer names are fixed so that saved files are byte-stable.
    """
    import keras

    seed_everything(seed)
    inputs = keras.Input((n_inputs,), name="features")
    x = inputs
    for i, units in enumerate(options.hidden, start=1):
        x = keras.layers.Dense(units, activation=options.activation, name=f"hidden_{i}")(x)
        if options.dropout > 0:
            x = keras.layers.Dropout(options.dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(n_outputs, activation=get_task(task).output_activation, name="output")(x)
    model = keras.Model(inputs, outputs, name="network")
    model.compile(optimizer=_optimizer(options), loss=options.loss)
    return model


def _optimizer(options: NetworkOptions):
    import keras

    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return cls[options.optimizer](learning_rate=options.learning_rate, name=options.optimizer)
