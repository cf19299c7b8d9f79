"""Train a dense-network model from a StackSpec and labels, with honest spatial cross-validation.

A short pipeline of functions that pass values: open the stack (pinning its spec) and turn
the labels into feature rows and background pools (:func:`training_data`), lay out spatial
folds (:func:`make_folds`), fit each fold's ensemble and the final one (:func:`fit_models`),
score them (:func:`score`: each fold's models score every valid cell inside it; the
baselines beside them; importance and the explanation on the held-out rows), optionally
calibrate the final model's probabilities on the folds (:func:`calibrate_probabilities`),
and write one model file, the metrics and an HTML report. Every choice comes in one validated :class:`~georaster_dl.models.config.TrainConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from georaster_dl.applicability import Applicability, fit_applicability
from georaster_dl.baselines import Baseline, fit_baselines
from georaster_dl.calibration import apply_temperature, calibrate, member_probabilities
from georaster_dl.cv import SpatialFolds, spatial_holdout
from georaster_dl.errors import LabelError, UserInputError
from georaster_dl.explain import Explainer, held_out_summary
from georaster_dl.features.registry import compact_onehot
from georaster_dl.importance import feature_groups, permutation_importance
from georaster_dl.io.files import absolute, check_output_path
from georaster_dl.metrics import (area_metrics, mean_sd, negative_mask, plain_json, prospectivity_metrics,
                                  roc_points, write_metrics)
from georaster_dl.models.bundle import ModelBundle, file_sha256, library_versions
from georaster_dl.models.config import VALIDATION_FRACTION, TrainConfig
from georaster_dl.models.fit import fit_network, target_scaling
from georaster_dl.models.forward import Forward
from georaster_dl.models.network import NetworkOptions
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.models.settings import TrainSettings
from georaster_dl.models.tune import CANDIDATES, select_options
from georaster_dl.progress import info, progress
from georaster_dl.samples import (LabelSet, Samples, background_pool, label_samples, label_summary,
                                  neighbour_cells, read_labels_on, take_background)
from georaster_dl.scoring import MapScorer, report_thumbnail, score_maps
from georaster_dl.spec import load_spec
from georaster_dl.stack import Stack
from georaster_dl.tasks import get_task

#: Without --cv-block-size, validation blocks are this fraction of the grid's longer side.
VALIDATION_BLOCK_SHARE = 0.1


def train(spec, labels, task: str, *, out: str | os.PathLike | None = None,
          metrics_path: str | os.PathLike | None = None, report_path: str | os.PathLike | None = None,
          overwrite: bool = False, **options: Any) -> tuple[ModelBundle, dict]:
    """Train a model; optionally cross-validate it and write the model file, metrics and report.

    Parameters
    ----------
    spec : StackSpec, dict or path
        The evidence layers and features.
    labels : path or Labels
        Points or polygons (GPKG, SHP, GeoJSON, CSV with coordinates).
    task : {'landform', 'prospectivity', 'regression'}
    out, metrics_path, report_path : path, optional
        Model file (``.gdl``), metrics JSON and HTML report to write.
    overwrite : bool
        Replace existing outputs.
    **options
        Every other choice, by name (see :class:`~georaster_dl.models.config.TrainConfig`):
        ``label_field`` (class field, numeric target, or a 0/1 field of known absences),
        ``where`` (filter on the label attributes, e.g. ``"mag >= 4"``), ``layer``; the network's
        ``hidden``, ``activation``, ``dropout``, ``loss``, ``optimizer``, ``learning_rate``,
        ``epochs``, ``batch_size``, ``patience``, ``class_weights``
        (:class:`~georaster_dl.models.network.NetworkOptions`); ``background_ratio`` and ``buffer``
        (prospectivity background), ``ensemble`` (members: different seeds and background draws;
        predictions give their mean and SD), ``seed`` (same seed, data and machine: same model),
        ``cv_folds``, ``cv_block_size``, ``cv_buffer`` (spatial block cross-validation, grid units),
        ``presence_neighbours`` (prospectivity: the cells within this many cells of each presence also
        train as presences), ``tune`` (network options chosen per model by inner spatial CV,
        :mod:`georaster_dl.models.tune`; recorded as ``options.tuning``), ``calibrate`` (landform, with
        cross-validation: temperature scaling fitted on the out-of-fold probabilities,
        ``cv.calibration``) (:class:`~georaster_dl.models.settings.TrainSettings`); ``baselines`` (with
        cross-validation, also fit logistic or linear regression and a random forest on each
        fold's training rows and score them like the network: ``cv.baselines``).

    Returns
    -------
    bundle : ModelBundle
    metrics : dict
        ``task``, ``training`` and, with cross-validation, ``cv`` (with ``baselines``) and ``importance``.

    Raises
    ------
    OptionError
        An unknown option name.
    UserInputError
        An option, a label file or labels that cannot work (one line saying what to do).

    Examples
    --------
    >>> bundle, metrics = train("sample_data/spec.yaml", "sample_data/deposits.gpkg",  # doctest: +SKIP
    ...                         "prospectivity", cv_folds=5, cv_block_size=3000, seed=1)
    >>> round(metrics["cv"]["auc_pooled"], 2)                                          # doctest: +SKIP
    0.9
    """
    config = TrainConfig.from_options(task, **options)
    spec = load_spec(spec)
    used = [*(i.path for i in spec.inputs.values()), *([] if hasattr(labels, "rows") else [labels])]
    for path, what in ((out, "model file"), (metrics_path, "metrics file"), (report_path, "report")):
        if path is not None:
            check_output_path(path, overwrite, what=what, inputs=used)
    with Stack(spec) as stack:
        data = training_data(stack, read_labelled(stack, labels, config), config)
        folds = make_folds(data, config.settings)
        n_fits = (config.settings.cv_folds + 1) * config.settings.ensemble
        with progress("train", n_fits, "training networks") as bar:
            fold_models = [fit_models(data, config, folds, f, bar) for f in range(config.settings.cv_folds)]
            final = fit_models(data, config, folds, None, bar)
        metrics: dict[str, Any] = {"task": task, "labels": data.label_counts,
                                   "training": training_summary(data, final)}
        maps = score(data, config, folds, fold_models, final.bundle, metrics)
        if config.settings.calibrate:
            metrics["cv"]["calibration"] = calibrate_probabilities(data, folds, fold_models, final)
        aoa = area_of_applicability(data, folds, final, metrics.get("importance"), config.settings.seed)
        options = config.to_dict(None if hasattr(labels, "rows") else str(absolute(labels)))
        if config.settings.tune:  # the final model's network is the one tuning chose
            options["network"] = final.network.to_dict()
            options["tuning"] = metrics["training"]["tuning"] = tuning_summary(fold_models, final)
        bundle = replace(final.bundle, options=options,
                         metrics=plain_json(metrics), input_sha256=_input_checksums(stack, labels),
                         versions=library_versions(), applicability=aoa)
        _write(bundle, metrics, final.rows, (stack, maps[-1] if maps else None), out, metrics_path, report_path,
               overwrite)
    return bundle, plain_json(metrics)


@dataclass(frozen=True)
class Labelled:
    """Labels read onto a stack's grid, as feature rows and targets."""

    labelset: LabelSet
    counts: dict[str, int]  #: labels used, outside the grid, on nodata cells


@dataclass(frozen=True)
class TrainingData:
    """What every model of one run draws from."""

    stack: Stack
    labelset: LabelSet
    #: One pool of background cells per ensemble member (tasks that draw background), else empty.
    pools: list[Samples]
    #: Side of the spatial blocks held out to stop training early (grid units).
    validation_block: float
    #: The model every fit fills in: spec, bands, classes.
    template: ModelBundle
    label_counts: dict[str, int]
    #: With ``presence_neighbours``: cells round the presences (as presences) and, for each, the
    #: index in :attr:`labelled` of its presence.
    neighbours: tuple[Samples, np.ndarray] | None = None

    @property
    def labelled(self) -> Samples:
        return self.labelset.samples


@dataclass(frozen=True)
class FittedModel:
    """The ensemble of one fold (or the final one), its members' histories and the first
    member's training rows (what the baselines and the training summary use)."""

    bundle: ModelBundle
    histories: list[dict]
    rows: Samples
    network: NetworkOptions  #: the options its members trained with (tuned, or as given)
    tuning: dict | None = None  #: with ``tune``: the choice and every candidate's inner score


def read_labelled(stack: Stack, labels, config: TrainConfig) -> Labelled:
    """The labels as feature rows and targets, refused when the task cannot learn from them."""
    task = get_task(config.task)
    label_data = read_labels_on(labels, stack, config.label_field, config.where, config.layer)
    labelset = label_samples(stack, label_data, config.task, config.label_field)
    if len(labelset.classes or []) < task.min_classes:
        names = ", ".join(repr(c["name"]) for c in labelset.classes or [])
        raise LabelError(f"--labels {labels}: every label is of one class ({names}); a {task.name} model learns to "
                         f"tell classes apart: {task.one_class_advice}")
    info(label_summary(labelset, label_data))
    return Labelled(labelset, {"n_used": len(labelset.samples), "n_outside": int(getattr(label_data, "n_outside", 0)),
                               "n_nodata": labelset.n_nodata})


def training_data(stack: Stack, labelled: Labelled | LabelSet, config: TrainConfig) -> TrainingData:
    """The run's shared data: labelled rows, background pools (drawn once per member), the
    early-stopping block size and the model template."""
    labelset = labelled.labelset if isinstance(labelled, Labelled) else labelled
    s = config.settings
    pools, neighbours = [], None
    if get_task(config.task).draws_background:
        n = int(np.ceil(s.background_ratio * int((labelset.samples.y == 1).sum())))
        pools = [background_pool(stack, n, _seed(s.seed, 1000, m)) for m in range(s.ensemble)]
        if s.presence_neighbours:
            is_presence = np.flatnonzero(labelset.samples.y == 1)
            cells, parent = neighbour_cells(stack, labelset.samples.subset(is_presence), s.presence_neighbours,
                                            labelset.samples)
            neighbours = cells, is_presence[parent]
    grid = stack.grid
    extent = max(grid.width * grid.res[0], grid.height * grid.res[1])
    template = ModelBundle(task=config.task, spec=stack.spec, band_names=list(stack.band_names),
                           band_kinds=list(stack.band_kinds), preprocess=Preprocessor([]), classes=labelset.classes)
    return TrainingData(stack, labelset, pools, s.cv_block_size or extent * VALIDATION_BLOCK_SHARE, template,
                        labelled.counts if isinstance(labelled, Labelled) else {}, neighbours)


def make_folds(data: TrainingData, settings: TrainSettings) -> SpatialFolds | None:
    """Spatial block folds of the labels (of the presences, for tasks that draw background)."""
    if not settings.cv_folds:
        return None
    s = data.labelled
    anchor = s.subset(s.y == 1) if get_task(data.labelset.task).draws_background else s
    return SpatialFolds.make(data.stack.grid, settings.cv_folds, settings.cv_block_size, settings.seed, anchor.rows,
                             anchor.cols, buffer=settings.cv_buffer)


def training_set(data: TrainingData, settings: TrainSettings, folds: SpatialFolds | None, fold: int | None,
                 member: int) -> Samples:
    """Samples the model of ``fold`` (None: the final model) and ``member`` trains on."""
    base = data.labelled
    kept = np.ones(len(base), bool) if fold is None else folds.train_mask(fold, base.rows, base.cols)
    base = base.subset(kept)
    if not get_task(data.labelset.task).draws_background:
        return base
    presences = base.subset(base.y == 1)
    n = int(round(settings.background_ratio * len(presences)))  # per labelled presence, neighbours aside
    if data.neighbours is not None:
        cells, parent = data.neighbours
        extra = cells.subset(kept[parent])  # a neighbour trains exactly when its presence does
        base, presences = base.concat(extra), presences.concat(extra)
    pool = data.pools[member]
    allowed = np.ones(len(pool), bool) if fold is None else folds.train_mask(fold, pool.rows, pool.cols)
    background = take_background(pool, n, allowed, presences, settings.buffer, data.stack.grid.res)
    if len(background) < 0.8 * n:
        info(f"only {len(background)} of {n} background cells available"
             + (f" for fold {fold + 1}" if fold is not None else "") + "; a smaller --buffer gives more")
    return base.concat(background)


def fit_models(data: TrainingData, config: TrainConfig, folds: SpatialFolds | None, fold: int | None,
               bar) -> FittedModel:
    """Train the ensemble of ``fold`` (None: the final model on every sample)."""
    task, s = get_task(config.task), config.settings
    sets = [training_set(data, s, folds, fold, m) for m in range(s.ensemble)]
    first = sets[0]
    if len(first) == 0 or (task.classifies and np.unique(first.y).size < 2):
        if fold is not None:
            raise LabelError(f"fold {fold + 1} has fewer than two classes to learn from; use fewer --cv-folds "
                             "or a different --cv-block-size")
        raise LabelError(f"the training set has fewer than two classes to learn from "
                         f"({np.unique(first.y).size} class(es) among {len(first)} samples); {task.one_class_advice}")
    stack = data.stack
    preprocess = Preprocessor.fit(first.x, stack.band_names, stack.band_kinds, stack.band_transforms)
    target = None if task.classifies else target_scaling(first.y)  # the network learns the target's z-score
    key = -1 if fold is None else fold
    network, tuning = config.network, None
    if s.tune:
        network, tuning = select_options(first, config.task, network, data.template.n_outputs, preprocess, target,
                                         stack.grid, data.validation_block, _seed(s.seed, key, 500))
    networks, histories = [], []
    for m, rows in enumerate(sets):
        seed = _seed(s.seed, key, m)
        held = (spatial_holdout(stack.grid, rows.rows, rows.cols, data.validation_block, VALIDATION_FRACTION, seed)
                if network.patience > 0 else np.zeros(len(rows), bool))
        net, hist = fit_network(rows.subset(~held), rows.subset(held), config.task, network,
                                data.template.n_outputs, preprocess, target, seed)
        networks.append(net)
        histories.append({**hist, "n_train": int((~held).sum()), "n_validation": int(held.sum())})
        bar.update()
    value_range = tuple(float(v) for v in np.percentile(first.y, [2, 98])) if target else None
    bundle = replace(data.template, preprocess=preprocess, networks=networks, target=target, value_range=value_range)
    return FittedModel(bundle, histories, first, network, tuning)


def tuning_summary(fold_models: list[FittedModel], final: FittedModel) -> dict[str, Any]:
    """The final model's tuning record, the candidates, and each fold model's choice."""
    return {**final.tuning, "candidates": {name: plain_json(change) for name, change in CANDIDATES},
            "fold_choices": [m.tuning.get("chosen") for m in fold_models]}


def training_summary(data: TrainingData, final: FittedModel) -> dict[str, Any]:
    """The final model's training rows and each member's loss curves."""
    s = final.rows
    return {"n_samples": len(s), "members": [
        {**h, "loss": _round(h["loss"]), "val_loss": _round(h.get("val_loss", []))} for h in final.histories],
        **get_task(data.labelset.task).sample_counts(s.y, data.labelset.classes)}


def score(data: TrainingData, config: TrainConfig, folds: SpatialFolds | None, fold_models: list[FittedModel],
          final: ModelBundle, metrics: dict) -> list[np.ndarray]:
    """Fill ``metrics`` with cross-validation (network and, with ``config.baselines``, the
    baselines), success-rate and importance figures; return the network's score maps
    (out-of-fold first)."""
    task = get_task(config.task)
    maps: list[np.ndarray] = []
    cvs: list[dict] = []  # the baselines' cross-validation figures
    forwards = [Forward(m.bundle) for m in fold_models]  # one compiled forward pass per fold model, reused
    # Per baseline, one model per fold: trained on that fold network's rows and scaling.
    fitted = _fold_baselines(data, config, fold_models) if config.baselines and folds is not None else {}
    if task.ranks_cells:
        scorers = [MapScorer([Forward(final)])]
        if folds is not None:
            scorers.insert(0, MapScorer(forwards, folds))
        extra = [MapScorer(models, folds) for models in fitted.values()]
        maps = score_maps(data.stack, scorers + extra, message="scoring every valid cell")
        maps, baseline_maps = maps[:len(scorers)], maps[len(scorers):]
        presences = data.labelled.subset(data.labelled.y == 1)
        metrics["training"]["success"] = area_metrics(maps[-1], presences.rows, presences.cols)
        if folds is not None:
            metrics["cv"] = _map_cv(maps[0], presences, folds)
            cvs = [_map_cv(m, presences, folds) for m in baseline_maps]
    elif folds is not None:
        metrics["cv"] = _labelled_cv(data, folds, forwards)
        cvs = [_labelled_cv(data, folds, models) for models in fitted.values()]
    if fitted:
        # The figures only: the fold layout is the network's, the curves are the network's alone.
        skip = {"k", "block_size", "buffer", "blocks", "folds", "roc", "prediction_rate", "baseline_accuracy",
                "pa", "reliability"}
        metrics["cv"]["baselines"] = {name: {k: v for k, v in cv.items() if k not in skip}
                                      for name, cv in zip(fitted, cvs)}
    if folds is not None:
        metrics["importance"] = _importance(data, config.settings.seed, folds, forwards)
        metrics["explain"] = _explanation(data, config.settings.seed, folds, fold_models, forwards)
    return maps


def calibrate_probabilities(data: TrainingData, folds: SpatialFolds, fold_models: list[FittedModel],
                            final: FittedModel) -> dict[str, Any]:
    """Temperature scaling: fitted on each fold's members' probabilities for its held-out labels,
    applied to the final model's members (see :mod:`georaster_dl.calibration`)."""
    held = list(_held_out(data, folds))
    if not held:
        raise LabelError("--calibrate: no cross-validation fold holds two labels to fit the temperature on; "
                         "use fewer --cv-folds or a smaller --cv-block-size")
    result = calibrate([member_probabilities(fold_models[f].bundle, x) for f, x, _ in held],
                       [y.astype(np.int64) for _, _, y in held])
    apply_temperature(final.bundle.networks, result["temperature"])
    final.bundle.graph = None  # built again from the scaled weights when saved
    info(f"calibration: temperature {result['temperature']:.3g}; out-of-fold ECE {result['ece_before']:.3f} -> "
         f"{result['ece_after']:.3f} (each fold scaled by the other folds' temperature)")
    return result


def area_of_applicability(data: TrainingData, folds: SpatialFolds | None, final: FittedModel,
                          importance: dict[str, float] | None, seed: int) -> Applicability:
    """The area of applicability of the final model: its (first member's) training rows,
    weighted by ``importance``, thresholded on the cross-validation folds when there are some."""
    s = final.rows
    fold_of = None if folds is None else folds.fold_of(s.rows, s.cols)
    aoa = fit_applicability(s.x, feature_groups(data.stack), importance, fold_of, _seed(seed, -1, 55))
    info(f"area of applicability: {len(aoa.rows)} training rows kept, threshold {aoa.threshold:.3g} "
         f"({aoa.method.split(':')[0]}); weights: {aoa.weights_from}")
    return aoa


def _fold_baselines(data: TrainingData, config: TrainConfig,
                    fold_models: list[FittedModel]) -> dict[str, list[Baseline]]:
    """Each baseline fitted on every fold's training rows (the fold network's first member's)."""
    task = get_task(config.task)
    n_classes = len(data.labelset.classes or []) or 2
    info(f"fitting baselines ({' and '.join(task.baselines())}) on each fold's training rows")
    per_fold = [fit_baselines(config.task, m.rows, m.bundle.preprocess, config.network.class_weights,
                              _seed(config.settings.seed, f, 77), n_classes) for f, m in enumerate(fold_models)]
    return {name: [fold[name] for fold in per_fold] for name in task.baselines()}


def _map_cv(oof: np.ndarray, presences: Samples, folds: SpatialFolds) -> dict[str, Any]:
    """Cross-validation of a map of out-of-fold scores against the presences in each fold."""
    pooled = area_metrics(oof, presences.rows, presences.cols)
    negatives = negative_mask(oof, presences.rows, presences.cols)
    fold_map = folds.fold_window(Window(0, 0, oof.shape[1], oof.shape[0]))
    pos_fold = folds.fold_of(presences.rows, presences.cols)
    pos_scores = oof[presences.rows, presences.cols]
    per_fold = []
    for f in range(folds.k):
        m = prospectivity_metrics(pos_scores[pos_fold == f], oof[negatives & (fold_map == f)])
        per_fold.append({"fold": f + 1, "auc": m["auc"], "n_positives": m["n_positives"], "n_cells": m["n_cells"]})
    auc_mean, auc_sd = mean_sd([p["auc"] for p in per_fold])
    return {**folds.to_dict(), "folds": folds.k, "auc_pooled": pooled["auc"], "auc_mean": auc_mean,
            "auc_sd": auc_sd, "auprc_pooled": pooled["auprc"], "auprc_random": pooled["auprc_random"],
            "per_fold": per_fold, "captured": pooled["captured"], "prediction_rate": pooled["curve"],
            "pa": pooled["pa"], "roc": roc_points(pos_scores, oof[negatives])}


def _labelled_cv(data: TrainingData, folds: SpatialFolds, forwards: list) -> dict[str, Any]:
    """Cross-validation on the labels: each fold's models predict the labels inside it."""
    task, s = get_task(data.labelset.task), data.labelled
    fold_of = folds.fold_of(s.rows, s.cols)
    outputs = np.zeros((len(s), data.template.n_outputs), np.float64)
    per_fold = []
    names = task.class_names(data.labelset.classes)
    for f, forward in enumerate(forwards):
        sel = fold_of == f
        outputs[sel] = forward(s.x[sel])[0]
        m = task.label_metrics(s.y[sel], outputs[sel], names)
        per_fold.append({"fold": f + 1, **{k: m[k] for k in ("accuracy", "kappa", "r2", "rmse", "mae", "n")
                                           if k in m}})
    pooled = {**task.label_metrics(s.y, outputs, names), **task.cv_extras(s.y)}
    summary = {f"{k}_{stat}": v for k in task.cv_keys
               for stat, v in zip(("mean", "sd"), mean_sd([p[k] for p in per_fold]))}
    return {**folds.to_dict(), "folds": folds.k, **pooled, **summary, "per_fold": per_fold}


def _held_out(data: TrainingData, folds: SpatialFolds) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Each fold's held-out rows and targets (fold, x, y): presences against background cells
    for tasks that draw background, else the labelled rows; folds too small to score skipped."""
    task = get_task(data.labelset.task)
    s, pool = data.labelled, data.pools[0] if data.pools else None
    sample_fold = folds.fold_of(s.rows, s.cols)
    pool_fold = folds.fold_of(pool.rows, pool.cols) if pool is not None else None
    for f in range(folds.k):
        if task.draws_background:
            held = s.subset((sample_fold == f) & (s.y == 1))
            cells = pool.subset(pool_fold == f)
            if len(held) and len(cells):
                yield f, np.concatenate([held.x, cells.x]), np.r_[np.ones(len(held)), np.zeros(len(cells))]
        else:
            held = s.subset(sample_fold == f)
            if len(held) >= 2:
                yield f, held.x, held.y


def _importance(data: TrainingData, seed: int, folds: SpatialFolds, forwards: list[Forward]) -> dict[str, float]:
    """Mean drop of each fold's score when an input's bands are shuffled in its held-out rows."""
    task = get_task(data.labelset.task)
    groups = feature_groups(data.stack)
    totals: dict[str, list[float]] = {name: [] for name in groups}
    for f, x, y in _held_out(data, folds):
        drops = permutation_importance(forwards[f], x, lambda out, y=y: task.row_score(y, out), groups,
                                       _seed(seed, f, 99))
        for name, drop in drops.items():
            totals[name].append(drop)
    return {name: float(np.mean(v)) if v else float("nan") for name, v in totals.items()}


def _explanation(data: TrainingData, seed: int, folds: SpatialFolds, fold_models: list[FittedModel],
                 forwards: list[Forward]) -> dict[str, Any]:
    """The global explanation on the held-out rows: each fold model explains the rows it did
    not see (see :func:`~georaster_dl.explain.held_out_summary`)."""
    parts = []
    for f, x, _ in _held_out(data, folds):
        rows = compact_onehot(x, data.stack.compact_layout)
        mean = forwards[f](rows, compact=True)[0] if fold_models[f].bundle.n_outputs > 1 else None
        parts.append((Explainer(fold_models[f].bundle), rows, mean))
    return held_out_summary(parts, _seed(seed, -1, 88)) if parts else {}


def _write(bundle: ModelBundle, metrics: dict, rows: Samples, thumbnail_from: tuple, out, metrics_path, report_path,
           overwrite: bool) -> None:
    """Write the model file (checking its ONNX graph against Keras on ``rows``), metrics and report."""
    if out is not None:
        bundle.save(out, overwrite=overwrite, check_rows=rows.x)
        info(f"wrote {out}")
    if metrics_path is not None:
        write_metrics(metrics_path, metrics, overwrite)
    if report_path is not None:
        from georaster_dl.report import write_report

        stack, score_map = thumbnail_from
        thumb = report_thumbnail(stack, Forward(bundle), bundle.task, score_map)
        write_report(report_path, bundle, metrics, thumb,
                     title=f"{bundle.task} model" + (f" {Path(out).name}" if out else ""), overwrite=overwrite)
        info(f"wrote {report_path}")


def training_rows(bundle: ModelBundle) -> Samples:
    """The rows the final model (its first member) trained on, drawn again from the files and
    settings the model records: the same labels and, for prospectivity, the same background cells
    (the same seeds draw them).

    Raises
    ------
    UserInputError
        When the model records no labels file (labels were passed in memory), or a recorded input or
        the labels file is no longer a regular file or its checksum changed since training.
    """
    t = (bundle.options or {}).get("training") or {}
    labels, checksums = t.get("labels"), bundle.input_sha256 or {}
    if not labels or labels not in checksums:
        raise UserInputError("the model records no labels file (its labels were passed in memory)")
    for path, digest in checksums.items():
        if not Path(path).is_file():  # a regular file only: never hash a device or a pipe named in a model
            raise UserInputError(f"{path}, used in training, is no longer there")
        if file_sha256(path) != digest:
            raise UserInputError(f"{path} has changed since training")
    settings = TrainSettings(**{k: t[k] for k in TrainSettings.__dataclass_fields__ if k in t})
    config = TrainConfig(bundle.task, NetworkOptions.from_dict(bundle.options["network"]), settings,
                         t.get("label_field"), t.get("where"), t.get("layer"))
    with Stack(bundle.spec, prepare=False) as stack:
        label_data = read_labels_on(labels, stack, config.label_field, config.where, config.layer)
        labelset = label_samples(stack, label_data, bundle.task, config.label_field)
        return training_set(training_data(stack, labelset, config), settings, None, None, 0)


def final_baselines(bundle: ModelBundle) -> tuple[dict[str, Baseline], int]:
    """The baselines fitted on the final model's training rows (:func:`training_rows`) with its
    input scaling, as cross-validation fits them on a fold's; and the number of rows.

    Raises
    ------
    UserInputError
        When the training rows cannot be drawn again (see :func:`training_rows`).
    """
    rows = training_rows(bundle)
    seed = int(bundle.options["training"]["seed"])
    n_classes = len(bundle.classes or []) or 2
    return fit_baselines(bundle.task, rows, bundle.preprocess, bundle.options["network"]["class_weights"],
                         _seed(seed, -1, 77), n_classes), len(rows)


def _input_checksums(stack: Stack, labels) -> dict[str, str]:
    paths = [i.path for i in stack.spec.inputs.values()]
    if not hasattr(labels, "rows"):
        paths.append(str(absolute(labels)))
    return {p: file_sha256(p) for p in paths if Path(p).exists()}


def _seed(seed: int, fold: int, member: int) -> int:
    """A seed per (run seed, fold, member), independent streams for each."""
    return int(np.random.SeedSequence([seed, fold + 2, member]).generate_state(1)[0] & 0x7FFFFFFF)


def _round(values: list[float]) -> list[float]:
    return [round(v, 6) for v in values]
