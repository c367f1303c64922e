"""GUI tier: the real Processing dialogs, batch panel and Model Designer dialogs in a QGIS GUI
application (pytest-qgis with the GUI, under Xvfb), run on a tiny demo city."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gui_driver


@pytest.fixture(scope="session")
def gui_app(qgis_app, qgis_iface):
    """A GUI QGIS application; fails at once where pytest-qgis started it without the GUI."""
    from qgis.PyQt.QtWidgets import QApplication

    assert isinstance(QApplication.instance(), QApplication), "run with -o qgis_gui_enabled=true"
    from qgis.gui import QgsBrowserGuiModel

    model = QgsBrowserGuiModel()
    qgis_iface.browserModel = lambda: model  # the stub's MagicMock would break file widgets
    return qgis_app


@pytest.fixture(scope="session")
def provider(gui_app, qgis_processing):
    """The registered provider (a reference is kept, or its algorithms vanish)."""
    from processing.core.ProcessingConfig import ProcessingConfig
    from qgis.core import QgsApplication
    from urban_signatures.plugin.provider import UrbanSignaturesProvider

    ProcessingConfig.setSettingValue(ProcessingConfig.KEEP_DIALOG_OPEN, True)
    registered = UrbanSignaturesProvider()
    assert QgsApplication.processingRegistry().addProvider(registered)
    yield registered
    QgsApplication.processingRegistry().removeProvider(registered)


@pytest.fixture(scope="session")
def algorithm_ids(provider) -> list[str]:
    """The provider's own algorithms (the shipped .model3 chains left out)."""
    from qgis.core import QgsProcessingModelAlgorithm

    return sorted(
        alg.name()
        for alg in provider.algorithms()
        if not isinstance(alg, QgsProcessingModelAlgorithm)
    )


@pytest.fixture(scope="session")
def demo_city(provider, tmp_path_factory) -> dict:
    """A tiny demo city (generatedemocity through processing.run)."""
    import processing

    out = tmp_path_factory.mktemp("gui-city") / "city"
    return processing.run(
        "urbansig:generatedemocity", {"SIZE": 0, "DAYS": 3, "SEED": 0, "OUTPUT": str(out)}
    )


@pytest.fixture(scope="session")
def prepared(provider, demo_city, tmp_path_factory) -> dict:
    """Inputs that other algorithms make: a RAW model file and a region embedding."""
    import processing

    root = tmp_path_factory.mktemp("gui-prepared")
    raw = processing.run(
        "urbansig:pooltrajectoriesraw",
        {
            "TRAJECTORIES": demo_city["TRAJECTORIES"],
            "REGIONS": demo_city["REGIONS"],
            "EPOCHS": 1,
            "OUTPUT": str(root / "raw.gpkg"),
            "MODEL_FILE": str(root / "raw.pt"),
        },
    )
    embedded = processing.run(
        "urbansig:embedregionsflows",
        {
            "REGIONS": demo_city["REGIONS"],
            "ID_FIELD": "region_id",
            "OD": [demo_city["OD_FLOWS"]],
            "EPOCHS": 50,
            "OUTPUT": str(root / "embedded.gpkg"),
        },
    )
    return {"RAW_MODEL": raw["MODEL_FILE"], "EMBEDDED": embedded["OUTPUT"]}


@pytest.fixture()
def project_layers(provider, demo_city, prepared):
    """The demo city's layers in the project, as a user has them when opening a dialog."""
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    project = QgsProject.instance()
    project.clear()
    layers = {}
    for key in ("TILES", "REGIONS", "POIS", "STREETVIEW"):
        layers[key] = QgsVectorLayer(demo_city[key], f"demo {key.lower()}", "ogr")
    layers["EMBEDDED"] = QgsVectorLayer(prepared["EMBEDDED"], "embedded regions", "ogr")
    od_uri = f"file://{demo_city['OD_FLOWS']}?type=csv&geomType=none"
    layers["OD"] = QgsVectorLayer(od_uri, "od flows", "delimitedtext")
    layers["REMOTE_SENSING"] = QgsRasterLayer(demo_city["REMOTE_SENSING"], "remote sensing")
    for name, layer in layers.items():
        assert layer.isValid(), name
        project.addMapLayer(layer)
    yield layers
    project.clear()
