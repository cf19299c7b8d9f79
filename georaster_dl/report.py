"""A self-contained HTML report of a model: one file, plots embedded as PNG.

Sections appear when their figures exist in the metrics: summary and provenance,
the network beside the baselines of the same folds, training curves, ROC curve,
success-rate and prediction-rate curves with the share of deposits captured, the
prediction-area plot, confusion matrix and per-class scores, the reliability diagram,
permutation importance and the explanation (mean absolute attribution and dependence
plots) on held-out folds, and a map thumbnail. Plots are drawn with matplotlib's
``Figure`` API (Agg), which leaves pyplot's global state alone.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from georaster_dl.io.files import check_output_path, write_atomic
from georaster_dl.tasks import get_task

_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}img{max-width:100%}.note{color:#666;font-size:.9em}code{background:#f4f4f4}"""


def write_report(path: str | os.PathLike, bundle, metrics: dict[str, Any], thumbnail: np.ndarray | None,
                 title: str, overwrite: bool = False) -> Path:
    """Write the HTML report of ``bundle`` with ``metrics`` (from training or evaluation).

    Parameters
    ----------
    path : path
        The ``.html`` file (written atomically).
    bundle : ModelBundle
        The model described (task, classes, spec, options, versions).
    metrics : dict
        Metrics as returned by :func:`georaster_dl.train` or :func:`georaster_dl.evaluate`.
    thumbnail : numpy.ndarray or None
        A coarse map of the model's output (class indices for landform models).
    title : str
    overwrite : bool
    """
    path = check_output_path(path, overwrite, what="report")
    parts = [f"<h1>{_e(title)}</h1>", _summary(bundle, metrics)]
    for section in (_baselines, _training_curves, _roc, _rate_curves, _prediction_area, _confusion, _reliability,
                    _importance, _explanation):
        parts.append(section(metrics, bundle))
    if thumbnail is not None:
        parts.append(_map(thumbnail, bundle))
    parts.append(_provenance(bundle))
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
           f"<style>{_CSS}</style></head><body>{''.join(p for p in parts if p)}</body></html>\n")
    return write_atomic(path, doc, overwrite)


def _summary(bundle, metrics: dict) -> str:
    rows = [("task", bundle.task), ("ensemble members", bundle.n_members),
            ("inputs (bands)", f"{len(bundle.spec.inputs)} ({len(bundle.band_names)})")]
    labels = metrics.get("labels") or {}
    if labels:
        rows.append(("labels used / outside grid / on nodata",
                     f"{labels.get('n_used')} / {labels.get('n_outside')} / {labels.get('n_nodata')}"))
    for key, name in (("cv", "spatial cross-validation"), ("evaluation", "evaluation")):
        block = metrics.get(key)
        if block:
            figures = {k: block[k] for k in ("auc_pooled", "auc_mean", "auc_sd", "auc", "auprc_pooled", "auprc",
                                             "auprc_random", "accuracy", "kappa", "baseline_accuracy", "ece", "r2",
                                             "rmse", "mae") if block.get(k) is not None}
            if key == "cv":
                name += f" ({block.get('folds')} folds, blocks of {block.get('block_size'):g} grid units)"
            rows.append((name, ", ".join(f"{k} {v:.3f}" for k, v in figures.items())))
            if block.get("captured"):
                rows.append(("deposits captured in the top 5 / 10 / 20 % of area",
                             " / ".join(f"{100 * v:.0f} %" for v in block["captured"].values())))
    success = (metrics.get("training") or {}).get("success")
    if success:
        rows.append(("in-sample AUC (success rate)", f"{success['auc']:.3f}"))
    return "<h2>Summary</h2>" + _table(rows) + (_RANKS_NOTE if get_task(bundle.task).draws_background else "")


_RANKS_NOTE = ("<p class='note'>The scores of a model trained on deposits against background cells rank cells: "
               "a higher score is more prospective than a lower one. They are not absolute probabilities of a "
               "deposit (the background sample's size sets their level), so read thresholds from shares of "
               "area (success rate, prediction-area plot), not from score values. AUPRC is the area under the "
               "precision-recall curve of deposits against every valid cell; auprc_random is what a random "
               "ranking gets (the deposits' share of the cells).</p>")


#: Columns of the baselines table: (metrics block, task) -> figures.
def _baselines(metrics: dict, bundle) -> str:
    """The network's figures beside the baselines' (cross-validation or evaluation), or why there are none."""

    key = "cv" if "cv" in metrics else "evaluation"
    block = metrics.get(key) or {}
    if not block.get("baselines") and not block.get("baselines_note"):
        return ""
    title = "same folds, same samples" if key == "cv" else "same training rows, same labels"
    parts = [f"<h2>Baselines ({title})</h2>"]
    if block.get("baselines_note"):
        parts.append(f"<p class='note'>Baselines {_e(block['baselines_note'])}.</p>")
    if not block.get("baselines"):
        return "".join(parts)
    task = get_task(bundle.task)
    keys, headline, prospectivity = task.report_columns[key], task.headline[key], task.ranks_cells
    rows = []
    for name, figures in {"network": block, **block["baselines"]}.items():
        row = [name.replace("_", " ")] + [f"{figures[k]:.3f}" if isinstance(figures.get(k), float) else "-"
                                          for k in keys]
        if prospectivity:
            top = (figures.get("captured") or {}).get("top_10pct")
            row.append("-" if top is None else f"{100 * top:.0f} %")
        ours, theirs = block.get(headline), figures.get(headline)
        row.append(f"{ours - theirs:+.3f}" if name != "network" and isinstance(ours, float)
                   and isinstance(theirs, float) else "-")
        rows.append(row)
    header = ("model", *keys, *(("captured in top 10 %",) if prospectivity else ()), f"network's lift ({headline})")
    parts.append(_table(rows, header=header))
    if key == "cv":
        parts.append("<p class='note'>Each baseline was fitted on exactly the rows each fold's network trained on "
                     "(the same background cells), after the same input scaling, and scored on the same held-out "
                     "cells.</p>")
    return "".join(parts)


def _training_curves(metrics: dict, bundle) -> str:
    members = (metrics.get("training") or {}).get("members") or []
    if not members:
        return ""
    fig, ax = _figure()
    for i, m in enumerate(members):
        ax.plot(range(1, len(m["loss"]) + 1), m["loss"], color=f"C{i % 10}", label=f"member {i + 1} training")
        if m.get("val_loss"):
            ax.plot(range(1, len(m["val_loss"]) + 1), m["val_loss"], "--", color=f"C{i % 10}",
                    label=f"member {i + 1} validation")
            ax.axvline(m["best_epoch"], color=f"C{i % 10}", lw=0.6, alpha=0.5)
    ax.set(xlabel="epoch", ylabel="loss (class-weighted)", title="Training curves (final model)")
    ax.legend(fontsize=7)
    return ("<h2>Training curves</h2>" + _img(fig) +
            "<p class='note'>Dashed: validation loss on spatial blocks held out for early stopping; the "
            "vertical line marks the best epoch, for which the network was then retrained on all samples.</p>")


def _roc(metrics: dict, bundle) -> str:
    block = (metrics.get("cv") or {}).get("roc") or (metrics.get("evaluation") or {}).get("roc")
    if not block:
        return ""
    fig, ax = _figure(square=True)
    ax.plot(block["fpr"], block["tpr"], label="model")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    ax.set(xlabel="false positive rate (share of valid cells)", ylabel="true positive rate (share of deposits)",
           title="ROC: deposits against every valid cell")
    ax.legend()
    return "<h2>ROC curve</h2>" + _img(fig)


def _rate_curves(metrics: dict, bundle) -> str:
    curves = []
    if (metrics.get("training") or {}).get("success"):
        curves.append(("success rate (in-sample)", metrics["training"]["success"]["curve"]))
    if (metrics.get("cv") or {}).get("prediction_rate"):
        curves.append(("prediction rate (held-out folds)", metrics["cv"]["prediction_rate"]))
    if (metrics.get("evaluation") or {}).get("curve"):
        curves.append(("success rate (these labels)", metrics["evaluation"]["curve"]))
    if not curves:
        return ""
    fig, ax = _figure(square=True)
    for name, c in curves:
        ax.plot(np.asarray(c["area"]) * 100, np.asarray(c["captured"]) * 100, label=name)
    ax.plot([0, 100], [0, 100], ":", color="grey", label="random")
    ax.set(xlabel="area ranked by score (%)", ylabel="deposits captured (%)", title="Success and prediction rates")
    ax.legend()
    return "<h2>Success-rate and prediction-rate curves</h2>" + _img(fig)


def _prediction_area(metrics: dict, bundle) -> str:
    """The P-A plot of the held-out folds (else of the evaluation labels, else in-sample)."""
    sources = (((metrics.get("cv") or {}).get("pa"), "held-out folds"),
               ((metrics.get("evaluation") or {}).get("pa"), "these labels"),
               (((metrics.get("training") or {}).get("success") or {}).get("pa"), "in-sample"))
    pa, source = next(((p, name) for p, name in sources if p), (None, ""))
    if not pa:
        return ""
    fig, ax = _figure()
    ax.plot(pa["threshold"], np.asarray(pa["deposits"]) * 100, label="deposits predicted (score ≥ threshold)")
    ax.plot(pa["threshold"], (1 - np.asarray(pa["area"])) * 100, label="area below the threshold")
    x = pa["intersection"]
    ax.axvline(x["threshold"], color="grey", lw=0.8, ls=":")
    ax.set(xlabel="score threshold", ylabel="%", title=f"Prediction-area plot ({source})")
    ax.legend(fontsize=8)
    return ("<h2>Prediction-area plot</h2>" + _img(fig) +
            f"<p class='note'>Where the curves cross (score {x['threshold']:.3g}), {100 * x['deposits']:.0f} % of "
            f"the deposits lie in the {100 * x['area']:.0f} % of the area scoring highest.</p>")


def _reliability(metrics: dict, bundle) -> str:
    """The reliability diagram of the predicted class's probability (out-of-fold, or on the labels)."""
    block = metrics.get("cv") or metrics.get("evaluation") or {}
    diagram = block.get("reliability")
    if not diagram:
        return ""
    conf, acc = np.asarray(diagram["confidence"], float), np.asarray(diagram["accuracy"], float)
    scaled = block.get("calibration")
    fig, ax = _figure(square=True)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot(conf, acc, "o-", label="model" if not scaled else "before temperature scaling")
    if scaled:
        ax.plot(scaled["reliability"]["confidence"], scaled["reliability"]["accuracy"], "s-",
                label=f"after (T = {scaled['temperature']:.3g}, cross-fitted)")
    title = f"Reliability (ECE {block['ece']:.3f}" + (f" -> {scaled['ece_after']:.3f})" if scaled else ")")
    ax.set(xlabel="predicted class's probability (bin mean)", ylabel="share correct", xlim=(0, 1), ylim=(0, 1),
           title=title)
    ax.legend()
    counts = ", ".join(str(c) for c in diagram["count"])
    note = ("" if not scaled else
            f" Temperature scaling (<code>--calibrate</code>) divides every member's logits by T = "
            f"{scaled['temperature']:.3g}, fitted on these out-of-fold probabilities and built into the model file; "
            f"the curve after it tempers each fold with the T fitted on the other folds (ECE "
            f"{scaled['ece_before']:.3f} -> {scaled['ece_after']:.3f}, log loss {scaled['nll_before']:.3f} -> "
            f"{scaled['nll_after']:.3f}). Class rankings, and so accuracy and kappa, hardly change.")
    return ("<h2>Reliability diagram</h2>" + _img(fig) +
            "<p class='note'>Labels binned by the probability of the class predicted for them (ten bins of 0.1; "
            f"labels per bin: {counts}). The expected calibration error (ECE) is the labels' mean distance "
            f"between a bin's share correct and its mean probability.{note}</p>")


def _confusion(metrics: dict, bundle) -> str:
    block = metrics.get("cv") or metrics.get("evaluation") or {}
    if "confusion" not in block:
        return ""
    names = [c["name"] for c in bundle.classes]
    cm = np.asarray(block["confusion"], float)
    fig, ax = _figure(square=True)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="true", title="Counts (shading: share of the true class)")
    rows = [(n, f"{p['precision']:.2f}", f"{p['recall']:.2f}", f"{p['f1']:.2f}", p["support"])
            for n, p in block["per_class"].items()]
    return ("<h2>Confusion matrix</h2>" + _img(fig) +
            _table(rows, header=("class", "precision", "recall", "F1", "labels")))


def _importance(metrics: dict, bundle) -> str:
    imp = {k: v for k, v in (metrics.get("importance") or {}).items() if v is not None}
    if not imp:
        return ""
    names = sorted(imp, key=imp.get)
    fig, ax = _figure(height=0.4 * len(names) + 1.2)
    ax.barh(names, [imp[n] for n in names], color="C0")
    ax.axvline(0, color="black", lw=0.8)
    score = {"prospectivity": "AUC", "landform": "accuracy", "regression": "R²"}[bundle.task]
    ax.set(xlabel=f"drop of held-out {score} when the input is shuffled", title="Permutation importance")
    return ("<h2>Permutation importance (held-out folds)</h2>" + _img(fig) +
            "<p class='note'>Mean over folds and three shuffles; the one-hot bands of a categorical input are "
            "shuffled together.</p>")


def _explanation(metrics: dict, bundle) -> str:
    summary = metrics.get("explain") or {}
    if not summary.get("mean_abs"):
        return ""
    of = "the predicted class's probability" if bundle.classes else get_task(bundle.task).map_label
    mean_abs = summary["mean_abs"]
    names = sorted(mean_abs, key=mean_abs.get)
    fig, ax = _figure(height=0.4 * len(names) + 1.2)
    ax.barh(names, [mean_abs[n] for n in names], color="C2")
    ax.set(xlabel=f"mean |attribution| to {of}", title="Integrated Gradients on the held-out rows")
    parts = ["<h2>Explanation (held-out folds)</h2>", _img(fig)]
    dependence = summary.get("dependence") or {}
    if dependence:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3.2 * len(dependence), 3.0), dpi=100, layout="constrained")
        for ax, (name, points) in zip(fig.subplots(1, len(dependence), squeeze=False)[0], dependence.items()):
            ax.scatter(points["value"], points["attribution"], s=6, alpha=0.5, color="C2")
            ax.axhline(0, color="black", lw=0.8)
            ax.set(xlabel=name, ylabel="attribution")
        parts.append(_img(fig))
    parts.append(f"<p class='note'>Each fold's model explains the {summary['n_rows']} rows it was not trained on "
                 "(presences and background cells, or labelled rows); attributions are per cell and sum with the "
                 "baseline output to the prediction, so a bar is how far an input moves the output on average, in "
                 f"its units. Dependence: the strongest continuous inputs, value against attribution. "
                 f"Method: {_e(summary.get('method', ''))}. Per-cell maps: <code>predict --explain</code>.</p>")
    return "".join(parts)


def _map(thumb: np.ndarray, bundle) -> str:
    from matplotlib.colors import ListedColormap

    fig, ax = _figure(height=6, width=6 * thumb.shape[1] / max(thumb.shape[0], 1) + 1.5)
    task = get_task(bundle.task)
    if bundle.classes:
        colours = [np.asarray(c["colour"]) / 255 for c in bundle.classes]
        im = ax.imshow(thumb, cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5,
                       interpolation="nearest")
        bar = fig.colorbar(im, ax=ax, ticks=range(len(colours)))
        bar.ax.set_yticklabels([c["name"] for c in bundle.classes])
    else:
        im = ax.imshow(thumb, cmap=task.report_colormap, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=task.map_label)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Map (final model, coarse)")
    return "<h2>Map</h2>" + _img(fig)


def _provenance(bundle) -> str:
    rows = [("created", bundle.created or "-"), ("bands", ", ".join(bundle.band_names))]
    rows += [(f"input {n}", f"{i.path} ({i.kind})") for n, i in bundle.spec.inputs.items()]
    rows += [(k, v) for k, v in (bundle.versions or {}).items()]
    options = json.dumps(bundle.options, indent=1, sort_keys=True) if bundle.options else "{}"
    return ("<h2>Provenance</h2>" + _table(rows) + "<h3>Options</h3><pre>" + _e(options) + "</pre>"
            "<h3>StackSpec</h3><pre>" + _e(bundle.spec.to_yaml()) + "</pre>")


def _figure(square: bool = False, height: float = 3.6, width: float | None = None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width or (4.8 if square else 7.5), 4.8 if square else height), dpi=100,
                 layout="constrained")
    return fig, fig.add_subplot()


def _img(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return f"<p><img alt='plot' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'></p>"


def _table(rows, header: tuple | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _e(value: Any) -> str:
    return html.escape(str(value))
