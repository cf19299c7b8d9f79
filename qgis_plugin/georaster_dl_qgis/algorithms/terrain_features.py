"""Terrain features: slope, aspect, curvatures, TPI, TRI, ... of a DEM as one multi-band raster."""

from __future__ import annotations

from qgis.core import (QgsProcessingParameterBoolean, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from georaster_dl_qgis import capabilities
from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import enum, feature_list


DEFAULT_FEATURES = "slope,aspect,tpi"


class TerrainFeatures(GeoRasterDLAlgorithm):
    NAME = "terrain_features"
    DISPLAY_NAME = "Terrain features"
    GROUP, GROUP_ID = "Terrain", "terrain"
    HELP_SECTION = "terrain-features"
    COMMAND = "features"
    HELP = ("Derives terrain features from a DEM, one band per feature (band descriptions name them). "
            "Results are identical however the DEM is tiled, and DEMs in degrees get cell sizes in "
            "metres per row, so slopes are right in geographic coordinates too.")

    def define(self) -> None:
        self.add(QgsProcessingParameterRasterLayer("INPUT", "DEM"),
                 "Elevation raster (metres; any CRS). Nodata cells and their neighbours are nodata.")
        # No box ticked by default: QGIS reads an empty selection as the default, so a default here
        # would come back when every box is unticked. The default list is the typed entry's.
        self.add(enum("FEATURES", "Features", capabilities.terrain_features(capabilities.available()), [],
                      multiple=True, optional=True),
                 "Features with their default parameters: slope and aspect (Horn, degrees), "
                 "northness/eastness (cos/sin of aspect), profile/plan/total curvature, TPI and "
                 "standardised TPI, TRI (Riley), roughness, hillshade, geomorphons (ten forms), "
                 "Weiss slope-position classes.")
        self.add(QgsProcessingParameterString("MORE", "More features, with parameters", DEFAULT_FEATURES,
                                              optional=True),
                 "Comma-separated, in the command-line syntax name:param=value, e.g. "
                 "'tpi:radius=10,tpi:radius=30,hillshade:azimuth=270'; used with the ticked features, or alone.")
        self.add(QgsProcessingParameterBoolean("EXTRAPOLATE", "Extrapolate at the raster's edges", False),
                 "Compute the outer frame of cells by extrapolating the DEM (like gdaldem -compute_edges) "
                 "instead of leaving it nodata.", advanced=True)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Terrain features"),
                 "Multi-band GeoTIFF, one band per feature, on the DEM's grid.")

    def problem(self, parameters, context):
        return "" if self.features(parameters, context) else "Choose at least one feature, or type one under 'More features'."

    def features(self, parameters, context) -> str:
        return feature_list(self, parameters, context)

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        edges = "extrapolate" if self.parameterAsBoolean(parameters, "EXTRAPOLATE", context) else "nodata"
        args = [self.raster_arg(parameters, "INPUT", context, feedback), out,
                "--features", self.features(parameters, context), "--edges", edges, "--overwrite"]
        return args, {"OUTPUT": out}
