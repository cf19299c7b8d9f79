"""Evaluate a model against labels and write an HTML report."""

from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterFileDestination)

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_model


class Evaluate(GeoRasterDLAlgorithm):
    NAME = "evaluate"
    DISPLAY_NAME = "Evaluate a model (HTML report)"
    GROUP, GROUP_ID = "Models", "models"
    HELP_SECTION = "training-and-evaluation"
    COMMAND = "evaluate"
    HELP = ("Scores a trained model on labels it has not seen: confusion matrix and per-class "
            "accuracy (landforms), ROC/AUC and success-rate curves (prospectivity), or errors and "
            "a scatter plot (regression). The HTML report opens in the Results Viewer.")

    def define(self) -> None:
        add_model(self, "Model", "The .gdl model to evaluate.")
        self.add(QgsProcessingParameterFeatureSource("LABELS", "Labels",
                                                     [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]),
                 "Independent test labels: classes, deposits or measured values, like the training labels.")
        self.add(QgsProcessingParameterField("LABEL_FIELD", "Label field", parentLayerParameterName="LABELS",
                                             optional=True),
                 "Class or value attribute (not needed for deposits).")
        self.add(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)"),
                 "The HTML evaluation report.")
        self.add(QgsProcessingParameterFileDestination("METRICS", "Metrics (JSON)", "JSON files (*.json)",
                                                       optional=True, createByDefault=False),
                 "The metrics as JSON, for scripts.")

    def arguments(self, parameters, context, feedback):
        outputs = {"REPORT": self.parameterAsFileOutput(parameters, "REPORT", context)}
        args = [self.parameterAsFile(parameters, "MODEL", context),
                *self.labels_args(parameters, "LABELS", context, feedback)]
        field = self.parameterAsString(parameters, "LABEL_FIELD", context)
        if field:
            args += ["--label-field", field]
        metrics = self.parameterAsFileOutput(parameters, "METRICS", context)
        if metrics:
            outputs["METRICS"] = metrics
            args += ["--metrics", metrics]
        return [*args, "--report", outputs["REPORT"], "--overwrite"], outputs
