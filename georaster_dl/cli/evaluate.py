"""``georaster-dl evaluate``: score a trained model against labels."""

from __future__ import annotations

import click

from georaster_dl.cli.options import overwrite_option


@click.command("evaluate")
@click.argument("model", type=click.Path())
@click.option("--labels", required=True, type=click.Path(), help="Points or polygons to evaluate on.")
@click.option("--label-field", default=None, metavar="NAME",
              help="Class or target field [default: the field the model was trained with].")
@click.option("--where", default=None, metavar="EXPR", help="Keep only labels matching EXPR.")
@click.option("--layer", default=None, help="Layer of a multi-layer vector file.")
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also fit logistic (regression: linear) regression and a random forest on the rows the model "
                   "trained on (drawn again from its recorded labels file) and score them on LABELS.")
@click.option("--metrics", "metrics_path", type=click.Path(), default=None, help="Write metrics as JSON.")
@click.option("--report", "report_path", type=click.Path(), default=None, help="Write an HTML report.")
@overwrite_option
def command(model: str, labels: str, **options) -> None:
    """Evaluate MODEL (.gdl) against LABELS: prospectivity AUC against every valid cell
    and success-rate curve, landform accuracy/kappa/confusion matrix, regression R²/RMSE/MAE;
    beside it, baselines fitted on the rows the model trained on."""
    from georaster_dl.baselines import lift_line
    from georaster_dl.tasks import get_task
    from georaster_dl.cli.train import summary_line
    from georaster_dl.evaluation import evaluate
    from georaster_dl.progress import info

    metrics = evaluate(model, labels, **options)
    info(summary_line(metrics))
    block = metrics["evaluation"]
    info(lift_line(get_task(metrics["task"]).headline["evaluation"], block, block["baselines"]) if block["baselines"]
         else f"baselines: {block['baselines_note']}")
