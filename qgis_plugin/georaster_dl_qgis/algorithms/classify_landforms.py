"""Classify landforms: apply a trained landform model to a DEM."""

from __future__ import annotations

from qgis.core import (QgsProcessingOutputRasterLayer, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_model, add_prediction, prediction_args


class ClassifyLandforms(GeoRasterDLAlgorithm):
    NAME = "classify_landforms"
    DISPLAY_NAME = "Classify landforms"
    GROUP, GROUP_ID = "Landforms", "landforms"
    HELP_SECTION = "prediction"
    COMMAND = "predict"
    SIDE_OUTPUTS = {"PROBABILITIES": "probabilities", "EXPLAIN": "explain", "APPLICABILITY": "applicability"}
    HELP = ("Maps landform classes over a DEM with a model from 'Train landform classifier'. The "
            "terrain features are derived exactly as in training, window by window. The output "
            "loads paletted with the model's class names and colours.")

    def define(self) -> None:
        add_model(self, "Landform model", "A .gdl file trained with task 'landform'.", task="landform")
        self.add(QgsProcessingParameterRasterLayer("DEM", "DEM", optional=True),
                 "DEM to classify (replaces the model's input 'dem'); empty: the DEM it was trained on.")
        add_prediction(self)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Landforms"),
                 "Class codes (Byte, 0 = nodata) with the model's class names and colours.")
        self.addOutput(QgsProcessingOutputRasterLayer("PROBABILITIES", "Class probabilities"))

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        dem = {}
        if self.parameterAsRasterLayer(parameters, "DEM", context):
            dem["dem"] = self.raster_arg(parameters, "DEM", context, feedback)
        model = self.parameterAsFile(parameters, "MODEL", context)
        return [model, out, "--task", "landform", *prediction_args(self, parameters, context, dem),
                "--overwrite"], {"OUTPUT": out}
