"""GeoRaster DL QGIS plugin: the georaster-dl pipeline in the Processing toolbox."""


def classFactory(iface):  # noqa: N802 - name required by QGIS
    """Create the plugin for QGIS (QGIS calls this with its interface object)."""
    from georaster_dl_qgis.plugin import GeoRasterDLPlugin

    return GeoRasterDLPlugin(iface)
