"""Train a regression model: a continuous target (soil depth, grade, ...) from raster evidence."""

from __future__ import annotations

from qgis.core import QgsProcessing, QgsProcessingParameterFeatureSource, QgsProcessingParameterField

from georaster_dl_qgis.algorithms.evidence_training import EvidenceTrainingAlgorithm
from georaster_dl_qgis.algorithms.options import add_evidence, add_training


class TrainRegression(EvidenceTrainingAlgorithm):
    NAME = "train_regression"
    DISPLAY_NAME = "Train regression model"
    GROUP, GROUP_ID = "Regression", "regression"
    HELP_SECTION = "training-and-evaluation"
    TASK = "regression"
    HELP = ("Trains a network that predicts a measured continuous value (soil thickness, "
            "geochemical grade, depth to bedrock, ...) from evidence rasters, categorical maps and "
            "distances to vector features. Apply it with 'Predict with a model'.")

    def define(self) -> None:
        add_evidence(self)
        self.add(QgsProcessingParameterFeatureSource("LABELS", "Samples",
                                                     [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]),
                 "Points or polygons carrying the measured value.")
        self.add(QgsProcessingParameterField("LABEL_FIELD", "Value field", parentLayerParameterName="LABELS",
                                             type=QgsProcessingParameterField.Numeric),
                 "Numeric attribute to predict.")
        add_training(self)

    def task_args(self, parameters, context) -> list[str]:
        return ["--label-field", self.parameterAsString(parameters, "LABEL_FIELD", context)]
