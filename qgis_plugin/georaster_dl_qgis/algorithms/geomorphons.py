"""Geomorphons (Jasiewicz & Stepinski 2013): the ten landform elements, as in GRASS r.geomorphon."""

from __future__ import annotations

from qgis.core import (QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from georaster_dl_qgis import capabilities
from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm

Number = QgsProcessingParameterNumber


class Geomorphons(GeoRasterDLAlgorithm):
    NAME = "geomorphons"
    DISPLAY_NAME = "Geomorphons"
    GROUP, GROUP_ID = "Terrain", "terrain"
    HELP_SECTION = "terrain-features"
    COMMAND = "features"
    HELP = ("Classifies every cell into one of ten landform elements by comparing zenith and nadir "
            "angles along eight directions: 1 flat, 2 summit, 3 ridge, 4 shoulder, 5 spur, 6 slope, "
            "7 hollow, 8 footslope, 9 valley, 10 pit (GRASS r.geomorphon's codes). The output loads "
            "with a colour per form.")

    def define(self) -> None:
        doc = capabilities.available()

        def default(param: str):
            return capabilities.feature_default(doc, "geomorphons", param)

        self.add(QgsProcessingParameterRasterLayer("INPUT", "DEM"), "Elevation raster (metres).")
        self.add(Number("SEARCH", "Search radius (cells)", Number.Integer, default("search"), minValue=1),
                 "How far (in cells) the lines of sight reach: larger radii find larger landforms.")
        self.add(Number("SKIP", "Skip radius (cells)", Number.Integer, default("skip"), minValue=0),
                 "Cells next to the centre that are ignored, to suppress small-scale noise.", advanced=True)
        self.add(Number("FLAT", "Flatness threshold (degrees)", Number.Double, default("flat"), minValue=0.001),
                 "Angles below this count as flat.", advanced=True)
        self.add(Number("DIST", "Flatness distance (cells)", Number.Double, default("dist"), minValue=0.0),
                 "Beyond this distance the flatness threshold shrinks with distance (0: never).", advanced=True)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Geomorphons"),
                 "Byte raster of form codes 1-10 with a colour table and form names.")

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        params = [f"search={self.parameterAsInt(parameters, 'SEARCH', context)}",
                  f"flat={self.parameterAsDouble(parameters, 'FLAT', context):g}"]
        skip, dist = self.parameterAsInt(parameters, "SKIP", context), self.parameterAsDouble(parameters, "DIST", context)
        params += ([f"skip={skip}"] if skip else []) + ([f"dist={dist:g}"] if dist else [])
        feature = ":".join(["geomorphons", *params])
        return [self.raster_arg(parameters, "INPUT", context, feedback), out, "--features", feature,
                "--overwrite"], {"OUTPUT": out}
