"""The "GeoRaster DL" Processing provider."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from georaster_dl_qgis import backend
from georaster_dl_qgis.algorithms import ALGORITHMS

ICON = Path(__file__).parent / "icons" / "georaster_dl.svg"


class GeoRasterDLProvider(QgsProcessingProvider):
    """Lists the algorithms and owns the backend setting in Processing > Options > Providers."""

    def id(self) -> str:
        return "georaster_dl"

    def name(self) -> str:
        return "GeoRaster DL"

    def longName(self) -> str:  # noqa: N802 - QGIS API
        return "GeoRaster DL (deep learning for geoscience rasters)"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        return str(ICON)

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API
        return ["tif"]  # the backend writes GeoTIFF only

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API
        return ["gpkg"]  # targets are written as GeoPackage only

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802,N803 - QGIS API
        return "gpkg"

    def load(self) -> bool:
        backend.add_settings(self.name(), self.icon())
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        backend.remove_settings()

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
