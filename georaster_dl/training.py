"""Train a dense-network model from a StackSpec and labels, with honest spatial cross-validation.

The flow: open the stack (pinning its spec), read the labels onto its grid, turn them
into feature rows (plus background cells for prospectivity), optionally cross-validate
on spatial blocks (each fold's models train on samples outside the fold and score every
valid cell inside it), train the final model(s) on all samples, and write one model
file, the metrics and an HTML report.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from georaster_dl.applicability import Applicability, fit_applicability
from georaster_dl.baselines import Baseline, fit_baselines
from georaster_dl.baselines import names as baseline_names
from georaster_dl.cv import SpatialFolds, spatial_holdout
from georaster_dl.errors import LabelError, UserInputError
from georaster_dl.importance import feature_groups, permutation_importance
from georaster_dl.io.files import absolute, check_output_path
from georaster_dl.metrics import (area_metrics, landform_metrics, mean_sd, negative_mask, plain_json,
                                  prospectivity_metrics, regression_metrics, roc_points, write_metrics)
from georaster_dl.models.bundle import ModelBundle, file_sha256, library_versions
from georaster_dl.models.fit import fit_network, target_scaling
from georaster_dl.models.forward import Forward
from georaster_dl.models.network import NetworkOptions
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.models.settings import TrainSettings
from georaster_dl.progress import info, progress
from georaster_dl.samples import (LabelSet, Samples, background_pool, label_samples, label_summary, read_labels_on,
                                  take_background)
from georaster_dl.scoring import MapScorer, report_thumbnail, score_maps
from georaster_dl.spec import load_spec
from georaster_dl.stack import Stack

#: Share of the training samples held out (in spatial blocks) to stop training early.
VALIDATION_FRACTION = 0.2
#: Without --cv-block-size, validation blocks are this fraction of the grid's longer side.
VALIDATION_BLOCK_SHARE = 0.1


def train(spec, labels, task: str, *, label_field: str | None = None, where: str | None = None,
          layer: str | None = None, hidden: str | tuple[int, ...] = (64, 32), activation: str = "relu",
          dropout: float = 0.1, loss: str | None = None, optimizer: str = "adam", learning_rate: float = 1e-3,
          epochs: int = 20, batch_size: int | None = None, patience: int = 0, class_weights: str = "balanced",
          background_ratio: float = 10.0, buffer: float = 0.0, cv_folds: int = 0,
          cv_block_size: float | None = None, cv_buffer: float = 0.0, ensemble: int = 5, seed: int = 0,
          baselines: bool = True, out: str | os.PathLike | None = None, metrics_path: str | os.PathLike | None = None,
          report_path: str | os.PathLike | None = None, overwrite: bool = False) -> tuple[ModelBundle, dict]:
    """Train a model; optionally cross-validate it and write the model file, metrics and report.

    Parameters
    ----------
    spec : StackSpec, dict or path
        The evidence layers and features.
    labels : path or Labels
        Points or polygons (GPKG, SHP, GeoJSON, CSV with coordinates).
    task : {'landform', 'prospectivity', 'regression'}
    label_field : str, optional
        Class field (landform), numeric target (regression), or a 0/1 field with known
        absences (prospectivity; without it every point is a presence).
    where : str, optional
        Filter on the label attributes, e.g. ``"mag >= 4"``.
    layer : str, optional
        Layer of a multi-layer vector file.
    hidden, activation, dropout, loss, optimizer, learning_rate, epochs, batch_size, patience, class_weights
        Network options (see :class:`~georaster_dl.models.network.NetworkOptions`).
    background_ratio : float
        Prospectivity: background cells drawn per presence.
    buffer : float
        Prospectivity: no background within this distance (grid units) of a presence.
    cv_folds, cv_block_size, cv_buffer : int, float, float
        Spatial block cross-validation: folds, block side and train/test gap in grid units.
    ensemble : int
        Members per model (different seeds and background draws); predictions give
        their mean and standard deviation.
    seed : int
        Same seed, same data, same machine: same model and metrics.
    baselines : bool
        With cross-validation, also fit logistic (linear for regression) regression and a random
        forest on each fold's training rows and score them like the network (``cv.baselines``,
        see :mod:`georaster_dl.baselines`).
    out, metrics_path, report_path : path, optional
        Model file (``.gdl``), metrics JSON and HTML report to write.
    overwrite : bool
        Replace existing outputs.

    Returns
    -------
    bundle : ModelBundle
    metrics : dict
        ``task``, ``training`` and, with cross-validation, ``cv`` (with ``baselines``) and ``importance``.

    Examples
    --------
    >>> bundle, metrics = train("sample_data/spec.yaml", "sample_data/deposits.gpkg",  # doctest: +SKIP
    ...                         "prospectivity", cv_folds=5, cv_block_size=3000, seed=1)
    >>> round(metrics["cv"]["auc_pooled"], 2)                                          # doctest: +SKIP
    0.9
    """
    options = NetworkOptions(hidden, activation, dropout, loss, optimizer, learning_rate,
                             epochs, batch_size, patience, class_weights).validated(task)
    settings = TrainSettings(float(background_ratio), float(buffer), int(ensemble), int(seed), int(cv_folds),
                             None if cv_block_size is None else float(cv_block_size), float(cv_buffer))
    settings.check(task)
    spec = load_spec(spec)
    used = [*(i.path for i in spec.inputs.values()), *([] if hasattr(labels, "rows") else [labels])]
    for path, what in ((out, "model file"), (metrics_path, "metrics file"), (report_path, "report")):
        if path is not None:
            check_output_path(path, overwrite, what=what, inputs=used)
    with Stack(spec) as stack:
        label_data = read_labels_on(labels, stack, label_field, where, layer)
        labelset = label_samples(stack, label_data, task, label_field)
        if task == "landform" and len(labelset.classes or []) < 2:
            names = ", ".join(repr(c["name"]) for c in labelset.classes or [])
            raise LabelError(f"--labels {labels}: every label is of one class ({names}); a landform model learns to "
                             "tell classes apart: give labels of at least two classes")
        info(label_summary(labelset, label_data))
        run = _Run(stack, labelset, options, settings)
        metrics: dict[str, Any] = {"task": task, "labels": {
            "n_used": len(labelset.samples), "n_outside": int(getattr(label_data, "n_outside", 0)),
            "n_nodata": labelset.n_nodata}}
        folds = run.folds()
        with progress("train", (settings.cv_folds + 1) * settings.ensemble, "training networks") as bar:
            fold_bundles = [run.fit(f, bar)[0] for f in range(settings.cv_folds)]
            bundle, histories = run.fit(None, bar)
        metrics["training"] = run.training_summary(histories)
        maps = run.evaluate(folds, fold_bundles, bundle, metrics, baselines)
        bundle.applicability = run.applicability(metrics.get("importance"))
        bundle.options = {"network": options.to_dict(), "training": {
            **settings.__dict__, "baselines": bool(baselines), "label_field": label_field, "where": where,
            "layer": layer, "labels": None if hasattr(labels, "rows") else str(absolute(labels)),
            "validation_fraction": VALIDATION_FRACTION}}
        bundle.metrics = plain_json(metrics)
        bundle.input_sha256 = _input_checksums(stack, labels)
        bundle.versions = library_versions()
        if out is not None:
            bundle.save(out, overwrite=overwrite, check_rows=run.final_samples.x)
            info(f"wrote {out}")
        if metrics_path is not None:
            write_metrics(metrics_path, metrics, overwrite)
        if report_path is not None:
            from georaster_dl.report import write_report

            thumb = report_thumbnail(stack, Forward(bundle), task, maps[-1] if maps else None)
            write_report(report_path, bundle, metrics, thumb,
                         title=f"{task} model" + (f" {Path(out).name}" if out else ""), overwrite=overwrite)
            info(f"wrote {report_path}")
    return bundle, plain_json(metrics)


class _Run:
    """State shared by the models of one training run (samples, background pools, folds)."""

    def __init__(self, stack: Stack, labelset: LabelSet, options: NetworkOptions, settings: TrainSettings) -> None:
        self.stack, self.labelset, self.options, self.settings = stack, labelset, options, settings
        self.task = labelset.task
        self.labelled = labelset.samples
        self._folds: SpatialFolds | None = None
        self.pools: list[Samples] = []
        self.final_samples: Samples | None = None  # set by fit(None)
        self.fold_samples: dict[int, Samples] = {}  # first member's training rows per fold, set by fit(fold)
        if self.task == "prospectivity":
            n_presence = int((self.labelled.y == 1).sum())
            n = int(np.ceil(settings.background_ratio * n_presence))
            self.pools = [background_pool(stack, n, _seed(settings.seed, 1000, m)) for m in range(settings.ensemble)]
        grid = stack.grid
        extent = max(grid.width * grid.res[0], grid.height * grid.res[1])
        self.validation_block = settings.cv_block_size or extent * VALIDATION_BLOCK_SHARE
        self.template = ModelBundle(task=self.task, spec=stack.spec, band_names=list(stack.band_names),
                                    band_kinds=list(stack.band_kinds), preprocess=Preprocessor([]),
                                    classes=labelset.classes)

    def folds(self) -> SpatialFolds | None:
        s = self.settings
        if not s.cv_folds:
            return None
        anchor = self.labelled.subset(self.labelled.y == 1) if self.task == "prospectivity" else self.labelled
        self._folds = SpatialFolds.make(self.stack.grid, s.cv_folds, s.cv_block_size, s.seed, anchor.rows,
                                        anchor.cols, buffer=s.cv_buffer)
        return self._folds

    def training_set(self, fold: int | None, member: int) -> Samples:
        """Samples the model of ``fold`` (None: the final model) and ``member`` trains on."""
        base = self.labelled
        if fold is not None:
            base = base.subset(self._folds.train_mask(fold, base.rows, base.cols))
        if self.task != "prospectivity":
            return base
        presences = base.subset(base.y == 1)
        pool = self.pools[member]
        allowed = np.ones(len(pool), bool) if fold is None else self._folds.train_mask(fold, pool.rows, pool.cols)
        n = int(round(self.settings.background_ratio * len(presences)))
        background = take_background(pool, n, allowed, presences, self.settings.buffer, self.stack.grid.res)
        if len(background) < 0.8 * n:
            info(f"only {len(background)} of {n} background cells available"
                 + (f" for fold {fold + 1}" if fold is not None else "") + "; a smaller --buffer gives more")
        return base.concat(background)

    def fit(self, fold: int | None, bar) -> tuple[ModelBundle, list[dict]]:
        """Train the ensemble of ``fold`` (None: the final model on every sample); also return
        each member's training history."""
        sets = [self.training_set(fold, m) for m in range(self.settings.ensemble)]
        first = sets[0]
        if fold is None:
            self.final_samples = first  # what training_summary describes
        else:
            self.fold_samples[fold] = first  # what the fold's baselines train on
        if len(first) == 0 or (self.task != "regression" and np.unique(first.y).size < 2):
            if fold is not None:
                raise LabelError(f"fold {fold + 1} has fewer than two classes to learn from; use fewer --cv-folds "
                                 "or a different --cv-block-size")
            fix = ("give labels of at least two classes" if self.task == "landform" else
                   "check that the labels are deposits and that --buffer leaves cells for background samples")
            raise LabelError(f"the training set has fewer than two classes to learn from "
                             f"({np.unique(first.y).size} class(es) among {len(first)} samples); {fix}")
        stack = self.stack
        preprocess = Preprocessor.fit(first.x, stack.band_names, stack.band_kinds, stack.band_transforms)
        target = target_scaling(first.y) if self.task == "regression" else None
        networks, histories = [], []
        for m, s in enumerate(sets):
            seed = _seed(self.settings.seed, -1 if fold is None else fold, m)
            held = (spatial_holdout(stack.grid, s.rows, s.cols, self.validation_block, VALIDATION_FRACTION, seed)
                    if self.options.patience > 0 else np.zeros(len(s), bool))
            net, hist = fit_network(s.subset(~held), s.subset(held), self.task, self.options,
                                    self.template.n_outputs, preprocess, target, seed)
            networks.append(net)
            histories.append({**hist, "n_train": int((~held).sum()), "n_validation": int(held.sum())})
            bar.update()
        value_range = tuple(float(v) for v in np.percentile(first.y, [2, 98])) if target else None
        return replace(self.template, preprocess=preprocess, networks=networks, target=target,
                       value_range=value_range), histories

    def training_summary(self, histories: list[dict]) -> dict[str, Any]:
        s = self.final_samples
        out: dict[str, Any] = {"n_samples": len(s), "members": [
            {**h, "loss": _round(h["loss"]), "val_loss": _round(h.get("val_loss", []))} for h in histories]}
        if self.task == "prospectivity":
            out["n_presence"] = int((s.y == 1).sum())
            out["n_absence"] = int((s.y == 0).sum())
        elif self.task == "landform":
            out["class_counts"] = {c["name"]: int(n) for c, n in
                                   zip(self.labelset.classes, np.bincount(s.y, minlength=len(self.labelset.classes)))}
        return out

    def evaluate(self, folds: SpatialFolds | None, fold_bundles: list[ModelBundle], final: ModelBundle,
                 metrics: dict, baselines: bool = True) -> list[np.ndarray]:
        """Fill ``metrics`` with cross-validation (network and, with ``baselines``, the baselines),
        success-rate and importance figures; return the network's score maps (out-of-fold first)."""
        maps: list[np.ndarray] = []
        cvs: list[dict] = []  # the baselines' cross-validation figures
        forwards = [Forward(b) for b in fold_bundles]  # one compiled forward pass per fold model, reused
        # Per baseline, one model per fold: trained on that fold network's rows and scaling.
        fitted = self._fit_baselines(fold_bundles) if baselines and folds is not None else {}
        if self.task == "prospectivity":
            scorers = [MapScorer([Forward(final)])]
            if folds is not None:
                scorers.insert(0, MapScorer(forwards, folds))
            extra = [MapScorer(models, folds) for models in fitted.values()]
            maps = score_maps(self.stack, scorers + extra, message="scoring every valid cell")
            maps, baseline_maps = maps[:len(scorers)], maps[len(scorers):]
            presences = self.labelled.subset(self.labelled.y == 1)
            metrics["training"]["success"] = area_metrics(maps[-1], presences.rows, presences.cols)
            if folds is not None:
                metrics["cv"] = self._prospectivity_cv(maps[0], presences, folds)
                cvs = [self._prospectivity_cv(m, presences, folds) for m in baseline_maps]
        elif folds is not None:
            metrics["cv"] = self._labelled_cv(folds, forwards)
            cvs = [self._labelled_cv(folds, models) for models in fitted.values()]
        if fitted:
            # The figures only: the fold layout is the network's, the curves are the network's alone.
            skip = {"k", "block_size", "buffer", "blocks", "folds", "roc", "prediction_rate", "baseline_accuracy"}
            metrics["cv"]["baselines"] = {name: {k: v for k, v in cv.items() if k not in skip}
                                          for name, cv in zip(fitted, cvs)}
        if folds is not None:
            metrics["importance"] = self._importance(folds, forwards)
        return maps

    def applicability(self, importance: dict[str, float] | None) -> Applicability:
        """The area of applicability of the final model: its (first member's) training rows,
        weighted by ``importance``, thresholded on the cross-validation folds when there are some."""
        s = self.final_samples
        folds = None if self._folds is None else self._folds.fold_of(s.rows, s.cols)
        aoa = fit_applicability(s.x, feature_groups(self.stack), importance, folds, _seed(self.settings.seed, -1, 55))
        info(f"area of applicability: {len(aoa.rows)} training rows kept, threshold {aoa.threshold:.3g} "
             f"({aoa.method.split(':')[0]}); weights: {aoa.weights_from}")
        return aoa

    def _fit_baselines(self, fold_bundles: list[ModelBundle]) -> dict[str, list[Baseline]]:
        """Each baseline fitted on every fold's training rows (the fold network's first member's)."""
        n_classes = len(self.labelset.classes) if self.task == "landform" else 2
        info(f"fitting baselines ({' and '.join(baseline_names(self.task))}) on each fold's training rows")
        per_fold = [fit_baselines(self.task, self.fold_samples[f], b.preprocess, self.options.class_weights,
                                  _seed(self.settings.seed, f, 77), n_classes) for f, b in enumerate(fold_bundles)]
        return {name: [fold[name] for fold in per_fold] for name in baseline_names(self.task)}

    def _prospectivity_cv(self, oof: np.ndarray, presences: Samples, folds: SpatialFolds) -> dict[str, Any]:
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
                "auc_sd": auc_sd, "per_fold": per_fold, "captured": pooled["captured"],
                "prediction_rate": pooled["curve"], "roc": roc_points(pos_scores, oof[negatives])}

    def _labelled_cv(self, folds: SpatialFolds, forwards: list[Forward]) -> dict[str, Any]:
        s = self.labelled
        fold_of = folds.fold_of(s.rows, s.cols)
        pred = np.zeros(len(s), np.float64)
        per_fold = []
        names = [c["name"] for c in self.labelset.classes or []]
        for f, forward in enumerate(forwards):
            sel = fold_of == f
            out = forward(s.x[sel])[0]
            pred[sel] = out.argmax(axis=1) if self.task == "landform" else out[:, 0]
            m = (landform_metrics(s.y[sel], pred[sel].astype(np.int64), names) if self.task == "landform"
                 else regression_metrics(s.y[sel], pred[sel]))
            per_fold.append({"fold": f + 1, **{k: m[k] for k in ("accuracy", "kappa", "r2", "rmse", "mae", "n")
                                               if k in m}})
        if self.task == "landform":
            pooled = landform_metrics(s.y, pred.astype(np.int64), names)
            pooled["baseline_accuracy"] = float(np.bincount(s.y).max() / len(s))
            keys = ("accuracy", "kappa")
        else:
            pooled = regression_metrics(s.y, pred)
            keys = ("r2", "rmse")
        summary = {f"{k}_{stat}": v for k in keys for stat, v in zip(("mean", "sd"), mean_sd([p[k] for p in per_fold]))}
        return {**folds.to_dict(), "folds": folds.k, **pooled, **summary, "per_fold": per_fold}

    def _importance(self, folds: SpatialFolds, forwards: list[Forward]) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

        groups = feature_groups(self.stack)
        totals: dict[str, list[float]] = {name: [] for name in groups}
        s, pool = self.labelled, self.pools[0] if self.pools else None
        sample_fold = folds.fold_of(s.rows, s.cols)
        pool_fold = folds.fold_of(pool.rows, pool.cols) if pool is not None else None
        for f, forward in enumerate(forwards):
            if self.task == "prospectivity":
                held = s.subset((sample_fold == f) & (s.y == 1))
                cells = pool.subset(pool_fold == f)
                if not len(held) or not len(cells):
                    continue
                x, y = np.concatenate([held.x, cells.x]), np.r_[np.ones(len(held)), np.zeros(len(cells))]
                score = lambda out, y=y: roc_auc_score(y, out[:, 0])  # noqa: E731
            else:
                held = s.subset(sample_fold == f)
                if len(held) < 2:
                    continue
                x, y = held.x, held.y
                score = ((lambda out, y=y: accuracy_score(y, out.argmax(axis=1))) if self.task == "landform"
                         else (lambda out, y=y: r2_score(y, out[:, 0])))
            for name, drop in permutation_importance(forward, x, score, groups, _seed(self.settings.seed, f, 99)).items():
                totals[name].append(drop)
        return {name: float(np.mean(v)) if v else float("nan") for name, v in totals.items()}


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
    with Stack(bundle.spec, prepare=False) as stack:
        label_data = read_labels_on(labels, stack, t.get("label_field"), t.get("where"), t.get("layer"))
        labelset = label_samples(stack, label_data, bundle.task, t.get("label_field"))
        run = _Run(stack, labelset, NetworkOptions.from_dict(bundle.options["network"]), settings)
        return run.training_set(None, 0)


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
    n_classes = len(bundle.classes) if bundle.task == "landform" else 2
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
