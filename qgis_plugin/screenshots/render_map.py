"""Render a prospectivity map styled by the plugin's loader to a PNG (QGIS's Python, offscreen).

Usage: /usr/bin/python3 render_map.py PROSPECTIVITY.tif DEM.tif DEPOSITS.gpkg FAULTS.gpkg OUT.png
(PYTHONPATH must hold qgis_plugin/). The map lays the probability over a hillshade of
the DEM, with the faults and the known deposits, a legend and a scale bar.
"""
import os
import sys

from qgis.core import (QgsApplication, QgsHillshadeRenderer, QgsLayoutExporter, QgsLayoutItemLabel,
                       QgsLayoutItemLegend, QgsLayoutItemMap, QgsLayoutItemScaleBar, QgsLayoutPoint,
                       QgsLayoutSize, QgsLineSymbol, QgsMarkerSymbol, QgsPrintLayout, QgsProject,
                       QgsRasterLayer, QgsUnitTypes, QgsVectorLayer)
from qgis.PyQt.QtGui import QFont

QgsApplication.setPrefixPath(os.environ.get("QGIS_PREFIX_PATH", "/usr"), True)  # finds srs.db for CRSs
app = QgsApplication([], False)
app.initQgis()
from georaster_dl_qgis.loader import load_styled  # noqa: E402

MM = QgsUnitTypes.LayoutMillimeters


def layers(prospectivity: str, dem: str, deposits: str, faults: str) -> list:
    relief = QgsRasterLayer(dem, "hillshade")
    relief.setRenderer(QgsHillshadeRenderer(relief.dataProvider(), 1, 315, 45))
    probability = load_styled(prospectivity, "prospectivity")
    probability.renderer().setOpacity(0.75)
    fault_lines = QgsVectorLayer(faults, "faults")
    fault_lines.renderer().setSymbol(QgsLineSymbol.createSimple({"color": "40,40,40", "width": "0.5"}))
    known = QgsVectorLayer(deposits, "known deposits")
    known.renderer().setSymbol(QgsMarkerSymbol.createSimple(
        {"name": "star", "color": "255,255,255", "outline_color": "0,0,0", "size": "3.2"}))
    return [known, fault_lines, probability, relief]


def render(map_layers: list, target: str) -> None:
    project = QgsProject.instance()
    project.setCrs(map_layers[2].crs())
    for layer in reversed(map_layers):
        project.addMapLayer(layer)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(200, 140, MM))
    title = QgsLayoutItemLabel(layout)
    title.setText("Prospectivity mapped with GeoRaster DL in QGIS (sample data)")
    title.setFont(QFont("DejaVu Sans", 12))
    title.attemptMove(QgsLayoutPoint(5, 3, MM))
    title.attemptResize(QgsLayoutSize(180, 8, MM))
    layout.addLayoutItem(title)
    frame = QgsLayoutItemMap(layout)
    frame.setLayers(map_layers)
    frame.setCrs(map_layers[2].crs())
    frame.attemptMove(QgsLayoutPoint(5, 12, MM))
    frame.attemptResize(QgsLayoutSize(125, 125, MM))
    frame.setExtent(map_layers[2].extent())  # zoomToExtent needs a prior extent; this does not
    layout.addLayoutItem(frame)
    legend = QgsLayoutItemLegend(layout)
    legend.setLinkedMap(frame)
    legend.setAutoUpdateModel(False)
    legend.model().rootGroup().removeLayer(map_layers[3])  # the hillshade needs no legend entry
    legend.attemptMove(QgsLayoutPoint(134, 12, MM))
    layout.addLayoutItem(legend)
    scale = QgsLayoutItemScaleBar(layout)
    scale.setLinkedMap(frame)
    scale.setUnits(QgsUnitTypes.DistanceKilometers)
    scale.setUnitLabel("km")
    scale.setNumberOfSegmentsLeft(0)
    scale.setNumberOfSegments(2)
    scale.setUnitsPerSegment(2)
    scale.attemptMove(QgsLayoutPoint(134, 118, MM))
    layout.addLayoutItem(scale)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = 96
    settings.generateWorldFile = False
    result = QgsLayoutExporter(layout).exportToImage(target, settings)
    if result != QgsLayoutExporter.Success:
        raise SystemExit(f"error: could not export {target} (code {result})")


if __name__ == "__main__":
    prospectivity_tif, dem_tif, deposits_gpkg, faults_gpkg, png = sys.argv[1:6]
    render(layers(prospectivity_tif, dem_tif, deposits_gpkg, faults_gpkg), png)
    print(f"wrote {png}")
