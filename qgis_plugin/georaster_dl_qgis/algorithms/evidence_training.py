"""The part shared by algorithms that train on evidence layers (prospectivity, regression)."""

from __future__ import annotations

from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import evidence_problem, evidence_spec, training_args, training_problem


class EvidenceTrainingAlgorithm(GeoRasterDLAlgorithm):
    """Builds a StackSpec from the evidence layers and runs ``georaster-dl train --task TASK``
    on the LABELS layer; subclasses define their parameters and :meth:`task_args`."""

    COMMAND = "train"
    TASK = ""

    def task_args(self, parameters, context) -> list[str]:
        """Options only this task passes (after the labels)."""
        return []

    def problem(self, parameters, context):
        return evidence_problem(self, parameters, context) or training_problem(self, parameters, context)

    def arguments(self, parameters, context, feedback):
        spec = evidence_spec(self, parameters, context, feedback)
        args, outputs = training_args(self, parameters, context)
        labels = self.labels_args(parameters, "LABELS", context, feedback)
        return ["--task", self.TASK, "--spec", spec, *labels, *self.task_args(parameters, context), *args], outputs
