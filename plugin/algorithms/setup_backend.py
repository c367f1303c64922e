"""Set up backend environment: a virtual environment with the backend's pinned packages."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from .. import backend_env
from ..runner import QgsProcessingException
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import HelpEntry


class SetUpBackend(UrbanSigAlgorithm):
    alg_id = "setupbackend"
    title = "Set up backend environment"
    group_name = "Setup"
    group_key = "setup"
    help = Help(
        "Creates (or repairs, or updates) the Python environment the Urban Signatures "
        "algorithms run in: a virtual environment outside QGIS's own Python with pinned "
        "torch, numpy, geopandas, h3, shapely, scikit-learn, gensim and rasterio. Safe to "
        "re-run: an up-to-date environment is left as it is. Needs a python3 with venv on "
        "PATH and, unless a wheel folder is given, access to the package index (about 1.6 GB "
        "with the CPU build of torch, more with CUDA).",
        (
            HelpEntry(
                "TORCH",
                "auto: a CUDA build when an NVIDIA GPU is found, else CPU",
                backend_env.TORCH_FLAVOURS[0],
                f"0 = {backend_env.TORCH_FLAVOURS[0]}",
            ),
            HelpEntry(
                "VENV_DIR",
                "where to create it: a new or empty folder, or an existing Urban Signatures "
                "backend environment (to update or repair it); other folders are refused",
                str(backend_env.default_venv_dir()),
            ),
            HelpEntry("WHEEL_DIR", "install offline from this folder of wheels"),
            HelpEntry(
                "TORCH_INDEX_URL",
                "package index for torch, e.g. https://download.pytorch.org/whl/cpu for the "
                "small CPU-only build",
            ),
            HelpEntry(
                "FORCE", "reinstall even if the environment is up to date", "unchecked", "false"
            ),
        ),
        (HelpEntry("PYTHON", "the backend interpreter (also stored in the provider settings)"),),
        example="qgis_process run urbansig:setupbackend -- TORCH=1",
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(
            QgsProcessingParameterEnum(
                "TORCH",
                self.tr("PyTorch build"),
                options=list(backend_env.TORCH_FLAVOURS),
                defaultValue=0,
            )
        )
        self.addParameter(  # a destination: the folder may not exist yet
            QgsProcessingParameterFolderDestination(
                "VENV_DIR",
                self.tr("Environment folder"),
                defaultValue=str(backend_env.default_venv_dir()),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "WHEEL_DIR",
                self.tr("Offline wheel folder"),
                behavior=QgsProcessingParameterFile.Behavior.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "TORCH_INDEX_URL", self.tr("Index URL for torch"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean("FORCE", self.tr("Reinstall everything"), False)
        )
        self.addOutput(QgsProcessingOutputString("PYTHON", self.tr("Backend interpreter")))

    def checkParameterValues(self, parameters, context):  # noqa: N802 - QGIS API
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            try:
                _check_venv_dir(self._venv_dir(parameters, context), parameters.get("VENV_DIR"))
            except backend_env.BackendEnvError as exc:
                return False, str(exc)
        return ok, message

    def _venv_dir(self, parameters, context) -> Path:
        folder = self.parameterAsFileOutput(parameters, "VENV_DIR", context)
        return Path(folder or backend_env.default_venv_dir()).expanduser().resolve()

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        venv = self._venv_dir(parameters, context)
        wheels = self.parameterAsFile(parameters, "WHEEL_DIR", context) or None
        try:
            python = backend_env.setup_environment(
                venv,
                backend_env.TORCH_FLAVOURS[self.parameterAsEnum(parameters, "TORCH", context)],
                Path(wheels) if wheels else None,
                self.parameterAsString(parameters, "TORCH_INDEX_URL", context) or None,
                self.parameterAsBool(parameters, "FORCE", context),
                log=feedback.pushInfo,
                progress=lambda f: feedback.setProgress(100.0 * f),
                feedback=feedback,
                warn=feedback.pushWarning,
                venv_label=VENV_LABEL,
            )
        except backend_env.BackendEnvError as exc:
            raise QgsProcessingException(str(exc)) from exc
        _store_setting(str(python))
        return {"PYTHON": str(python), "VENV_DIR": str(venv)}


VENV_LABEL = "Environment folder (VENV_DIR)"


def _check_venv_dir(venv: Path, given: object) -> None:
    """backend_env's check, and no temporary folder (Processing deletes those)."""
    temporary = Path(QgsProcessingUtils.tempFolder()).resolve()
    if given == "TEMPORARY_OUTPUT" or temporary in venv.parents:
        raise backend_env.BackendEnvError(
            f"{VENV_LABEL}: a temporary folder is deleted when QGIS closes; choose a folder."
        )
    backend_env.check_venv_dir(venv, VENV_LABEL)


def _store_setting(python: str) -> None:
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        from ..settings import BACKEND_PYTHON

        ProcessingConfig.setSettingValue(BACKEND_PYTHON, python)
    except ImportError:
        pass
