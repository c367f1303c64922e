"""Shared base of the provider's algorithms: names, help, device/seed, running a backend job."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication, QThread
from qgis.PyQt.QtGui import QIcon

from ..runner import QgsProcessingException, backend_status, make_spec, run_job
from ..styles import StyleSpec, style_output
from .help_text import (
    DEVICE_AND_SEED_HELP,
    Help,
    heading_anchor,
    help_html,
    homepage,
    in_qgis_process,
)
from .params import INPUT_KINDS, OUTPUT_KINDS, backend_value, make_parameter

ICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "urbansig.svg"
DEVICES = ["auto", "cpu", "cuda"]
SUBJECT_SEPARATOR = " \u2013 "  # "Clusters – tiles": what it is, then what it was made from


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
    help = Help("", (), ())  # the help content (see help_html)
    table: tuple[Any, ...] = ()  # the backend task's parameters (parameter_tables)
    styles: dict[str, StyleSpec] = {}  # output parameter name -> style of its layer
    uses_device = True
    result_layers: tuple[ResultLayer, ...] = ()
    result_files: tuple[ResultFile, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # groups of parameters of which exactly one is given
    # output parameter -> the name of its layer on the map, before " – <input>" (default: the
    # output's label)
    layer_labels: dict[str, str] = {}
    # parameters whose value names a run ("<input>" above, the reports' titles), the first
    # given wins (default: the input layers, files and folders in table order)
    main_inputs: tuple[str, ...] = ()

    # per run (see processAlgorithm); _origin: the instance this one was created from
    _subject = ""
    _in_task = False
    _origin: UrbanSigAlgorithm | None = None

    def name(self) -> str:
        return self.alg_id

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.tr(self.title)

    def group(self) -> str:
        return self.tr(self.group_name)

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.group_key

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """HTML in the dialog; plain text under qgis_process, which prints it raw."""
        content = self.help
        if all(self.parameterDefinition(name) is not None for name in ("DEVICE", "SEED")):
            known = {item.key for item in content.parameters}
            extra = tuple(item for item in DEVICE_AND_SEED_HELP if item.key not in known)
            content = replace(content, parameters=content.parameters + extra)
        if in_qgis_process():
            return help_html(content, plain=True, url=self.helpUrl())
        return help_html(content)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        """The algorithm's section of the README on the project homepage (the Help button)."""
        site = homepage()
        return f"{site}#{heading_anchor(self.title)}" if site and self.title else ""

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("UrbanSignatures", text)

    def createInstance(self):  # noqa: N802 - QGIS API
        clone = type(self)()
        clone._origin = self  # a dialog's algorithm: it lists its HTML outputs by their names
        return clone

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
        self._subject = self.run_subject(parameters, context)
        application = QCoreApplication.instance()
        # the dialog runs algorithms in a task (a worker thread); batch runs, processing.run
        # and qgis_process on the main thread
        self._in_task = application is not None and QThread.currentThread() != application.thread()
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

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API
        """On the main thread after a run: name this run's reports in the Results Viewer.

        QGIS 3.22's algorithm dialog adds each HTML output to the Results Viewer under the
        output's description, read from the dialog's algorithm (the one this run was created
        from) right after this call: so the dialog's outputs get this run's names, e.g.
        "Clustering report – tiles". Batch runs keep the plain labels ("Clustering report"):
        the batch dialog names all its runs' reports after they all ran, from one description.
        """
        if self._in_task and self._origin is not None:
            self.name_reports(self._origin)
        return {}

    def run_subject(self, parameters: dict, context: QgsProcessingContext) -> str:
        """What the run is made from, as the user names it: the first given of main_inputs
        (a layer's name, a file's stem, a folder's name, a text); "" when none is given."""
        names = self.main_inputs or tuple(p.name for p in self.table if p.kind in INPUT_KINDS)
        for name in names:
            definition = self.parameterDefinition(name)
            if definition is None or parameters.get(name) in (None, "", []):
                continue
            text = ""
            if isinstance(definition, QgsProcessingParameterMultipleLayers):
                layers = self.parameterAsLayerList(parameters, name, context)
                text = layers[0].name() if layers else ""
            elif isinstance(definition, QgsProcessingParameterFile):
                path = Path(self.parameterAsFile(parameters, name, context))
                folder = definition.behavior() == QgsProcessingParameterFile.Behavior.Folder
                text = path.name if folder else path.stem
            elif isinstance(definition, QgsProcessingParameterString):
                text = self.parameterAsString(parameters, name, context)
            else:
                layer = self.parameterAsLayer(parameters, name, context)
                text = layer.name() if layer is not None else ""
            if text.strip():
                return text.strip()
        return ""

    def run_name(self, label: str) -> str:
        """``label`` followed by this run's subject: "Clusters – tiles"."""
        return f"{label}{SUBJECT_SEPARATOR}{self._subject}" if self._subject else label

    def name_reports(self, algorithm: QgsProcessingAlgorithm) -> None:
        """Set the descriptions of ``algorithm``'s HTML outputs to this run's report names."""
        for p in self.table:
            if p.kind != "file_out" or "htm" not in p.file_filter.lower():
                continue
            try:
                output = algorithm.outputDefinition(p.name)
                if output is not None:
                    output.setDescription(self.run_name(self.tr(p.label)))
            except RuntimeError:  # the dialog (and its algorithm) closed during the run
                return

    def name_on_load(self, path: str, label: str, context: QgsProcessingContext) -> None:
        """The layer Processing loads from ``path`` when the run completes (a temporary
        output or a file) is named ``run_name(label)``, whatever the file is called."""
        if context.willLoadLayerOnCompletion(path):
            details = context.layerToLoadOnCompletionDetails(path)
            details.name = self.run_name(label)
            details.forceName = True

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
                if p.kind == "vector_out":
                    label = self.layer_labels.get(p.name) or p.label
                    self.name_on_load(path, self.tr(label), context)
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
                    self.run_name(self.tr(layer.label)), context.project(), layer.name
                )
                details.forceName = True
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
        spec = make_spec(self.task, inputs, params, outputs, device, seed, self._subject)
        return run_job(spec, feedback)
