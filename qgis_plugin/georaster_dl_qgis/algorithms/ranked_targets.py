"""Ranked exploration targets: connected regions of a prospectivity map's top cells, as polygons."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (QgsProcessing, QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterVectorDestination)

from georaster_dl_qgis import capabilities
from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm


class RankedTargets(GeoRasterDLAlgorithm):
    NAME = "ranked_targets"
    DISPLAY_NAME = "Ranked exploration targets"
    GROUP, GROUP_ID = "Prospectivity", "prospectivity"
    HELP_SECTION = "targets"
    COMMAND = "targets"
    HELP = ("Groups the cells in the top percent of a prospectivity map's valid area into connected "
            "regions (8-connected: cells touching at an edge or a corner) and ranks them by mean "
            "probability (rank 1 = best). Each polygon has its rank, area (map units²), cells, mean and "
            "maximum probability, mean SD (ensemble maps) and, with an explanation raster, the three "
            "inputs contributing most. The layer loads styled by rank.")

    def define(self) -> None:
        self.add(QgsProcessingParameterRasterLayer("MAP", "Prospectivity map"),
                 "A probability map from 'Map prospectivity' (band 1 the probability, band 2 the SD).")
        self.add(QgsProcessingParameterNumber("TOP_AREA", "Top area (percent of the valid area)",
                                              QgsProcessingParameterNumber.Double, 5.0, minValue=0.0, maxValue=100.0),
                 "Keep the cells in this top percent of the valid cells by probability (above 0, at most 100).")
        self.add(QgsProcessingParameterNumber("MIN_CELLS", "Minimum cells per target",
                                              QgsProcessingParameterNumber.Integer, 1, minValue=1),
                 "Drop regions of fewer cells (the targets then cover less than the top area).")
        self.add(QgsProcessingParameterRasterLayer("EXPLAIN", "Explanation raster", optional=True),
                 "Attributions on the map's grid, one band per input named by its description "
                 "(predict's _explain.tif): names each target's three inputs with the highest mean attribution.")
        self.add(QgsProcessingParameterVectorDestination("OUTPUT", "Targets", QgsProcessing.TypeVectorPolygon),
                 "GeoPackage of ranked polygons in the map's CRS, styled by rank.")

    def problem(self, parameters, context) -> str:
        if self.parameterAsDouble(parameters, "TOP_AREA", context) <= 0:
            return "Top area (percent of the valid area) must be above 0."
        suffix = capabilities.file_suffix(capabilities.capabilities(), "targets")
        path = Path(self.parameterAsOutputLayer(parameters, "OUTPUT", context) or "")
        if path.name and path.suffix.lower() != suffix:
            return (f"Targets: {path.name} is not a GeoPackage, the format the backend writes; "
                    f"name it {path.stem}{suffix}.")
        return ""

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        args = [self.raster_arg(parameters, "MAP", context, feedback), out,
                "--top-area", str(self.parameterAsDouble(parameters, "TOP_AREA", context)),
                "--min-cells", str(self.parameterAsInt(parameters, "MIN_CELLS", context))]
        if self.parameterAsRasterLayer(parameters, "EXPLAIN", context) is not None:
            args += ["--explain", self.raster_arg(parameters, "EXPLAIN", context, feedback)]
        return [*args, "--overwrite"], {"OUTPUT": out}
