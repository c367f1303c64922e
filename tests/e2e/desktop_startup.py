"""Run inside the QGIS desktop (qgis --code): run an algorithm as the toolbox does, load its
result, and save screenshots and a JSON of what a user sees. Exits QGIS when done."""

import json
import os

from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QDockWidget, QLineEdit
from qgis.utils import iface

OUT = os.environ["URBANSIG_DESKTOP_OUT"]
seen = {}


def run_algorithm():
    import processing

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("urbansig")
    seen["provider"] = provider.name() if provider else None
    seen["algorithms"] = sorted(a.id() for a in provider.algorithms()) if provider else []
    results = processing.runAndLoadResults(
        "urbansig:createh3grid",
        {
            "EXTENT": "4.80,4.90,45.72,45.79 [EPSG:4326]",
            "RESOLUTION": 8,
            "OUTPUT": os.path.join(OUT, "grid.gpkg"),
        },
    )
    layers = QgsProject.instance().mapLayers().values()
    seen["layers"] = [(layer.name(), layer.renderer().type()) for layer in layers]
    seen["output"] = results.get("OUTPUT")
    grid = next(iter(layers), None)
    if grid is not None:
        iface.mapCanvas().setExtent(grid.extent())
        iface.mapCanvas().refresh()
    toolbox = iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox")
    if toolbox is not None:
        toolbox.show()
        search = toolbox.findChild(QLineEdit)
        if search is not None:
            search.setText("Urban Signatures")
    QTimer.singleShot(4000, take_screenshots)


def take_screenshots():
    iface.mainWindow().grab().save(os.path.join(OUT, "window.png"))
    iface.mapCanvas().grab().save(os.path.join(OUT, "canvas.png"))
    with open(os.path.join(OUT, "seen.json"), "w") as handle:
        json.dump(seen, handle)
    os._exit(0)


QTimer.singleShot(3000, run_algorithm)
