"""Temperature scaling of class probabilities (``train --calibrate``), fitted out of fold.

A network's softmax is often over- or under-confident. Temperature scaling (Guo et al.
2017) divides every member's logits by one number T > 1 (softer) or < 1 (sharper): the
class ranking of each member is unchanged, and dividing the last Dense layer's kernel and
bias by T is exactly that, so a calibrated model is an ordinary model: the ONNX graph,
``predict --explain`` and everything else work on it unchanged.

T is fitted by minimising the negative log-likelihood of the ensemble's mean tempered
probabilities on the **out-of-fold** predictions of the cross-validation (each fold's
members on the labels they did not train on), then applied to the final model's members.
The calibrated figures reported are cross-fitted: each fold's probabilities are tempered
with the T fitted on the other folds, so the expected calibration error after scaling is
measured on labels its T never saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from georaster_dl.metrics import calibration

#: Temperatures searched (log-uniformly bounded): beyond these the probabilities are
#: all but uniform or all but one-hot, and the labels are too few to say more.
TEMPERATURE_RANGE = (0.05, 20.0)


def member_probabilities(bundle, x: np.ndarray) -> np.ndarray:
    """(members, n, classes) softmax outputs of each network of a trained (in-memory)
    ``bundle`` for feature rows ``x`` (all bands, as training samples hold them)."""
    z = bundle.preprocess.apply(x)
    return np.stack([np.asarray(net(z, training=False), np.float64) for net in bundle.networks])


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The ensemble's mean of each member's softmax(logits / T), from the members'
    probabilities (``log p`` are the logits up to a per-row constant, which softmax drops)."""
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=-1, keepdims=True)).mean(axis=0)


def fit_temperature(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of labels ``y`` under
    :func:`tempered` ``probabilities`` (members, n, classes)."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(TEMPERATURE_RANGE)
    best = minimize_scalar(lambda log_t: _nll(tempered(probabilities, np.exp(log_t)), y), bounds=(lo, hi),
                           method="bounded", options={"xatol": 1e-4})
    return float(np.exp(best.x))


def _nll(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of labels ``y`` under (n, classes) ``probabilities``."""
    return -float(np.mean(np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-12, None))))


def calibrate(fold_probabilities: list[np.ndarray], fold_labels: list[np.ndarray]) -> dict[str, Any]:
    """Fit the temperature on every fold's out-of-fold probabilities and measure it cross-fitted.

    Parameters
    ----------
    fold_probabilities : list of numpy.ndarray
        Per fold, (members, n, classes) probabilities of the fold's models for its held-out labels.
    fold_labels : list of numpy.ndarray
        Per fold, the true class indices of those labels.

    Returns
    -------
    dict
        ``temperature`` (fitted on all folds: what the final model gets), ``ece_before`` and
        ``ece_after`` (each fold tempered with the T of the other folds), ``nll_before``,
        ``nll_after``, ``fold_temperatures`` and ``reliability`` (after scaling).
    """
    def pooled(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays, axis=1)

    y = np.concatenate(fold_labels)
    before = pooled([p.mean(axis=0, keepdims=True) for p in fold_probabilities])[0]
    fold_t, after = [], []
    for f, p in enumerate(fold_probabilities):
        others = [q for g, q in enumerate(fold_probabilities) if g != f]
        t = fit_temperature(pooled(others), np.concatenate([lab for g, lab in enumerate(fold_labels) if g != f]))
        fold_t.append(t)
        after.append(tempered(p, t))
    after = np.concatenate(after)
    scaled = calibration(after, y)
    return {"temperature": fit_temperature(pooled(fold_probabilities), y), "fold_temperatures": fold_t,
            "ece_before": calibration(before, y)["ece"], "ece_after": scaled["ece"],
            "nll_before": _nll(before, y), "nll_after": _nll(after, y), "reliability": scaled["reliability"]}


def apply_temperature(networks: list, temperature: float) -> None:
    """Divide the output layer's kernel and bias of every network by ``temperature`` (its
    logits by T), in place."""
    for net in networks:
        output = net.get_layer("output")  # the name build_network gives it
        output.set_weights([w / np.float32(temperature) for w in output.get_weights()])
