"""Turn QGIS layers into files the backend can open.

File-backed layers pass their path (and GeoPackage layer name); memory, virtual,
filtered or other non-file layers are first written to a temporary GPKG/GeoTIFF.
"""

from __future__ import annotations

import os

from qgis.core import (QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingUtils, QgsRasterFileWriter, QgsRasterLayer, QgsRasterPipe,
                       QgsVectorLayer)

# Vector formats the backend reads directly (geopandas/pyogrio); anything else is exported.
VECTOR_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "gml", "kml"]


def raster_path(layer: QgsRasterLayer, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> str:
    """Path of a GDAL file-backed raster, else of a temporary GeoTIFF copy of its data."""
    if layer.providerType() == "gdal" and os.path.isfile(layer.source()):
        return layer.source()
    provider = layer.dataProvider()
    if layer.width() <= 0 or layer.height() <= 0:
        raise QgsProcessingException(
            f"Raster layer '{layer.name()}' has no fixed cell size (a web or tiled service?): "
            "save it as a GeoTIFF (Export > Save As...) and use that layer.")
    path = QgsProcessingUtils.generateTempFilename(f"{_safe(layer.name())}.tif")
    feedback.pushInfo(f"Writing raster layer '{layer.name()}' to {path} for the backend")
    pipe = QgsRasterPipe()
    pipe.set(provider.clone())
    writer = QgsRasterFileWriter(path)
    writer.setOutputFormat("GTiff")
    error = writer.writeRaster(pipe, layer.width(), layer.height(), provider.extent(), layer.crs(),
                               context.transformContext())
    if error != QgsRasterFileWriter.NoError:
        raise QgsProcessingException(f"Could not write raster layer '{layer.name()}' to {path} (error {error})")
    return path


def vector_path_and_layer(layer: QgsVectorLayer, context: QgsProcessingContext,
                          feedback: QgsProcessingFeedback) -> tuple[str, str]:
    """(path, layer name or '') of a file-backed vector layer, else of a temporary GPKG copy."""
    path, name = QgsProcessingUtils.convertToCompatibleFormatAndLayerName(
        layer, False, _safe(layer.name()), VECTOR_FORMATS, "gpkg", context, feedback)
    return path, name


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "layer"
