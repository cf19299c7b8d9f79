"""``georaster-dl info``: describe a raster, a spec or a model bundle."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml


@click.command("info")
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def command(path: str, as_json: bool) -> None:
    """Describe PATH: a raster (grid, CRS, bands, nodata, stats), a StackSpec
    (.yaml/.json: grid, inputs, bands) or a model bundle (.gdl)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gdl":
        from georaster_dl.models.bundle import describe_bundle

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
