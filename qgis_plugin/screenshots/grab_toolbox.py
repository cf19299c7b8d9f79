"""Run inside the QGIS desktop (``qgis --code grab_toolbox.py``): save the Processing
toolbox with the GeoRaster DL provider expanded as a PNG, then quit QGIS.

The target PNG comes from the GEORASTER_DL_SCREENSHOT environment variable.
"""
import os

from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication, QDockWidget, QTreeView
from qgis.utils import iface

TARGET = os.environ["GEORASTER_DL_SCREENSHOT"]
SHOWN = ("GDAL", "GRASS", "GeoRaster DL")


def grab():
    dock = iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox")
    dock.setFloating(True)
    dock.resize(380, 430)
    dock.show()
    tree = dock.findChild(QTreeView)
    model = tree.model()
    tree.collapseAll()
    for row in range(model.rowCount()):  # show the provider beside its neighbours GDAL and GRASS
        index = model.index(row, 0)
        tree.setRowHidden(row, index.parent(), model.data(index) not in SHOWN)
        if model.data(index) == "GeoRaster DL":
            tree.expandRecursively(index)
    QTimer.singleShot(1500, lambda: (dock.grab().save(TARGET), QApplication.instance().quit()))


QTimer.singleShot(3000, grab)
