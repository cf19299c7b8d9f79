"""Prospectivity (occurrence likelihood) from presence points, optionally known absences."""

from __future__ import annotations

import numpy as np

from georaster_dl.errors import LabelError
from georaster_dl.io import qml
from georaster_dl.tasks.base import Task


class Prospectivity(Task):
    """Presence against background: a sigmoid giving a score that ranks cells."""

    name = "prospectivity"
    losses = ("binary_crossentropy", "mse")
    output_activation = "sigmoid"
    headline = {"cv": "auc_pooled", "evaluation": "auc"}
    report_columns = {"cv": ("auc_pooled", "auc_mean", "auc_sd", "auprc_pooled"), "evaluation": ("auc", "auprc")}
    ranks_cells = True
    draws_background = True
    one_class_advice = "check that the labels are deposits and that --buffer leaves cells for background samples"
    map_label = "probability"
    map_ramp = qml.PROBABILITY_RAMP
    report_colormap = "magma"
    fixed_range = (0.0, 1.0)

    def targets(self, values: np.ndarray | None, n_labels: int, where: str) -> tuple[np.ndarray, None]:
        if values is None:
            return np.ones(n_labels, np.int64), None  # presence-only points
        try:
            v = values.astype(np.float64)
        except (TypeError, ValueError):
            v = np.array([np.nan])
        if not np.isin(v, (0.0, 1.0)).all():
            raise LabelError(f"{where}: a prospectivity label field must hold 1 (presence) or 0 (known absence); "
                             "leave out --label-field for presence-only points")
        return v.astype(np.int64), None

    def class_names(self, classes: list[dict] | None) -> list[str]:
        return ["absence", "presence"]

    def row_score(self, y: np.ndarray, outputs: np.ndarray) -> float:
        from sklearn.metrics import roc_auc_score

        return roc_auc_score(y, outputs[:, 0])

    def sample_counts(self, y: np.ndarray, classes: list[dict] | None) -> dict:
        return {"n_presence": int((y == 1).sum()), "n_absence": int((y == 0).sum())}

    def outputs_from_probabilities(self, proba: np.ndarray) -> np.ndarray:
        return proba[:, 1:2]  # the presence column

    def needed_classes(self, n_classes: int) -> list[int]:
        return [1]  # presence-only labels have no absences
