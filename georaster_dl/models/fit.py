"""Fit one network on training rows: targets, class weights, early stopping.

Each epoch runs as one compiled TensorFlow function (shuffled mini-batches, gradient
steps with the network's Keras optimizer) rather than through ``model.fit``, which on
the small sample sets of this field spends ~70 ms an epoch on its own overhead: 6-9x
the training time (measured here). Early stopping watches the loss on a validation set
(held out in spatial blocks by the caller) and restores the weights of the best epoch.
With ``balanced`` class weights each class contributes equally to the loss (weight
``n / (k * n_class)``), in training and in validation, so a rare class or a few hundred
deposits among thousands of background cells are not ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from georaster_dl.models.network import NetworkOptions, build_network
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.samples import Samples


def fit_network(train: Samples, val: Samples | None, task: str, options: NetworkOptions, n_outputs: int,
                preprocess: Preprocessor, target: dict | None, seed: int) -> tuple[Any, dict[str, Any]]:
    """Build and train a network.

    Parameters
    ----------
    train, val : Samples
        Training rows and the validation rows for early stopping (None or empty, or
        ``options.patience == 0``: no early stopping, every epoch runs).
    task : str
    options : NetworkOptions
        Validated options.
    n_outputs : int
        Classes (landform) or 1.
    preprocess : Preprocessor
        Scaling fitted on the training rows.
    target : dict or None
        Regression target scaling ``{"mean", "std"}``.
    seed : int
        Seeds the initial weights, dropout and the order of the mini-batches.

    Returns
    -------
    model : keras.Model
    history : dict
        ``loss`` (and ``val_loss``) per epoch, ``best_epoch`` (1-based), ``epochs_run``.
    """
    import tensorflow as tf

    model = build_network(train.x.shape[1], n_outputs, task, options, seed)
    weights = _class_weights(train.y, n_outputs, task, options.class_weights)
    data = [tf.constant(a) for a in _arrays(train, task, n_outputs, preprocess, target, weights)]
    validation = None
    if val is not None and len(val) and options.patience > 0:
        validation = [tf.constant(a) for a in _arrays(val, task, n_outputs, preprocess, target, weights)]
    epoch, evaluate = _compiled_epoch(model, options), tf.function(_Loss(model, options))
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "val_loss": []}
    best, best_epoch, best_weights = np.inf, 0, None
    for e in range(1, options.epochs + 1):
        order = tf.constant(rng.permutation(len(train)), tf.int32)
        history["loss"].append(float(epoch(*data, order)))
        if validation is None:
            continue
        history["val_loss"].append(float(evaluate(*validation)))
        if history["val_loss"][-1] < best:
            best, best_epoch, best_weights = history["val_loss"][-1], e, model.get_weights()
        elif e - best_epoch >= options.patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    if validation is None:
        del history["val_loss"]
    run = len(history["loss"])
    return model, {**history, "best_epoch": best_epoch or run, "epochs_run": run}


def target_scaling(y: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of regression targets (the network learns the z-score)."""
    std = float(np.std(y))
    return {"mean": float(np.mean(y)), "std": std if std > 0 else 1.0}


def _class_weights(y: np.ndarray, n_outputs: int, task: str, mode: str) -> np.ndarray | None:
    if task == "regression" or mode == "none":
        return None
    k = max(n_outputs, 2)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    weights = np.zeros(k)
    weights[present] = y.size / (present.sum() * counts[present])
    return weights


def _arrays(s: Samples, task: str, n_outputs: int, preprocess: Preprocessor, target: dict | None,
            weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = preprocess.apply(s.x)
    if task == "landform":
        y = np.eye(n_outputs, dtype=np.float32)[s.y]
    elif task == "prospectivity":
        y = s.y.astype(np.float32)[:, None]
    else:
        y = ((s.y - target["mean"]) / target["std"]).astype(np.float32)[:, None]
    w = np.ones(len(s), np.float32) if weights is None else weights[s.y].astype(np.float32)
    return x, y, w


def _loss(options: NetworkOptions):
    import keras

    return {"categorical_crossentropy": keras.losses.CategoricalCrossentropy, "mse": keras.losses.MeanSquaredError,
            "binary_crossentropy": keras.losses.BinaryCrossentropy, "mae": keras.losses.MeanAbsoluteError,
            "huber": keras.losses.Huber}[options.loss]()


def _compiled_epoch(model, options: NetworkOptions):
    import tensorflow as tf

    model.optimizer.build(model.trainable_variables)
    n_in, n_out = model.input_shape[-1], model.output_shape[-1]
    return tf.function(_Epoch(model, options), input_signature=[
        tf.TensorSpec([None, n_in], tf.float32), tf.TensorSpec([None, n_out], tf.float32),
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int32)])


class _Epoch:
    """One epoch of shuffled mini-batch gradient steps (compiled by :func:`_compiled_epoch`).

    A callable object rather than a closure or method: TensorFlow then counts the
    tracing of each model's function on its own and does not warn about retracing
    when many models are trained in turn (cross-validation folds, ensembles).
    """

    def __init__(self, model, options: NetworkOptions) -> None:
        self.model, self.loss, self.batch = model, _loss(options), options.batch_size

    def __call__(self, x, y, w, order):
        import tensorflow as tf

        n = tf.shape(order)[0]
        total = tf.constant(0.0)
        variables = self.model.trainable_variables
        for start in tf.range(0, n, self.batch):
            idx = order[start:start + self.batch]
            with tf.GradientTape() as tape:
                loss = self.loss(tf.gather(y, idx), self.model(tf.gather(x, idx), training=True),
                                 sample_weight=tf.gather(w, idx))
            self.model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            total += loss * tf.cast(tf.shape(idx)[0], tf.float32)
        return total / tf.cast(n, tf.float32)


class _Loss:
    """Weighted loss of a model over a whole (validation) set; compiled with ``tf.function``."""

    def __init__(self, model, options: NetworkOptions) -> None:
        self.model, self.loss = model, _loss(options)

    def __call__(self, x, y, w):
        return self.loss(y, self.model(x, training=False), sample_weight=w)
