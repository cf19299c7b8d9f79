"""Backend messages in a dialog's words: command-line options become the parameters that set them."""

from __future__ import annotations

import re

from qgis.core import QgsProcessingAlgorithm

#: The parameter that sets each backend option, where an algorithm has it.
OPTION_PARAMETERS = {
    "--labels": "LABELS", "--label-field": "LABEL_FIELD", "--spec": "SPEC", "--out": "OUTPUT",
    "--report": "REPORT", "--metrics": "METRICS", "--hidden": "HIDDEN", "--activation": "ACTIVATION",
    "--dropout": "DROPOUT", "--epochs": "EPOCHS", "--patience": "PATIENCE", "--batch-size": "BATCH_SIZE",
    "--optimizer": "OPTIMIZER", "--learning-rate": "LEARNING_RATE", "--cv-folds": "CV_FOLDS",
    "--cv-block-size": "CV_BLOCK_SIZE", "--cv-buffer": "CV_BUFFER", "--seed": "SEED", "--ensemble": "ENSEMBLE",
    "--background-ratio": "BACKGROUND_RATIO", "--buffer": "BUFFER", "--input": "INPUTS", "--window": "WINDOW",
    "--workers": "WORKERS", "--device": "DEVICE", "--nodata": "NODATA", "--features": "MORE",
    "--top-area": "TOP_AREA", "--min-cells": "MIN_CELLS", "--explain": "EXPLAIN",
}
#: What a dialog offers for backend options it has no parameter for.
DIALOG_EQUIVALENTS = {
    "--where": "a selection of the labels (select features, then tick 'Selected features only')",
    "--layer": "the labels layer",
    "--overwrite": "another output file",
    "--resume": "running the algorithm again",
}
_OPTION = re.compile(r"--[a-z][a-z-]*")


def in_dialog_words(message: str, algorithm: QgsProcessingAlgorithm) -> str:
    """``message`` with each command-line option replaced by the algorithm's parameter label.

    Options without a parameter become what the dialog offers instead; unknown ones stay.
    """
    def words(match: re.Match) -> str:
        option = match.group(0)
        name = OPTION_PARAMETERS.get(option)
        parameter = algorithm.parameterDefinition(name) if name else None
        if parameter is not None:
            return f"'{parameter.description()}'"
        return DIALOG_EQUIVALENTS.get(option, option)

    return _OPTION.sub(words, message)
