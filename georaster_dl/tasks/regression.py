"""Continuous targets (e.g. assay values) from labelled points."""

from __future__ import annotations

import numpy as np

from georaster_dl.errors import LabelError
from georaster_dl.metrics import regression_metrics
from georaster_dl.tasks.base import Task


class Regression(Task):
    """A value: a linear output fitted to the targets' z-scores."""

    name = "regression"
    losses = ("mse", "mae", "huber")
    output_activation = "linear"
    classifies = False
    linear_baseline = "linear"
    headline = {"cv": "r2", "evaluation": "r2"}
    cv_keys = ("r2", "rmse")
    report_columns = {"cv": ("r2", "rmse", "r2_sd"), "evaluation": ("r2", "rmse")}

    def targets(self, values: np.ndarray | None, n_labels: int, where: str) -> tuple[np.ndarray, None]:
        if values is None:
            raise LabelError("a regression model needs a numeric target: pass --label-field NAME")
        try:
            v = values.astype(np.float64)
        except (TypeError, ValueError):
            raise LabelError(f"{where} holds text; a regression target must be numeric: choose a numeric "
                             "--label-field") from None
        bad = ~np.isfinite(v)
        if bad.any():
            raise LabelError(f"{where}: {int(bad.sum())} target(s) are empty or NaN; remove them or filter "
                             "them with --where")
        return v, None

    def row_score(self, y: np.ndarray, outputs: np.ndarray) -> float:
        from sklearn.metrics import r2_score

        return r2_score(y, outputs[:, 0])

    def label_metrics(self, y: np.ndarray, outputs: np.ndarray, class_names: list[str] | None) -> dict:
        return regression_metrics(y, self.point(outputs))

    def network_targets(self, y: np.ndarray, n_outputs: int, target: dict | None) -> np.ndarray:
        return ((y - target["mean"]) / target["std"]).astype(np.float32)[:, None]
