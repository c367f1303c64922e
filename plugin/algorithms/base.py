"""Shared base of the provider's algorithms: names, help, device/seed, running a backend job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..runner import QgsProcessingException, backend_status, make_spec, run_job
from ..styles import StyleSpec, style_output
from .params import OUTPUT_KINDS, backend_value, make_parameter

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


@dataclass(frozen=True)
class ResultLayer:
    """A layer the backend writes besides the destination parameters (e.g. a demo city's)."""

    name: str  # QGIS output name
    key: str  # key in the backend result's outputs
    label: str
    style: StyleSpec | None = None


@dataclass(frozen=True)
class ResultFile:
    """A file or folder the backend writes besides the destinations (for chaining)."""

    name: str
    key: str
    label: str
    folder: bool = False


class UrbanSigAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set the class attributes; table-driven ones need no other code.

    ``table`` is the task's parameter table (declared once, in the backend); ``uses_device`` adds DEVICE and
    SEED; ``result_layers`` are extra layers from the backend result, loaded and styled.
    """

    alg_id = ""
    title = ""
    group_name = ""
    group_key = ""
    task = ""  # the backend job; empty for algorithms that need no backend
    help = ""
    table: tuple[Any, ...] = ()  # the backend task's parameters (parameter_tables)
    styles: dict[str, StyleSpec] = {}  # output parameter name -> style of its layer
    uses_device = True
    result_layers: tuple[ResultLayer, ...] = ()
    result_files: tuple[ResultFile, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # groups of parameters of which exactly one is given

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

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS API
        for p in self.table:
            self.addParameter(make_parameter(self, p))
        if self.uses_device:
            self.add_device_and_seed()
        for layer in self.result_layers:
            self.addOutput(QgsProcessingOutputVectorLayer(layer.name, self.tr(layer.label)))
        for item in self.result_files:
            output_class = QgsProcessingOutputFolder if item.folder else QgsProcessingOutputFile
            self.addOutput(output_class(item.name, self.tr(item.label)))
        self.addOutput(QgsProcessingOutputString("METRICS", self.tr("Metrics (JSON)")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        sections: dict[str, dict[str, Any]] = {"inputs": {}, "params": {}, "outputs": {}}
        for p in self.table:
            value = backend_value(self, p, parameters, context, feedback)
            if value is not None:
                sections[p.section][p.key] = value
        self.validate_sections(sections, parameters, context)
        result = self.run_backend(
            sections["inputs"],
            sections["params"],
            sections["outputs"],
            parameters,
            context,
            feedback,
        )
        return self.collect_outputs(result, sections["outputs"], context, feedback)

    def validate_sections(self, sections: dict, parameters: dict, context) -> None:
        """Checks that need several parameters at once (raise QgsProcessingException)."""
        for group in self.one_of:
            given = [name for name in group if parameters.get(name) not in (None, "")]
            if len(given) != 1:
                raise QgsProcessingException(
                    f"Give exactly one of {', '.join(group)}"
                    + (f" (got {', '.join(given)})." if given else ".")
                )

    def collect_outputs(self, result: dict, outputs: dict, context, feedback) -> dict:
        """Style destination layers, load extra result layers, return the outputs."""
        collected: dict[str, Any] = {}
        for p in self.table:
            path = outputs.get(p.key) if p.kind in OUTPUT_KINDS else None
            if path:
                if p.name in self.styles:
                    style_output(path, self.styles[p.name], context, feedback)
                collected[p.name] = path
        produced = result.get("outputs", {})
        for layer in self.result_layers:
            path = produced.get(layer.key)
            if not path:
                continue
            if context.project() is not None:
                details = QgsProcessingContext.LayerDetails(
                    layer.label, context.project(), layer.name
                )
                context.addLayerToLoadOnCompletion(path, details)
            if layer.style is not None:
                style_output(path, layer.style, context, feedback)
            collected[layer.name] = path
        for item in self.result_files:
            if produced.get(item.key):
                collected[item.name] = produced[item.key]
        collected["METRICS"] = json.dumps(result.get("metrics", {}), default=str)
        return collected

    def add_device_and_seed(self) -> None:
        """The DEVICE (auto|cpu|cuda) and SEED parameters every model algorithm shares."""
        device = QgsProcessingParameterEnum(
            "DEVICE", self.tr("Device"), options=DEVICES, defaultValue=0
        )
        seed = QgsProcessingParameterNumber(
            "SEED", self.tr("Random seed"), QgsProcessingParameterNumber.Type.Integer, 0, minValue=0
        )
        for parameter in (device, seed):
            parameter.setFlags(
                parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced
            )
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
