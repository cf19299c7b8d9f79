"""The plugin object: registers the Processing provider, nothing else."""

from __future__ import annotations

from qgis.core import QgsApplication

from georaster_dl_qgis.provider import GeoRasterDLProvider


class GeoRasterDLPlugin:
    """Adds and removes the GeoRaster DL provider (also used headless by qgis_process)."""

    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider: GeoRasterDLProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS hook
        """Called by QGIS (and by qgis_process, which never calls initGui)."""
        if self.provider is None:
            self.provider = GeoRasterDLProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS hook
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
