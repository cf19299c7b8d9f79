"""``georaster-dl targets``: ranked target polygons from a prospectivity map."""

from __future__ import annotations

import click

from georaster_dl.cli.options import overwrite_option


@click.command("targets")
@click.argument("map_path", metavar="MAP", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--top-area", type=float, default=5.0, show_default=True, metavar="PERCENT",
              help="Keep the cells in the top PERCENT of the map's valid area by score (0 < PERCENT <= 100).")
@click.option("--min-cells", type=int, default=1, show_default=True, metavar="N",
              help="Drop regions of fewer than N cells (they then cover less than --top-area).")
@click.option("--explain", type=click.Path(), default=None, metavar="EXPLAIN.tif",
              help="Attribution raster on the map's grid (predict --explain): name each target's three inputs "
                   "with the highest mean attribution (input_1..3, attribution_1..3).")
@overwrite_option
def command(map_path: str, out: str, top_area: float, min_cells: int, explain: str | None, overwrite: bool) -> None:
    """Connected regions (8-connected: cells touching at an edge or a corner) of the top
    --top-area percent of MAP's valid cells by score (band 1), ranked by mean probability
    (rank 1 = highest), written to OUT (.gpkg, layer 'targets', the map's CRS) with
    OUT.qml styling them by rank. Attributes: rank, area (map units²), cells,
    mean_probability, max_probability, mean_sd (when MAP has an SD band)."""
    from georaster_dl.progress import info
    from georaster_dl.targets import find_targets

    result = find_targets(map_path, out, top_area=top_area, min_cells=min_cells, explain=explain,
                          overwrite=overwrite)
    info(f"targets: {result['n_targets']} regions covering {100 * result['area_fraction']:.2f}% of the valid area "
         f"(score {'>' if result['strict'] else '>='} {result['threshold']:.4g}) written to {result['path']}")
