"""The MODEL parameter's widget: QGIS's own, with model files listed first in the model designer.

QGIS 3.22's designer offers every file, raster and vector output of the other steps to a file
parameter, ordered by step id (a terrain step's raster comes before a training step's model). The
parameter's ``widget_wrapper`` metadata names :class:`ModelFileWidget`, which builds the widget
QGIS would build and, in the designer, moves the outputs written with the parameter's own file
filter (the training steps' model files, those of the expected task first) to the top of the
list. Other dialogs get QGIS's widget
unchanged. Imported by QGIS's dialogs only (``qgis.gui`` is not loaded by qgis_process).
"""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingModelAlgorithm, QgsProcessingParameterFile
from qgis.gui import QgsGui, QgsProcessingGui
from qgis.PyQt.QtWidgets import QComboBox, QWidget


class ModelFileWidget:
    """Factory QGIS calls as ``ModelFileWidget(param, dialog, row, col, task=...)`` (the metadata's
    other keys); returns QGIS's own widget. ``task``: the task of the models the algorithm reads."""

    def __new__(cls, param: QgsProcessingParameterFile, dialog: Any, row: int = 0, col: int = 0,
                task: str = "") -> Any:
        from processing.gui.wrappers import dialogTypes  # QGIS's Processing plugin, loaded with its dialogs

        registry = QgsGui.processingGuiRegistry()
        kind = dialog.__class__.__name__
        if kind == "ModelerParametersDialog":
            widget = registry.createModelerParameterWidget(dialog.model, dialog.childId, param, dialog.context)
            models_first(widget, dialog.model, param.fileFilter(), task)
        else:
            widget = registry.createParameterWidgetWrapper(param, dialogTypes.get(kind, QgsProcessingGui.Standard))
        widget.setDialog(dialog)
        return widget


def models_first(widget: QWidget, model: QgsProcessingModelAlgorithm, file_filter: str, task: str = "") -> None:
    """Reorder the designer's list of step outputs: those written with ``file_filter`` first, by
    steps training ``task`` (their ``TASK``) before others."""
    for combo in widget.findChildren(QComboBox):
        items = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
        if not items or not all(isinstance(data, list) and len(data) == 2 for _, data in items):
            continue  # not the list of step outputs (whose data are [step id, output name])
        items.sort(key=lambda item: _rank(model, *item[1], file_filter, task))
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)


def _rank(model: QgsProcessingModelAlgorithm, child_id: str, output: str, file_filter: str, task: str) -> int:
    """0: a model file of ``task`` (or any, without a task); 1: another task's; 2: anything else."""
    algorithm = model.childAlgorithm(child_id).algorithm()
    definition = algorithm.parameterDefinition(output) if algorithm else None
    if definition is None or getattr(definition, "fileFilter", lambda: None)() != file_filter:
        return 2
    return int(bool(task) and getattr(algorithm, "TASK", "") != task)
