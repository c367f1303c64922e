"""The plugin object QGIS creates: registers the Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import UrbanSignaturesProvider


class UrbanSignaturesPlugin:
    """initProcessing makes the provider available in qgis_process and the desktop alike."""

    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider: UrbanSignaturesProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        if self.provider is None:
            self.provider = UrbanSignaturesProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
