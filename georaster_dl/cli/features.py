"""``georaster-dl features``: derive terrain features from a DEM into one multi-band GeoTIFF."""

from __future__ import annotations

import math

import click

from georaster_dl.cli.options import compress_option, overviews_option, overwrite_option, window_option


def parse_features(text: str) -> list[str]:
    """Turn ``slope,tpi:radius=10:shape=annulus,geomorphons(search=20)`` into spec references
    on the input ``dem`` (see :func:`georaster_dl.spec.parse_feature_list`).

    Examples
    --------
    >>> parse_features("slope,tpi:radius=10")
    ['dem.slope', 'dem.tpi(radius=10)']
    """
    from georaster_dl.spec import parse_feature_list

    refs = [str(ref) for ref in parse_feature_list(text, "dem")]
    if not refs:
        raise click.BadParameter("give at least one feature, e.g. --features slope,aspect", param_hint="--features")
    return refs


def describe_features() -> str:
    """Every registered feature with its parameters, units, halo and inputs (``--list``)."""
    from georaster_dl.features import registered
    from georaster_dl.features.registry import public_params

    lines = []
    for name, d in sorted(registered().items()):
        defaults = {p.name: p.default for p in d.params}
        # A halo function's docstring states its rule ("radius cells"); others are constant.
        halo = (d.halo.__doc__ or "").strip() or f"{d.halo(defaults)} cells"
        lines.append(f"{name}: {d.help}")
        lines.append(f"    units: {d.units or '-'}; halo: {halo}; inputs: {', '.join(d.input_kinds)}")
        for p in public_params(d):
            choices = f" ({' | '.join(map(str, p.choices))})" if p.choices else ""
            default = str(p.default).lower() if isinstance(p.default, bool) else p.default
            lines.append(f"    {p.name}={default}{choices}: {p.help}")
    return "\n".join(lines)


@click.command("features")
@click.argument("dem", type=click.Path(), required=False)
@click.argument("out", type=click.Path(), required=False)
@click.option("--features", "feature_list", metavar="LIST",
              help="Features to derive, comma-separated, with parameters as name:key=value[:key=value] or "
                   "name(key=value,...): slope,aspect,tpi:radius=10,geomorphons:search=20.")
@click.option("--edges", type=click.Choice(["nodata", "extrapolate"]), default="nodata", show_default=True,
              help="Outer frame: nodata where the neighbourhood leaves the raster (gdaldem), or extrapolate "
                   "(gdaldem -compute_edges).")
@click.option("--nodata", default=None, metavar="VALUE",
              help="Nodata of the DEM, over the file's own: a number, nan, or none (every cell valid).")
@click.option("--band", type=click.IntRange(min=1), default=None, metavar="N",
              help="Band of a multi-band DEM (required for one: no band is read silently).")
@click.option("--z-factor", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiplier turning elevations into metres (0.3048 for feet).")
@click.option("--crs", metavar="CRS", help="CRS of a DEM whose file has none (EPSG:32633); overrides the file's.")
@click.option("--list", "list_features", is_flag=True, help="List every feature with its parameters, units and halo.")
@window_option
@compress_option
@overviews_option
@overwrite_option
def command(dem: str | None, out: str | None, feature_list: str | None, edges: str, z_factor: float,
            crs: str | None, nodata: str | None, band: int | None, list_features: bool, window: int,
            compress: str, overviews: bool, overwrite: bool) -> None:
    """Derive terrain features of DEM into OUT.tif: one float32 band per feature, named in
    the band descriptions, NaN where nodata (each band keeps its own nodata). One class
    feature alone (geomorphons, landform_weiss) is written as Byte class codes (0 nodata)
    with a colour table, class names and a .qml style."""
    if list_features:
        click.echo(describe_features())
        return
    if not (dem and out and feature_list):
        raise click.UsageError("give DEM, OUT and --features (or --list to see the features)")
    from georaster_dl.export import write_stack

    if not math.isfinite(z_factor):
        raise click.BadParameter(f"{z_factor} is not a finite number; give e.g. 0.3048 for feet",
                                 param_hint="--z-factor")
    dem_input = {"path": dem, "z_factor": z_factor, **({"crs": crs} if crs else {}),
                 **({"nodata": _nodata(nodata)} if nodata is not None else {}),
                 **({"band": band} if band is not None else {})}
    spec = {"grid": {"reference": "dem"}, "inputs": {"dem": dem_input},
            "features": parse_features(feature_list), "edges": edges}
    write_stack(spec, out, window=window, compress=compress, overviews=overviews, overwrite=overwrite,
                nodata_union=False, message="terrain features")


def _nodata(text: str) -> float | str:
    """``--nodata``: a number, or ``nan``/``none`` as the spec's ``nodata`` takes them."""
    if text.strip().lower() in ("none", "nan"):
        return text.strip().lower()
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number, nan or none", param_hint="--nodata") from None
