"""Urban Signatures QGIS plugin entry point (nothing heavy at import)."""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    from .plugin.plugin import UrbanSignaturesPlugin

    return UrbanSignaturesPlugin(iface)
