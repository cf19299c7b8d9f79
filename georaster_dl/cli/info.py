"""``georaster-dl info``: describe a raster, a spec or a model bundle."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml


@click.command("info")
@click.argument("path", type=click.Path(), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--capabilities", "show_capabilities", is_flag=True,
              help="Describe the backend instead: tasks, losses, activations, optimizers, devices, transforms, "
                   "every feature with its parameters and defaults, output file suffixes and the version "
                   "(the contract front ends such as the QGIS plugin read).")
def command(path: str | None, as_json: bool, show_capabilities: bool) -> None:
    """Describe PATH: a raster (grid, CRS, bands, nodata, stats), a StackSpec
    (.yaml/.json: grid, inputs, bands) or a model bundle (.gdl); with --capabilities,
    the backend itself."""
    if show_capabilities == bool(path):
        raise click.UsageError("give PATH, or --capabilities without PATH")
    if show_capabilities:
        from georaster_dl.capabilities import capabilities

        doc = capabilities()
        click.echo(json.dumps(doc, indent=2) if as_json else yaml.safe_dump(doc, sort_keys=False))
        return
    suffix = Path(path).suffix.lower()
    if suffix == ".gdl":
        from georaster_dl.models.describe import describe_bundle

        click.echo(describe_bundle(path, as_json=as_json))
        return
    if suffix in (".yaml", ".yml", ".json"):
        from georaster_dl.stack import Stack

        with Stack(path, prepare=False) as stack:
            doc = {"grid": {"crs": stack.grid.crs.to_string(), "resolution": list(stack.grid.res),
                            "width": stack.grid.width, "height": stack.grid.height,
                            "bounds": list(stack.grid.bounds)},
                   "inputs": {n: i.to_dict() for n, i in stack.spec.inputs.items()},
                   "bands": [{"name": n, "kind": k} for n, k in zip(stack.band_names, stack.band_kinds)]}
    else:
        from georaster_dl.io.rasters import describe_raster

        doc = describe_raster(path)
    click.echo(json.dumps(doc, indent=2, default=str) if as_json else yaml.safe_dump(doc, sort_keys=False))
