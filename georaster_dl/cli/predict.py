"""``georaster-dl predict``: map a model over its grid."""

from __future__ import annotations

import click

from georaster_dl.cli.options import compress_option, overviews_option, overwrite_option
from georaster_dl.engine.device import DEVICES
from georaster_dl.tasks import TASKS


def _parse_inputs(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{v!r}: write NAME=PATH, e.g. --input dem=/data/dem.tif")
        out[name] = path
    return out


@click.command("predict")
@click.argument("model", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--input", "inputs", multiple=True, callback=_parse_inputs, metavar="NAME=PATH",
              help="Use PATH for the model's input NAME (repeatable); other inputs keep their training paths.")
@click.option("--window", type=int, default=None,
              help="Window size in cells, a multiple of 512 [default: 1024, or 512 for rasters under 8 windows "
                   "of 1024 or models whose window would exceed the memory budget].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Windows computed at once [default: CPUs].")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where ONNX Runtime runs the network; auto takes a GPU when onnxruntime-gpu is installed "
                   "and falls back to the CPU; gpu (cuda) refuses to fall back.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="dask.distributed scheduler (tcp://host:8786): run windows on its workers (refused if it does "
                   "not answer within 3 s).")
@click.option("--bands", default=None, metavar="LIST",
              help="Outputs to write: landform class,probabilities; prospectivity/regression mean,sd.")
@click.option("--task", "expected_task", type=click.Choice(TASKS), default=None,
              help="Refuse a model trained for another task (what a front end mapping one kind of model passes).")
@click.option("--explain", is_flag=True,
              help="Also write OUT_explain.tif: per feature of the model, its Integrated Gradients attribution to "
                   "the output (probability, value, or the shown class's probability) from the training mean; "
                   "baseline output (tag GDL_BASELINE) + sum of the bands = the prediction. Costs 6-26x the CPU of "
                   "a plain prediction (BENCHMARKS.md).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its journal.")
@click.option("--applicability", is_flag=True,
              help="Also write OUT_applicability.tif: band 1 the dissimilarity index to the training rows, band 2 "
                   "the area of applicability (1 inside, 0 outside; Meyer & Pebesma 2021), its threshold in the "
                   "tags. Needs a model trained by this version.")
@compress_option
@overviews_option
@overwrite_option
def command(model: str, out: str, inputs: dict, window: int | None, workers: int | None, device: str,
            scheduler: str | None, bands: str | None, expected_task: str | None, explain: bool,
            applicability: bool, resume: bool,
            compress: str, overviews: bool, overwrite: bool) -> None:
    """Predict MODEL (.gdl) over its grid into OUT.tif (+ OUT.qml style).

    Landform models write class codes (paletted) and OUT_probabilities.tif; prospectivity
    models the probability (and its SD for ensembles); regression models the value (and SD).
    With --explain, OUT_explain.tif holds one attribution band per feature; with --applicability,
    OUT_applicability.tif says where the inputs resemble the training rows (area of applicability,
    Meyer & Pebesma 2021). Memory stays bounded by a few windows whatever the raster size.
    """
    from georaster_dl.prediction import predict

    if expected_task:
        check_task(model, expected_task)
    predict(model, out, inputs=inputs, window=window, workers=workers, device=device, scheduler=scheduler,
            bands=tuple(b.strip() for b in bands.split(",")) if bands else None, overwrite=overwrite,
            resume=resume, compress=compress, overviews=overviews, explain=explain, applicability=applicability)


def check_task(model: str, expected: str) -> None:
    """Refuse a model trained for another task than ``expected``, before anything is written."""
    import json

    from georaster_dl.errors import UserInputError
    from georaster_dl.models.describe import describe_bundle

    task = json.loads(describe_bundle(model, as_json=True))["task"]
    if task != expected:
        raise UserInputError(f"{model} is a {task} model, not a {expected} model: give a model trained for "
                             f"{expected}")
