"""``georaster-dl stack``: write the aligned stack of a spec as one multi-band GeoTIFF."""

from __future__ import annotations

import click

from georaster_dl.cli.options import compress_option, overviews_option, overwrite_option, window_option


@click.command("stack")
@click.argument("spec", type=click.Path())
@click.argument("out", type=click.Path())
@window_option
@compress_option
@overviews_option
@overwrite_option
def command(spec: str, out: str, window: int, compress: str, overviews: bool, overwrite: bool) -> None:
    """Align every feature of SPEC on its grid and write OUT.tif, one band per feature
    (float32, NaN nodata wherever any input is nodata)."""
    from georaster_dl.export import write_stack

    write_stack(spec, out, window=window, compress=compress, overviews=overviews, overwrite=overwrite)
