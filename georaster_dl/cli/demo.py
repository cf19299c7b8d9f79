"""``georaster-dl demo``: the main job on the sample data, end to end."""

from __future__ import annotations

import click


@click.command("demo")
@click.argument("folder", type=click.Path(), default="sample_data")
@click.option("--quick", is_flag=True,
              help="Fewer epochs, no cross-validation, no explanation or area of applicability (a smoke run).")
def command(folder: str, quick: bool) -> None:
    """Generate the sample study area in FOLDER (if missing) and run the main job on it:
    the aligned stack with a PNG preview, landform and prospectivity models with reports and
    predicted maps, the prospectivity map's explanation, area of applicability and ranked
    targets, and PNGs of the maps, all under FOLDER/out/."""
    from georaster_dl.quiet_tf import import_tensorflow
    from georaster_dl.demo import run_demo

    import_tensorflow()  # before anything loads it, so its start-up lines stay off stderr
    run_demo(folder, quick=quick)
