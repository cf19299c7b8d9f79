"""QGIS layer styles (``.qml``) written beside outputs so QGIS opens them styled.

QGIS loads ``<name>.qml`` automatically when it opens ``<name>.tif``. Class rasters get a
paletted renderer with class names and colours; probabilities, uncertainties and
continuous values get a single-band pseudocolour ramp.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

from georaster_dl.io.files import write_atomic

#: Colour ramp (position 0..1 -> hex) for probabilities: low blue to high red, like a heat map.
PROBABILITY_RAMP = ((0.0, "#2b83ba"), (0.25, "#abdda4"), (0.5, "#ffffbf"), (0.75, "#fdae61"), (1.0, "#d7191c"))
#: Sequential ramp for uncertainty (standard deviation) and continuous values.
SEQUENTIAL_RAMP = ((0.0, "#f7fcf5"), (0.5, "#74c476"), (1.0, "#00441b"))
#: Blue (negative) - white (0) - red (positive), for attributions: give it a range symmetric around 0.
DIVERGING_RAMP = ((0.0, "#2166ac"), (0.25, "#92c5de"), (0.5, "#f7f7f7"), (0.75, "#f4a582"), (1.0, "#b2182b"))

_HEADER = '<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>\n<qgis version="3.22.0" styleCategories="AllStyleCategories">\n'


def qml_path(raster_path: str | os.PathLike) -> Path:
    """The style file QGIS picks up for ``raster_path``."""
    return Path(raster_path).with_suffix(".qml")


def paletted_qml(classes: dict[int, tuple[str, tuple[int, int, int]]], band: int = 1) -> str:
    """Paletted renderer: ``{code: (name, (r, g, b))}``."""
    entries = "\n".join(
        f'        <paletteEntry value="{code}" color="#{r:02x}{g:02x}{b:02x}" alpha="255" label={quoteattr(name)}/>'
        for code, (name, (r, g, b)) in sorted(classes.items()))
    return (_HEADER + f'  <pipe>\n    <rasterrenderer type="paletted" band="{band}" opacity="1" alphaBand="-1">\n'
            f'      <colorPalette>\n{entries}\n      </colorPalette>\n    </rasterrenderer>\n  </pipe>\n</qgis>\n')


def ramp_qml(minimum: float, maximum: float, ramp=PROBABILITY_RAMP, band: int = 1) -> str:
    """Single-band pseudocolour renderer interpolating ``ramp`` between ``minimum`` and ``maximum``."""
    span = maximum - minimum or 1.0
    items = "\n".join(
        f'          <item value="{minimum + pos * span:.6g}" color="{colour}" alpha="255" label="{minimum + pos * span:.4g}"/>'
        for pos, colour in ramp)
    return (_HEADER + f'  <pipe>\n    <rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" '
            f'alphaBand="-1" classificationMin="{minimum:.6g}" classificationMax="{maximum:.6g}">\n'
            '      <rastershader>\n        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0">\n'
            f'{items}\n        </colorrampshader>\n      </rastershader>\n    </rasterrenderer>\n  </pipe>\n</qgis>\n')


def write_qml(raster_path: str | os.PathLike, text: str) -> Path:
    """Write the style beside ``raster_path`` atomically."""
    return write_atomic(qml_path(raster_path), text, overwrite=True)
