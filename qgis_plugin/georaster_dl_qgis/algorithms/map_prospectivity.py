"""Map prospectivity: a trained prospectivity model's probability for every cell."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_model, add_prediction, prediction_args


class MapProspectivity(GeoRasterDLAlgorithm):
    NAME = "map_prospectivity"
    DISPLAY_NAME = "Map prospectivity"
    GROUP, GROUP_ID = "Prospectivity", "prospectivity"
    HELP_SECTION = "prediction"
    COMMAND = "predict"
    SIDE_OUTPUTS = {"EXPLAIN": "explain", "APPLICABILITY": "applicability"}
    HELP = ("Applies a model from 'Train prospectivity model' to its evidence layers (or replacements) "
            "and writes the probability of a deposit per cell; ensembles add a standard deviation "
            "band. The map loads with a probability colour ramp.")

    def define(self) -> None:
        add_model(self, "Prospectivity model", "A .gdl file trained with task 'prospectivity'.", task="prospectivity")
        add_prediction(self)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Prospectivity"),
                 "Float32 probability raster (0-1), nodata where any evidence is nodata.")

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        model = self.parameterAsFile(parameters, "MODEL", context)
        return [model, out, "--task", "prospectivity", *prediction_args(self, parameters, context),
                "--overwrite"], {"OUTPUT": out}
