"""``georaster-dl train``: train a dense-network model from a StackSpec and labels."""

from __future__ import annotations

import click

from georaster_dl.cli.options import overwrite_option
from georaster_dl.models.config import TrainConfig
from georaster_dl.models.network import ACTIVATIONS, CLASS_WEIGHTS, OPTIMIZERS
from georaster_dl.tasks import TASKS, get_task

_LOSSES = tuple(dict.fromkeys(loss for task in TASKS for loss in get_task(task).losses))
_DEFAULTS = TrainConfig(TASKS[0])  # every default, defined once in the config's dataclasses
_NET, _RUN = _DEFAULTS.network, _DEFAULTS.settings


@click.command("train")
@click.option("--task", type=click.Choice(TASKS), required=True, help="What the model predicts.")
@click.option("--spec", required=True, type=click.Path(), help="StackSpec (YAML/JSON) of the evidence layers.")
@click.option("--labels", required=True, type=click.Path(),
              help="Training points or polygons (GPKG, SHP, GeoJSON, CSV with coordinates).")
@click.option("--label-field", default=None, metavar="NAME",
              help="Class field (landform), numeric target (regression), or 0/1 field with known absences "
                   "(prospectivity; without it every point is a presence).")
@click.option("--where", default=None, metavar="EXPR", help="Keep only labels matching EXPR, e.g. \"mag >= 4\".")
@click.option("--layer", default=None, help="Layer of a multi-layer vector file.")
@click.option("--hidden", default=",".join(map(str, _NET.hidden)), show_default=True, metavar="N,N,...",
              help="Units of each hidden layer.")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=_NET.activation, show_default=True)
@click.option("--dropout", type=float, default=_NET.dropout, show_default=True, help="Dropout after each hidden layer.")
@click.option("--loss", type=click.Choice(_LOSSES), default=None,
              help="Loss [default: categorical/binary cross-entropy, mse by task].")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=_NET.optimizer, show_default=True)
@click.option("--learning-rate", type=float, default=_NET.learning_rate, show_default=True)
@click.option("--epochs", type=int, default=_NET.epochs, show_default=True,
              help="Passes over the samples (with --patience, the most).")
@click.option("--batch-size", type=int, default=None,
              help="Rows per gradient step [default: sized to the samples, about 16 steps an epoch, 16-256 rows].")
@click.option("--patience", type=int, default=_NET.patience, show_default=True,
              help="Early stopping on a spatial holdout: epochs without a better validation loss "
                   "(0: train every epoch; measured better on small clustered sample sets).")
@click.option("--class-weights", type=click.Choice(CLASS_WEIGHTS), default=_NET.class_weights, show_default=True)
@click.option("--background-ratio", type=float, default=_RUN.background_ratio, show_default=True,
              help="Prospectivity: random background cells per presence.")
@click.option("--buffer", type=float, default=_RUN.buffer, show_default=True,
              help="Prospectivity: no background within this distance of a presence (grid units).")
@click.option("--presence-neighbours", type=int, default=_RUN.presence_neighbours, show_default=True, metavar="R",
              help="Prospectivity: also train on the valid cells within R cells of each presence as presences.")
@click.option("--cv-folds", type=int, default=_RUN.cv_folds, show_default=True,
              help="Spatial block cross-validation folds (0: none).")
@click.option("--cv-block-size", type=float, default=None, help="Side of the CV blocks in grid units, e.g. 10000.")
@click.option("--cv-buffer", type=float, default=_RUN.cv_buffer, show_default=True,
              help="Drop training samples closer than this to the test fold (grid units).")
@click.option("--ensemble", type=int, default=_RUN.ensemble, show_default=True,
              help="Members (seeds and background draws); predictions give their mean and SD "
                   "(5 members scored higher than 1 on 7 of 9 real targets measured).")
@click.option("--tune", is_flag=True, default=_RUN.tune,
              help="Choose each model's network options among a few candidates (as given; 50 epochs; "
                   "32,16 units with dropout 0.3) by inner 3-fold spatial CV; the choice is recorded in the "
                   "model file. About 3x the training time.")
@click.option("--calibrate", is_flag=True, default=_RUN.calibrate,
              help="Landform, with --cv-folds: temperature-scale the class probabilities, the temperature fitted "
                   "on the out-of-fold probabilities (the ECE before and after, cross-fitted, in the metrics "
                   "and report).")
@click.option("--seed", type=int, default=_RUN.seed, show_default=True, help="Same seed, same model and metrics.")
@click.option("--baselines/--no-baselines", default=_DEFAULTS.baselines, show_default=True,
              help="With --cv-folds, also fit logistic (regression: linear) regression and a random forest on "
                   "the same folds and samples and report the network's lift over them.")
@click.option("--out", required=True, type=click.Path(), help="Model file to write (.gdl).")
@click.option("--metrics", "metrics_path", type=click.Path(), default=None, help="Write metrics as JSON.")
@click.option("--report", "report_path", type=click.Path(), default=None, help="Write an HTML report.")
@overwrite_option
def command(task: str, spec: str, labels: str, out: str, **options) -> None:
    """Train a TASK model on the features of SPEC at LABELS and write it to OUT (.gdl).

    With --cv-folds K --cv-block-size S the model is first cross-validated on square
    spatial blocks: each fold's model trains outside the fold and scores every valid cell
    inside it (prospectivity: pooled out-of-fold ROC AUC against all valid cells).
    Logistic (or linear) regression and a random forest are fitted and scored on the
    same folds and samples, and the network's lift over the best of them is printed.
    """
    from georaster_dl.baselines import lift_line
    from georaster_dl.quiet_tf import import_tensorflow
    from georaster_dl.progress import info
    from georaster_dl.training import train

    import_tensorflow()  # before anything loads it, so its start-up lines stay off stderr
    _, metrics = train(spec, labels, task, out=out, **options)
    info(summary_line(metrics))
    if (metrics.get("cv") or {}).get("baselines"):
        info(lift_line(get_task(task).headline["cv"], metrics["cv"], metrics["cv"]["baselines"]))


def summary_line(metrics: dict) -> str:
    """The headline figures of training or evaluation metrics, on one line."""
    for key, label in (("cv", "cross-validation"), ("evaluation", "evaluation")):
        block = metrics.get(key)
        if block:
            names = ("auc_pooled", "auc_mean", "auc_sd", "auc", "auprc_pooled", "auprc", "accuracy", "kappa", "ece",
                     "r2", "rmse", "mae")
            figures = ", ".join(f"{k} {block[k]:.3f}" for k in names if isinstance(block.get(k), float))
            scaled = block.get("calibration")
            calibrated = (f"; calibrated (T {scaled['temperature']:.3g}): ece {scaled['ece_after']:.3f}"
                          if scaled else "")
            return f"{label}: {figures}{calibrated}"
    success = (metrics.get("training") or {}).get("success")
    return f"in-sample AUC {success['auc']:.3f} (no cross-validation)" if success else "trained (no cross-validation)"
