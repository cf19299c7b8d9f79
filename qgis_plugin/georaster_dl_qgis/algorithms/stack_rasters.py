"""Align and stack rasters (and vector distance grids) on one grid, one band per feature."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterBoolean, QgsProcessingParameterRasterDestination

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_evidence, evidence_problem, evidence_spec


class StackRasters(GeoRasterDLAlgorithm):
    NAME = "stack_rasters"
    DISPLAY_NAME = "Align and stack rasters"
    GROUP, GROUP_ID = "Data preparation", "preparation"
    HELP_SECTION = "stackspec-which-inputs-which-features-on-which-grid"
    COMMAND = "stack"
    HELP = ("Resamples rasters of any CRS, cell size and extent onto one grid and writes them as one "
            "multi-band GeoTIFF (band descriptions name the features); vector layers become distance "
            "grids. Nodata is the union over all inputs. The same stack is what the training "
            "algorithms feed to a network.")

    def define(self) -> None:
        add_evidence(self)
        self.add(QgsProcessingParameterBoolean("ONEHOT", "One-hot encode categorical rasters", False),
                 "One band per class (0/1) instead of one band of class codes.")
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Stack"),
                 "Multi-band GeoTIFF on the reference grid.")

    def problem(self, parameters, context):
        return evidence_problem(self, parameters, context)

    def arguments(self, parameters, context, feedback):
        onehot = self.parameterAsBoolean(parameters, "ONEHOT", context)
        spec = evidence_spec(self, parameters, context, feedback, onehot=onehot)
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        return [spec, out, "--overwrite"], {"OUTPUT": out}
