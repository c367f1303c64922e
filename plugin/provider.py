"""The Processing provider ``urbansig``: lists the algorithms and holds the settings."""

from __future__ import annotations

import configparser
from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import backend_env
from .algorithms.backend_diagnostics import BackendDiagnostics
from .algorithms.base import ICON
from .algorithms.cluster_traffic_tiles import ClusterTrafficTiles
from .algorithms.create_h3_grid import CreateH3Grid
from .algorithms.embed_regions_flows import EmbedRegionsFlows
from .algorithms.embed_regions_musecl import EmbedRegionsMuseCL
from .algorithms.generate_demo_city import GenerateDemoCity
from .algorithms.pool_trajectories_raw import ApplyRawModel, PoolTrajectoriesRaw
from .algorithms.predict_indicator import PredictIndicator
from .algorithms.setup_backend import SetUpBackend
from .processing_compat import give_batch_reports_a_timestamp
from .settings import BACKEND_PYTHON, backend_python_setting

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
ALGORITHMS = (
    CreateH3Grid,
    GenerateDemoCity,
    ClusterTrafficTiles,
    EmbedRegionsMuseCL,
    EmbedRegionsFlows,
    PoolTrajectoriesRaw,
    ApplyRawModel,
    PredictIndicator,
    SetUpBackend,
    BackendDiagnostics,
)


def plugin_version() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(Path(__file__).resolve().parents[1] / "metadata.txt")
    return metadata.get("general", "version", fallback="unknown")


class UrbanSignaturesProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "urbansig"

    def name(self) -> str:
        return "Urban Signatures"

    def longName(self) -> str:  # noqa: N802 - QGIS API
        return f"Urban Signatures {plugin_version()}"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def versionInfo(self) -> str:  # noqa: N802 - QGIS API
        """Plugin version, and the backend's torch and device once known (never blocks long)."""
        try:
            python = backend_env.backend_python(backend_python_setting())
            info = backend_env.backend_info(python)
            backend = f"torch {info.get('torch', 'missing')} on {info.get('device', '?')}"
        except backend_env.BackendEnvError:
            backend = "backend not set up"
        return f"{plugin_version()} ({backend})"

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 - QGIS API
        return ["gpkg"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802, N803
        return "gpkg"

    def load(self) -> bool:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting

            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(
                Setting(
                    self.name(),
                    BACKEND_PYTHON,
                    "Backend Python interpreter (empty: the environment made by 'Set up "
                    f"backend environment'; the variable {backend_env.ENV_VARIABLE} wins)",
                    "",
                    valuetype=Setting.FILE,
                )
            )
            ProcessingConfig.readSettings()
        except ImportError:
            pass
        give_batch_reports_a_timestamp()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.removeSetting(BACKEND_PYTHON)
        except ImportError:
            pass

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
        for model in shipped_models():
            self.addAlgorithm(model)


def shipped_models() -> list:
    """The .model3 chains shipped in resources/models, as toolbox algorithms."""
    from qgis.core import QgsProcessingModelAlgorithm

    models = []
    for path in sorted(MODELS.glob("*.model3")):
        model = QgsProcessingModelAlgorithm()
        if model.fromFile(str(path)):
            models.append(model)
    return models
