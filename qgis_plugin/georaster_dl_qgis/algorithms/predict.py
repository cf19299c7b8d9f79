"""Predict with a model: apply any trained model (landform, prospectivity or regression)."""

from __future__ import annotations

from qgis.core import (QgsProcessingOutputRasterLayer,                        QgsProcessingParameterRasterDestination)

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_model, add_prediction, prediction_args


class Predict(GeoRasterDLAlgorithm):
    NAME = "predict"
    DISPLAY_NAME = "Predict with a model"
    GROUP, GROUP_ID = "Models", "models"
    HELP_SECTION = "prediction"
    COMMAND = "predict"
    SIDE_OUTPUTS = {"PROBABILITIES": "probabilities", "EXPLAIN": "explain", "APPLICABILITY": "applicability"}
    HELP = ("Applies a trained .gdl model over rasters of any size, window by window with bounded "
            "memory, re-deriving exactly the features it was trained on. Writes classes and "
            "probabilities, a probability (and its ensemble SD) or a value (and SD), styled for QGIS. "
            "Replace inputs by name to predict on other data than the training data.")

    def define(self) -> None:
        add_model(self, "Model", "A .gdl model file from one of the training algorithms or georaster-dl train.")
        add_prediction(self)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Prediction"),
                 "GeoTIFF on the model's grid, with nodata, band descriptions and a .qml style: class codes "
                 "(landform), probability and its ensemble SD (prospectivity), or value and SD (regression).")
        self.addOutput(QgsProcessingOutputRasterLayer("PROBABILITIES", "Class probabilities (landform models)"))

    def arguments(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        model = self.parameterAsFile(parameters, "MODEL", context)
        return [model, out, *prediction_args(self, parameters, context), "--overwrite"], {"OUTPUT": out}
