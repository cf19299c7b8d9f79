"""``georaster-dl sample-data``: write the deterministic sample study area."""

from __future__ import annotations

import click


@click.command("sample-data")
@click.argument("folder", type=click.Path(file_okay=False), default="sample_data")
@click.option("--size", type=click.IntRange(min=128), default=1024, show_default=True,
              help="DEM width and height in 30 m cells.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
def command(folder: str, size: int, seed: int) -> None:
    """Write the sample rasters, vectors, hidden-truth rasters and spec.yaml into FOLDER
    (existing sample files are replaced). The same seed always gives the same files."""
    from georaster_dl.sampledata import write_sample_data

    paths = write_sample_data(folder, size=size, seed=seed)
    click.echo(f"wrote {len(paths)} files to {folder}")
