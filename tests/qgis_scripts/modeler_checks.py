"""Open the plugin's algorithms in QGIS's real model designer, toolbox and batch dialogs (offscreen)
and report which step outputs the designer offers to each MODEL parameter, in order.

Usage: /usr/bin/python3 modeler_checks.py  (PYTHONPATH must hold qgis_plugin/)
Prints one JSON object.
"""
import json
import sys

sys.path.append("/usr/share/qgis/python/plugins")
from qgis.core import (QgsApplication, QgsProcessingModelAlgorithm,  # noqa: E402
                       QgsProcessingModelChildAlgorithm, QgsProcessingModelChildParameterSource)

app = QgsApplication([], True)
app.initQgis()
from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()
from processing.gui.AlgorithmDialog import AlgorithmDialog  # noqa: E402
from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog  # noqa: E402
from processing.modeler.ModelerParametersDialog import ModelerParametersDialog  # noqa: E402
from qgis.gui import QgsGui  # noqa: E402
from qgis.PyQt.QtWidgets import QComboBox  # noqa: E402

import georaster_dl_qgis  # noqa: E402

plugin = georaster_dl_qgis.classFactory(None)
plugin.initProcessing()
registry = QgsApplication.processingRegistry()
STEPS = ["native:buffer", "georaster_dl:terrain_features", "georaster_dl:train_prospectivity",
         "georaster_dl:train_landforms", "georaster_dl:map_prospectivity", "georaster_dl:classify_landforms",
         "georaster_dl:predict", "georaster_dl:evaluate", "georaster_dl:describe_model"]
model = QgsProcessingModelAlgorithm("model", "tests")
for algorithm_id in STEPS:
    child = QgsProcessingModelChildAlgorithm(algorithm_id)
    child.generateChildId(model)
    model.addChildAlgorithm(child)


def offered(widget):
    """[step id, output] of each step output in the widget's list, in order."""
    lists = [[c.itemData(i) for i in range(c.count())] for c in widget.findChildren(QComboBox)]
    return next((items for items in lists if items and all(isinstance(d, list) for d in items)), [])


result = {}
for child_id, child in model.childAlgorithms().items():
    algorithm = child.algorithm()
    if algorithm.parameterDefinition("MODEL") is None:
        continue
    dialog = ModelerParametersDialog(algorithm, model, child_id)
    widget = dialog.widget.widget.wrappers["MODEL"]
    train = [c for c in model.childAlgorithms() if "train_prospectivity" in c][0]
    widget.setWidgetValue(QgsProcessingModelChildParameterSource.fromChildOutput(train, "OUTPUT"))
    own = QgsGui.processingGuiRegistry().createModelerParameterWidget(
        model, child_id, algorithm.parameterDefinition("MODEL"), dialog.context)  # QGIS's own, unordered
    result[algorithm.name()] = {
        "offered": offered(widget), "qgis_own": offered(own),
        "chosen": [widget.value().outputChildId(), widget.value().outputName()],
        "toolbox": type(AlgorithmDialog(algorithm.create()).mainWidget().wrappers["MODEL"]).__name__,
    }
batch = BatchAlgorithmDialog(registry.algorithmById("georaster_dl:predict").create())
result["batch"] = batch.mainWidget().tblParameters.rowCount() > 0
print(json.dumps(result))
