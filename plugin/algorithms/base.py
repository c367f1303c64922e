"""Shared base of the provider's algorithms: names, help, device/seed, running a backend job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..runner import backend_status, make_spec, run_job

ICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "urbansig.svg"
DEVICES = ["auto", "cpu", "cuda"]


def help_html(
    summary: str,
    parameters: dict[str, str],
    outputs: dict[str, str],
    paper: str = "",
    example: str = "",
) -> str:
    """Help text: what it does, the paper, each parameter and output, a qgis_process example."""
    parts = [f"<p>{summary}</p>"]
    if paper:
        parts.append(f"<p><b>Method:</b> {paper}</p>")
    parts.append("<h3>Parameters</h3><ul>")
    parts += [f"<li><b>{k}</b>: {v}</li>" for k, v in parameters.items()]
    parts.append("</ul><h3>Outputs</h3><ul>")
    parts += [f"<li><b>{k}</b>: {v}</li>" for k, v in outputs.items()]
    parts.append("</ul>")
    if example:
        parts.append(f"<h3>Example</h3><pre>{example}</pre>")
    return "".join(parts)


class UrbanSigAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set the class attributes and implement initAlgorithm/processAlgorithm."""

    alg_id = ""
    title = ""
    group_name = ""
    group_key = ""
    task = ""  # the backend job; empty for algorithms that need no backend
    help = ""

    def name(self) -> str:
        return self.alg_id

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.title)

    def group(self) -> str:
        return self.tr(self.group_name)

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.group_key

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return self.help

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("UrbanSignatures", text)

    def createInstance(self):  # noqa: N802 - QGIS API
        return type(self)()

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS API
        if not self.task:
            return True, ""
        return backend_status()

    def add_device_and_seed(self) -> None:
        """The DEVICE (auto|cpu|cuda) and SEED parameters every model algorithm shares."""
        device = QgsProcessingParameterEnum(
            "DEVICE", self.tr("Device"), options=DEVICES, defaultValue=0
        )
        seed = QgsProcessingParameterNumber(
            "SEED", self.tr("Random seed"), QgsProcessingParameterNumber.Integer, 0, minValue=0
        )
        for parameter in (device, seed):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)

    def run_backend(
        self,
        inputs: dict[str, Any],
        params: dict[str, Any],
        outputs: dict[str, str],
        parameters: dict,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run this algorithm's backend task; returns the result (``outputs``, ``metrics``)."""
        device, seed = "auto", 0
        if self.parameterDefinition("DEVICE") is not None:
            device = DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)]
            seed = self.parameterAsInt(parameters, "SEED", context)
        spec = make_spec(self.task, inputs, params, outputs, device, seed)
        return run_job(spec, feedback)
