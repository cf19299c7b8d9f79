"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

from georaster_dl.grid import TILE_SIZE
from georaster_dl.io.writer import COMPRESSIONS

overwrite_option = click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")
compress_option = click.option("--compress", type=click.Choice(COMPRESSIONS), default="zstd", show_default=True,
                               help="GeoTIFF compression (ZSTD level 1 with a predictor is fastest).")
overviews_option = click.option("--overviews", is_flag=True,
                                help="Build overviews after writing (slower; handy for large maps).")
window_option = click.option("--window", type=int, default=2 * TILE_SIZE, show_default=True,
                             help=f"Processing window size in cells (a multiple of {TILE_SIZE}).")
