"""Train a mineral prospectivity model from evidence layers and known deposits."""

from __future__ import annotations

from qgis.core import QgsProcessing, QgsProcessingParameterFeatureSource, QgsProcessingParameterNumber

from georaster_dl_qgis.algorithms.evidence_training import EvidenceTrainingAlgorithm
from georaster_dl_qgis.algorithms.options import add_evidence, add_training


Number = QgsProcessingParameterNumber


class TrainProspectivity(EvidenceTrainingAlgorithm):
    NAME = "train_prospectivity"
    DISPLAY_NAME = "Train prospectivity model"
    GROUP, GROUP_ID = "Prospectivity", "prospectivity"
    HELP_SECTION = "training-and-evaluation"
    TASK = "prospectivity"
    HELP = ("Trains a network that scores every cell's likelihood of hosting a deposit from evidence "
            "rasters, categorical maps and distances to vector features, with known deposits as "
            "positives and background cells as negatives. Use spatial cross-validation (folds and "
            "block size) for honest skill estimates: neighbouring cells are not independent.")

    def define(self) -> None:
        add_evidence(self)
        self.add(QgsProcessingParameterFeatureSource("LABELS", "Known deposits",
                                                     [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]),
                 "Deposits and occurrences (points or polygons); select a subset to train on it only.")
        self.add(Number("BACKGROUND_RATIO", "Background cells per deposit", Number.Double, 10.0, minValue=0.001),
                 "Random cells drawn as negatives for each known deposit.", advanced=True)
        self.add(Number("BUFFER", "No background within (map units)", Number.Double, 0.0, minValue=0.0),
                 "Keep background cells at least this far from known deposits.", advanced=True)
        add_training(self)

    def task_args(self, parameters, context) -> list[str]:
        return ["--background-ratio", str(self.parameterAsDouble(parameters, "BACKGROUND_RATIO", context)),
                "--buffer", str(self.parameterAsDouble(parameters, "BUFFER", context))]
