"""Evaluate a trained model against labels (new ones, or another area's via input overrides).

- prospectivity: the model scores every valid cell (streamed windows); the ROC AUC of the
  points against all other valid cells, the success-rate curve and the share of points in
  the top 5/10/20 % of the area; with known absences (a 0/1 field) also the AUC of
  presences against absences;
- landform: accuracy, Cohen's kappa, per-class precision/recall/F1, confusion matrix;
  label classes are matched to the model's classes by name;
- regression: R², RMSE, MAE.

Baselines (logistic or linear regression and a random forest, see
:mod:`georaster_dl.baselines`) are fitted on the rows the final model trained on, drawn
again from the labels file and settings the model records, and scored on these labels
exactly as the network is. When those rows cannot be drawn again (the labels were passed
in memory, or a training file is gone or changed since training: checksums), no baseline
is fitted and ``baselines_note`` says why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from georaster_dl.errors import LabelError, UserInputError, closest, one_of
from georaster_dl.io.files import check_output_path
from georaster_dl.metrics import area_metrics, negative_mask, plain_json, roc_points, write_metrics
from georaster_dl.models.bundle import ModelBundle, load_bundle
from georaster_dl.models.forward import Forward
from georaster_dl.progress import info
from georaster_dl.samples import label_samples, label_summary, read_labels_on
from georaster_dl.scoring import MapScorer, report_thumbnail, score_maps
from georaster_dl.stack import Stack, check_override_categories
from georaster_dl.tasks import get_task


def evaluate(model: str | os.PathLike | ModelBundle, labels, *, label_field: str | None = None,
             where: str | None = None, layer: str | None = None, inputs: dict[str, str] | None = None,
             baselines: bool = True, metrics_path: str | os.PathLike | None = None,
             report_path: str | os.PathLike | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Score a model against labels.

    Parameters
    ----------
    model : path or ModelBundle
        A ``.gdl`` model file or a loaded bundle.
    labels : path or Labels
        Points or polygons to evaluate on.
    label_field : str, optional
        Class or target field; defaults to the field the model was trained with.
    where, layer : str, optional
        Label filter and vector layer, as for training.
    inputs : dict, optional
        Input paths replacing the training ones by name (evaluate in another area).
    baselines : bool
        Also fit and score the baselines on the final model's training rows.
    metrics_path, report_path : path, optional
        Metrics JSON and HTML report to write.
    overwrite : bool

    Returns
    -------
    dict
        ``task``, ``labels`` (counts) and ``evaluation`` (the figures, with ``baselines`` and
        ``baselines_note``).

    Examples
    --------
    >>> m = evaluate("deposits.gdl", "new_deposits.gpkg")   # doctest: +SKIP
    >>> round(m["evaluation"]["auc"], 2)                      # doctest: +SKIP
    0.84
    """
    bundle = model if isinstance(model, ModelBundle) else load_bundle(model, networks=False)
    used = [*(i.path for i in bundle.spec.with_inputs(inputs or {}).inputs.values()),
            *([] if hasattr(labels, "rows") else [labels]), *([] if isinstance(model, ModelBundle) else [model])]
    for path, what in ((metrics_path, "metrics file"), (report_path, "report")):
        if path is not None:
            check_output_path(path, overwrite, what=what, inputs=used)
    label_field = label_field or (bundle.options.get("training") or {}).get("label_field")
    with Stack(bundle.spec.with_inputs(inputs or {}), prepare=False) as stack:
        bundle.check_bands(stack.band_names, bool(inputs))
        check_override_categories(stack, inputs or {})
        label_data = read_labels_on(labels, stack, label_field, where, layer)
        labelset = label_samples(stack, label_data, bundle.task, label_field, min_per_class=1)
        info(label_summary(labelset, label_data))
        forward = Forward(bundle)
        fitted, note = _baselines(bundle) if baselines else ({}, "not fitted (--no-baselines)")
        results, score_map = _score(stack, bundle, labelset, [forward, *fitted.values()])
        result = results[0]
        result["baselines"] = {name: {k: v for k, v in r.items() if k not in ("roc", "curve", "pa", "reliability")}
                               for name, r in zip(fitted, results[1:])}
        result["baselines_note"] = note
        metrics = {"task": bundle.task, "labels": {"n_used": len(labelset.samples), "n_nodata": labelset.n_nodata,
                                                   "n_outside": int(getattr(label_data, "n_outside", 0))},
                   "evaluation": result}
        if metrics_path is not None:
            write_metrics(metrics_path, metrics, overwrite)
        if report_path is not None:
            from georaster_dl.report import write_report

            thumb = report_thumbnail(stack, forward, bundle.task, score_map)
            title = f"Evaluation of {Path(model).name if not isinstance(model, ModelBundle) else 'a model'}"
            write_report(report_path, bundle, metrics, thumb, title=title, overwrite=overwrite)
    return plain_json(metrics)


def _score(stack: Stack, bundle: ModelBundle, labelset, models: list) -> tuple[list[dict], np.ndarray | None]:
    """Figures of each model (the network first) on the labels, and the network's score map
    (tasks whose scores rank every valid cell) or None."""
    task, s = get_task(bundle.task), labelset.samples
    if task.ranks_cells:
        maps = score_maps(stack, [MapScorer([m]) for m in models], message="scoring every valid cell")
        return [_prospectivity(m, s.subset(s.y == 1), s.subset(s.y == 0)) for m in maps], maps[0]
    y = _match_classes(labelset.classes, bundle.classes)[s.y] if bundle.classes else s.y
    names = [c["name"] for c in bundle.classes] if bundle.classes else None
    return [task.label_metrics(y, m(s.x)[0], names) for m in models], None


def _baselines(bundle: ModelBundle) -> tuple[dict, str]:
    """The baselines fitted on the final model's training rows and what they are, or none and why."""
    from georaster_dl.training import final_baselines

    try:
        fitted, n = final_baselines(bundle)
    except UserInputError as e:
        return {}, f"not fitted: the model's training rows cannot be drawn again: {e}"
    return fitted, (f"fitted on the {n} rows the final model trained on (its first member's), drawn again from "
                    f"{bundle.options['training']['labels']} and the model's inputs (checksums unchanged), "
                    "with its input scaling")


def _prospectivity(score_map: np.ndarray, presences, absences) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    out = area_metrics(score_map, presences.rows, presences.cols)
    out["roc"] = roc_points(score_map[presences.rows, presences.cols],
                            score_map[negative_mask(score_map, presences.rows, presences.cols)])
    if len(absences):
        scores = np.r_[score_map[presences.rows, presences.cols], score_map[absences.rows, absences.cols]]
        out["auc_absences"] = float(roc_auc_score(np.r_[np.ones(len(presences)), np.zeros(len(absences))], scores))
    return out


def _match_classes(label_classes: list[dict], model_classes: list[dict]) -> np.ndarray:
    """Map label class indices to the model's class indices by name."""
    names = [c["name"] for c in model_classes]
    mapping = []
    for c in label_classes:
        if c["name"] not in names:
            raise LabelError(f"class {c['name']!r} of the labels is not a class of the model"
                             f"{closest(c['name'], names)}; the model knows {one_of(names)}")
        mapping.append(names.index(c["name"]))
    return np.asarray(mapping, np.int64)
