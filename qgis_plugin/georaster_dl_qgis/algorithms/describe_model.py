"""Describe a model: its task, inputs and bands (the names 'Replace model inputs' takes)."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputString

from georaster_dl_qgis import backend
from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import add_model
from georaster_dl_qgis.runner import backend_json


class DescribeModel(GeoRasterDLAlgorithm):
    NAME = "describe_model"
    DISPLAY_NAME = "Describe a model (its inputs)"
    GROUP, GROUP_ID = "Models", "models"
    HELP_SECTION = "the-model-file"
    COMMAND = "info"
    HELP = ("Lists what a trained .gdl model needs: its task, its inputs by name with the files it was "
            "trained on, and the bands its network reads. The Inputs output ('name=path; ...') is the form "
            "'Replace model inputs' takes: copy it and change the paths to predict on other data.")

    def define(self) -> None:
        add_model(self, "Model", "The .gdl model to describe.")
        self.addOutput(QgsProcessingOutputString("TASK", "Task"))
        self.addOutput(QgsProcessingOutputString("INPUTS", "Inputs (name=path; ...)"))
        self.addOutput(QgsProcessingOutputString("BANDS", "Bands"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        model = self.parameterAsFile(parameters, "MODEL", context)
        doc = backend_json([*backend.backend_command(), "info", model, "--json"])
        result = {"TASK": doc["task"], "BANDS": ", ".join(doc["band_names"]),
                  "INPUTS": "; ".join(f"{name}={entry['path']}" for name, entry in doc["spec"]["inputs"].items())}
        for name, value in result.items():
            feedback.pushInfo(f"{name.lower()}: {value}")
        return result
