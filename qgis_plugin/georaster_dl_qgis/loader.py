"""Style outputs: the backend's .qml when present (rasters and target polygons), else from the file.

Fallbacks: a band with a colour table becomes a paletted renderer labelled with the
band's category names; another single band gets a colour ramp (0-1 for probabilities).
"""

from __future__ import annotations

from pathlib import Path

from osgeo import gdal
from qgis.core import (QgsColorRampShader, QgsPalettedRasterRenderer, QgsProcessingContext,
                       QgsProcessingFeedback, QgsProcessingLayerPostProcessorInterface,
                       QgsRasterBandStats, QgsRasterLayer, QgsSingleBandPseudoColorRenderer,
                       QgsStyle, QgsVectorLayer)

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
    if load_qml(layer):
        return "qml"
    renderer = paletted_renderer(layer)
    if renderer is None and layer.bandCount() == 1:
        renderer = ramp_renderer(layer)
    if renderer is None:
        return ""
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return "paletted" if isinstance(renderer, QgsPalettedRasterRenderer) else "ramp"


def load_qml(layer: QgsRasterLayer | QgsVectorLayer) -> bool:
    """Apply the ``.qml`` the backend wrote beside the layer's file (``out.gpkg|layername=x``: ``out.qml``)."""
    qml = Path(layer.source().split("|")[0]).with_suffix(".qml")
    if not qml.is_file():
        return False
    _, ok = layer.loadNamedStyle(str(qml))
    if ok:
        layer.triggerRepaint()
    return ok


def paletted_renderer(layer: QgsRasterLayer, band: int = 1) -> QgsPalettedRasterRenderer | None:
    """Paletted renderer from the band's colour table, labelled with its class names.

    GeoTIFF colour tables of Byte bands have 256 entries: only named classes are listed,
    or, without names, the values present in the band. Returns None without a table.
    """
    provider = layer.dataProvider()
    table = QgsPalettedRasterRenderer.colorTableToClassData(provider.colorTable(band))
    if not table:
        return None
    names = class_names(layer.source(), band)
    wanted = set(names) or {int(c.value) for c in QgsPalettedRasterRenderer.classDataFromRaster(provider, band)}
    if provider.sourceHasNoDataValue(band):
        wanted.discard(int(provider.sourceNoDataValue(band)))
    kept = []
    for item in table:
        if int(item.value) in wanted:
            item.label = names.get(int(item.value), item.label)
            kept.append(item)
    return QgsPalettedRasterRenderer(provider, band, kept)


def class_names(path: str, band: int = 1) -> dict[int, str]:
    """Class names by value: GDAL category names, else ``CLASS_<value>`` tags of the band or file."""
    return _band_metadata(path, band)[1]


def band_labels(path: str, name: str, count: int) -> list[str]:
    """A label per band of a raster: its description (a stack's feature name), else ``<name>_b<n>``."""
    return [_band_metadata(path, band)[0] or f"{name}_b{band}" for band in range(1, count + 1)]


def _band_metadata(path: str, band: int) -> tuple[str, dict[int, str]]:
    """(description, class names) of a band, read with GDAL."""
    dataset = gdal.Open(path)  # keep a reference: a band outliving its dataset crashes GDAL
    if dataset is None:
        return "", {}
    raster_band = dataset.GetRasterBand(band)
    names = {value: name for value, name in enumerate(raster_band.GetCategoryNames() or []) if name}
    for tags in (raster_band.GetMetadata() or {}, dataset.GetMetadata() or {}):
        for key, name in tags.items():
            if key.startswith("CLASS_") and key[len("CLASS_"):].isdigit():
                names.setdefault(int(key[len("CLASS_"):]), name)
    return raster_band.GetDescription() or "", names


def ramp_renderer(layer: QgsRasterLayer, band: int = 1) -> QgsSingleBandPseudoColorRenderer:
    """Colour ramp over 0-1 for probability bands, else over the band's min-max."""
    if "prob" in _band_metadata(layer.source(), band)[0].lower():
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
    """Styles an algorithm's output (a raster, or target polygons) when QGIS adds it to the project."""

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
        elif isinstance(layer, QgsVectorLayer):
            load_qml(layer)
