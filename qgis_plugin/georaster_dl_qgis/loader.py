"""Style output rasters: the backend's .qml when present, else from the file itself.

Fallbacks: a band with a colour table becomes a paletted renderer labelled with the
band's category names; another single band gets a colour ramp (0-1 for probabilities).
"""

from __future__ import annotations

from pathlib import Path

from osgeo import gdal
from qgis.core import (QgsColorRampShader, QgsPalettedRasterRenderer, QgsProcessingContext,
                       QgsProcessingFeedback, QgsProcessingLayerPostProcessorInterface,
                       QgsRasterBandStats, QgsRasterLayer, QgsSingleBandPseudoColorRenderer,
                       QgsStyle)

PROBABILITY_RAMP = "Viridis"
VALUE_RAMP = "Spectral"


def load_styled(path: str, name: str = "") -> QgsRasterLayer:
    """Open ``path`` as a raster layer and style it (see :func:`style_raster`)."""
    layer = QgsRasterLayer(path, name or Path(path).stem, "gdal")
    if not layer.isValid():
        raise OSError(f"QGIS cannot open {path} as a raster")
    style_raster(layer)
    return layer


def style_raster(layer: QgsRasterLayer) -> str:
    """Apply the best available style to ``layer`` and return which one ('qml', 'paletted', 'ramp', '')."""
    qml = Path(layer.source()).with_suffix(".qml")
    if qml.is_file():
        _, ok = layer.loadNamedStyle(str(qml))
        if ok:
            layer.triggerRepaint()
            return "qml"
    renderer = paletted_renderer(layer)
    if renderer is None and layer.bandCount() == 1:
        renderer = ramp_renderer(layer)
    if renderer is None:
        return ""
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return "paletted" if isinstance(renderer, QgsPalettedRasterRenderer) else "ramp"


def paletted_renderer(layer: QgsRasterLayer, band: int = 1) -> QgsPalettedRasterRenderer | None:
    """Paletted renderer from the band's colour table and category names, or None without a table."""
    classes = QgsPalettedRasterRenderer.colorTableToClassData(layer.dataProvider().colorTable(band))
    if not classes:
        return None
    names = category_names(layer.source(), band)
    named = {value for value, name in enumerate(names) if name}
    kept = []
    for item in classes:
        value = int(item.value)
        if named and value not in named:
            continue  # a 256-entry colour table: list only the classes that have names
        if value in named:
            item.label = names[value]
        kept.append(item)
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, kept)


def category_names(path: str, band: int = 1) -> list[str]:
    """GDAL category names of ``band`` (index = class value), or an empty list."""
    dataset = gdal.Open(path)
    if dataset is None:
        return []
    return list(dataset.GetRasterBand(band).GetCategoryNames() or [])


def ramp_renderer(layer: QgsRasterLayer, band: int = 1) -> QgsSingleBandPseudoColorRenderer:
    """Colour ramp over 0-1 for probability bands, else over the band's min-max."""
    description = (gdal.Open(layer.source()).GetRasterBand(band).GetDescription() or "").lower()
    if "prob" in description:
        low, high, ramp = 0.0, 1.0, PROBABILITY_RAMP
    else:
        stats = layer.dataProvider().bandStatistics(band, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
        low, high, ramp = stats.minimumValue, stats.maximumValue, VALUE_RAMP
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    renderer.createShader(QgsStyle.defaultStyle().colorRamp(ramp), QgsColorRampShader.Interpolated,
                          QgsColorRampShader.Continuous, 5)
    return renderer


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Styles an algorithm's raster output when QGIS adds it to the project."""

    # QGIS keeps only a raw pointer to a post-processor: the Python object must outlive the
    # algorithm run, so each one is kept here (a few bytes per run).
    _alive: list[StyleOnLoad] = []

    @classmethod
    def create(cls) -> StyleOnLoad:
        processor = cls()
        cls._alive.append(processor)
        return processor

    def postProcessLayer(self, layer, context: QgsProcessingContext,  # noqa: N802 - QGIS API
                         feedback: QgsProcessingFeedback) -> None:
        if isinstance(layer, QgsRasterLayer):
            style_raster(layer)
