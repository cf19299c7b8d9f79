"""Accuracy figures for the three tasks, computed with scikit-learn.

Prospectivity is scored the way the literature does it: the scores at the deposits
(positives) against the scores of every valid cell of the area (negatives), so the ROC
AUC is the probability that a deposit outranks a random cell (ties count one half).
The success-rate curve (prediction-rate curve when the deposits were held out) plots
the share of deposits captured against the share of area, cells ranked by score;
its area is that same AUC. The area under the precision-recall curve (AUPRC, average
precision) of the same deposits-against-cells ranking is given beside it with the value a
random ranking gets (the share of deposits among the scored cells), and the
prediction-area (P-A) plot (Yousefi & Carranza 2015) picks a threshold: where the share of
deposits scoring at least it meets the share of area scoring below it.

Landform models get the expected calibration error (ECE) of their predicted class's
probability and the reliability diagram it summarises.

Examples
--------
>>> import numpy as np
>>> cells = np.linspace(0, 1, 1001)
>>> round(prospectivity_metrics(np.array([0.95, 0.9, 0.5]), cells)["auc"], 3)
0.783
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: Shares of area at which captured deposits are reported.
CAPTURE_SHARES = (0.05, 0.10, 0.20)
CURVE_POINTS = 101
#: Equal-width confidence bins of the reliability diagram and the expected calibration error.
CALIBRATION_BINS = 10


def area_ranks(positive_scores: np.ndarray, cell_scores: np.ndarray) -> np.ndarray:
    """Share of the area scoring above each positive (cells tied with it count one half)."""
    cells = np.sort(np.asarray(cell_scores, np.float64))
    s = np.asarray(positive_scores, np.float64)
    below, not_above = np.searchsorted(cells, s, "left"), np.searchsorted(cells, s, "right")
    return ((cells.size - not_above) + 0.5 * (not_above - below)) / cells.size


def prospectivity_metrics(positive_scores: np.ndarray, cell_scores: np.ndarray) -> dict[str, Any]:
    """AUC, share of positives captured in the top 5/10/20 % of area, and the rate curve.

    Parameters
    ----------
    positive_scores : numpy.ndarray
        Scores at the deposits.
    cell_scores : numpy.ndarray
        Scores of the valid cells of the area (the negatives).

    Returns
    -------
    dict
        ``auc``, ``auprc``, ``auprc_random``, ``captured`` ({"top_5pct": share, ...}), ``curve``
        ({"area": [...], "captured": [...]}), ``pa`` (:func:`prediction_area`), ``n_positives``,
        ``n_cells``. AUC and AUPRC are NaN without positives.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    pos = np.asarray(positive_scores, np.float64)
    cells = np.asarray(cell_scores, np.float64)
    out: dict[str, Any] = {"n_positives": int(pos.size), "n_cells": int(cells.size)}
    if pos.size == 0 or cells.size == 0:
        return {**out, "auc": float("nan"), "auprc": float("nan"), "captured": {},
                "curve": {"area": [], "captured": []}}
    y = np.r_[np.ones(pos.size), np.zeros(cells.size)]
    out["auc"] = float(roc_auc_score(y, np.r_[pos, cells]))
    out["auprc"] = float(average_precision_score(y, np.r_[pos, cells]))
    out["auprc_random"] = pos.size / y.size
    out["pa"] = prediction_area(pos, cells)
    ranks = area_ranks(pos, cells)
    out["captured"] = {f"top_{round(s * 100)}pct": float(np.mean(ranks <= s)) for s in CAPTURE_SHARES}
    area = np.linspace(0, 1, CURVE_POINTS)
    out["curve"] = {"area": area.round(4).tolist(),
                    "captured": np.mean(ranks[None, :] <= area[:, None], axis=1).round(4).tolist()}
    return out


def prediction_area(positive_scores: np.ndarray, cell_scores: np.ndarray, n: int = CURVE_POINTS) -> dict[str, Any]:
    """The prediction-area (P-A) plot: shares of deposits and of area scoring at least each threshold.

    Thresholds run evenly over the cells' scores. ``intersection`` is the threshold where the
    deposits' share is closest to the share of area scoring below it: there, P % of the
    deposits lie in the (100 - P) % of the area that scores highest.

    Examples
    --------
    >>> pa = prediction_area(np.array([0.9, 0.8]), np.linspace(0, 1, 11))
    >>> pa["intersection"]["deposits"], round(pa["intersection"]["area"], 3)
    (1.0, 0.273)
    """
    pos = np.sort(np.asarray(positive_scores, np.float64))
    cells = np.sort(np.asarray(cell_scores, np.float64))
    thresholds = np.linspace(cells[0], cells[-1], n)
    deposits = 1 - np.searchsorted(pos, thresholds, "left") / pos.size
    area = 1 - np.searchsorted(cells, thresholds, "left") / cells.size
    i = int(np.argmin(np.abs(deposits - (1 - area))))
    return {"threshold": thresholds.round(6).tolist(), "deposits": deposits.round(4).tolist(),
            "area": area.round(4).tolist(),
            "intersection": {"threshold": float(thresholds[i]), "deposits": float(deposits[i]),
                             "area": float(area[i])}}


def calibration(probabilities: np.ndarray, y_true: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Expected calibration error and reliability diagram of the predicted class's probability.

    Parameters
    ----------
    probabilities : numpy.ndarray
        (n, k) class probabilities.
    y_true : numpy.ndarray
        (n,) true class indices.
    bins : int
        Equal-width bins of the predicted class's probability (its confidence) over 0-1.

    Returns
    -------
    dict
        ``ece``: the mean over samples of |accuracy - mean confidence| of their bin;
        ``reliability``: per bin ``confidence`` (mean), ``accuracy`` and ``count`` (NaN when empty).

    Examples
    --------
    >>> calibration(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]))["ece"]
    0.35
    """
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(y_true)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=bins) / count
        acc = np.bincount(which, weights=correct, minlength=bins) / count
    ece = float(np.nansum(count * np.abs(acc - conf)) / max(y.size, 1))
    return {"ece": round(ece, 10), "reliability": {"confidence": conf.tolist(), "accuracy": acc.tolist(),
                                                  "count": count.tolist()}}


def area_metrics(score_map: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> dict[str, Any]:
    """:func:`prospectivity_metrics` of a score map (NaN = nodata) with presences at cells (rows, cols)."""
    return prospectivity_metrics(score_map[rows, cols], score_map[negative_mask(score_map, rows, cols)])


def negative_mask(score_map: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Valid cells of a score map other than the presence cells: the negatives of the area AUC."""
    mask = np.isfinite(score_map)
    mask[rows, cols] = False
    return mask


def roc_points(positive_scores: np.ndarray, cell_scores: np.ndarray, n: int = 200) -> dict[str, list[float]]:
    """The ROC curve (false- and true-positive rates), thinned to about ``n`` points for plots."""
    from sklearn.metrics import roc_curve

    pos = np.asarray(positive_scores, np.float64)
    cells = np.asarray(cell_scores, np.float64)
    fpr, tpr, _ = roc_curve(np.r_[np.ones(pos.size), np.zeros(cells.size)], np.r_[pos, cells])
    keep = np.unique(np.linspace(0, fpr.size - 1, min(n, fpr.size)).astype(int))
    return {"fpr": fpr[keep].round(5).tolist(), "tpr": tpr[keep].round(5).tolist()}


def landform_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Overall accuracy, Cohen's kappa, per-class precision/recall/F1 and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices into ``class_names``; the confusion matrix
    has true classes as rows.
    """
    from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(class_names)))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "kappa": float(cohen_kappa_score(y_true, y_pred, labels=labels)),
            "per_class": {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                 "support": int(support[i])} for i, name in enumerate(class_names)},
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
            "n": int(len(y_true))}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R², RMSE and MAE."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {"r2": float(r2_score(y_true, y_pred)), "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred)), "n": int(len(y_true))}


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (NaN when there are none)."""
    v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def plain_json(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays, tuples and paths turned into plain JSON types
    and non-finite floats into None (standard JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): plain_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [plain_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def write_metrics(path: str | os.PathLike, doc: dict, overwrite: bool = False) -> Path:
    """Write metrics as standard JSON (NaN as null, sorted keys), atomically."""
    from georaster_dl.io.files import check_output_path, write_atomic

    path = check_output_path(path, overwrite, what="metrics file")
    return write_atomic(path, json.dumps(plain_json(doc), indent=1, sort_keys=True) + "\n", overwrite)
