"""Landform classes from labelled points or polygons (class names or integer codes)."""

from __future__ import annotations

import numpy as np

from georaster_dl.errors import LabelError
from georaster_dl.metrics import calibration, landform_metrics
from georaster_dl.tasks.base import Task

#: Class colours when the labels give none (RGB).
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120))


class Landform(Task):
    """Classes: a softmax over the classes; class codes and probabilities are written."""

    name = "landform"
    losses = ("categorical_crossentropy", "mse")
    output_activation = "softmax"
    headline = {"cv": "accuracy", "evaluation": "accuracy"}
    report_columns = {"cv": ("accuracy", "kappa", "accuracy_sd"), "evaluation": ("accuracy", "kappa")}
    output_bands = ("class", "probabilities")
    min_classes = 2
    calibrates = True
    one_class_advice = "give labels of at least two classes"
    cv_keys = ("accuracy", "kappa")

    def n_outputs(self, n_classes: int) -> int:
        return n_classes

    def targets(self, values: np.ndarray | None, n_labels: int, where: str) -> tuple[np.ndarray, list[dict]]:
        if values is None:
            raise LabelError("a landform model needs a class field: pass --label-field NAME")
        text = values.dtype.kind in "OUS"
        if not text and values.dtype.kind == "f":
            if np.isnan(values).any():
                raise LabelError(f"{where}: {int(np.isnan(values).sum())} label(s) have no class; remove them "
                                 "or filter them with --where")
            if (values != np.round(values)).any():
                raise LabelError(f"{where} holds fractional numbers; a landform field must hold class names or "
                                 "integer codes")
            values = values.astype(np.int64)
        if text:
            if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in values):
                raise LabelError(f"{where}: some labels have no class; remove them or filter them with --where")
            values = values.astype(str)
        unique, y = np.unique(values, return_inverse=True)
        classes = []
        for i, v in enumerate(unique.tolist()):
            colour = PALETTE[i % len(PALETTE)]
            classes.append({"name": str(v), "value": v, "colour": [int(c) for c in colour[:3]]})
        return y.astype(np.int64), classes

    def class_names(self, classes: list[dict] | None) -> list[str] | None:
        return [c["name"] for c in classes or []]

    def network_targets(self, y: np.ndarray, n_outputs: int, target: dict | None) -> np.ndarray:
        return np.eye(n_outputs, dtype=np.float32)[y]

    def point(self, out: np.ndarray) -> np.ndarray:
        return out.argmax(axis=1)

    def cv_extras(self, y: np.ndarray) -> dict:
        return {"baseline_accuracy": float(np.bincount(y).max() / len(y))}  # always the commonest class

    def row_score(self, y: np.ndarray, outputs: np.ndarray) -> float:
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.point(outputs))

    def sample_counts(self, y: np.ndarray, classes: list[dict] | None) -> dict:
        return {"class_counts": {c["name"]: int(n) for c, n in zip(classes, np.bincount(y, minlength=len(classes)))}}

    def label_metrics(self, y: np.ndarray, outputs: np.ndarray, class_names: list[str] | None) -> dict:
        return {**landform_metrics(y, self.point(outputs), class_names), **calibration(outputs, y)}
