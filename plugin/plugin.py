"""The plugin object QGIS creates: registers the Processing provider.

In the desktop (an iface is given), the first load in a session without a backend environment
offers the setup in the message bar; qgis_process and other headless runs pass no iface.
"""

from __future__ import annotations

from typing import Any

from qgis.core import Qgis, QgsApplication

from . import backend_env
from .provider import UrbanSignaturesProvider
from .settings import backend_python_setting

SETUP_ALGORITHM = "urbansig:setupbackend"
SETUP_BUTTON = "Set up backend"
SETUP_MESSAGE = (
    "The backend environment is not set up yet: the algorithms need it. Setting it up "
    "downloads about 1.6 GB (PyTorch and the geo stack) once."
)

_offered_this_session = False


def backend_missing() -> str | None:
    """Why the backend environment cannot be used, or None when its interpreter is there.

    Only looks for the interpreter (no child process): cheap enough for QGIS start-up. A
    present but broken environment is reported by the algorithms and 'Backend diagnostics'."""
    try:
        backend_env.backend_python(backend_python_setting())
    except backend_env.BackendEnvError as exc:
        return str(exc)
    return None


def open_setup_dialog() -> None:
    import processing  # QGIS's Processing plugin, loaded in the desktop

    processing.execAlgorithmDialog(SETUP_ALGORITHM)


class UrbanSignaturesPlugin:
    """initProcessing makes the provider available in qgis_process and the desktop alike."""

    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider: UrbanSignaturesProvider | None = None
        self.setup_message: Any = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        if self.provider is None:
            self.provider = UrbanSignaturesProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        self.initProcessing()
        self.offer_backend_setup()

    def offer_backend_setup(self) -> bool:
        """A message bar item with a 'Set up backend' button, once per session; True if shown."""
        global _offered_this_session
        if self.iface is None or _offered_this_session or backend_missing() is None:
            return False
        _offered_this_session = True
        from qgis.PyQt.QtWidgets import QPushButton

        bar = self.iface.messageBar()
        item = bar.createMessage("Urban Signatures", SETUP_MESSAGE)
        button = QPushButton(SETUP_BUTTON, item)

        def clicked() -> None:
            bar.popWidget(item)
            open_setup_dialog()

        button.clicked.connect(clicked)
        item.layout().addWidget(button)
        bar.pushWidget(item, Qgis.MessageLevel.Info, 0)
        self.setup_message = item
        return True

    def unload(self) -> None:
        if self.setup_message is not None:
            try:
                self.iface.messageBar().popWidget(self.setup_message)
            except RuntimeError:
                pass  # already closed by the user (the C++ object is gone)
            self.setup_message = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
