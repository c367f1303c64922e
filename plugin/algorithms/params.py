"""Declarative algorithm parameters: one table gives the QGIS parameter, its help and its
place in the backend job spec, so every algorithm translates parameters the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from ..layer_io import source_for_backend
from ..styles import StyleSpec

POLYGONS = QgsProcessing.TypeVectorPolygon
POINTS = QgsProcessing.TypeVectorPoint
ANY_VECTOR = QgsProcessing.TypeVectorAnyGeometry
OUTPUT_KINDS = ("vector_out", "file_out", "folder_out")
MODEL_FILTER = "Urban Signatures model (*.pt)"
HTML_FILTER = "HTML files (*.html)"
# Unbounded numbers: the dialog's integer spin box is 32-bit, so a wider bound wraps round
# to -2147483648 and freezes the field.
NUMBER_LIMITS = {"int": 2**31 - 1, "float": 1e12}


@dataclass(frozen=True)
class Param:
    """One algorithm parameter.

    kind: vector (a layer given to the backend as a file), raster, field, fields, enum, int,
    float, bool, string, file, folder, vector_out, file_out, folder_out.
    backend: ``section.name`` in the job spec (default ``params.<name lower>``; inputs and
    outputs by kind); empty string with ``local=True`` keeps it on the QGIS side.
    """

    name: str
    label: str
    kind: str
    help: str
    backend: str | None = None
    default: Any = None
    optional: bool = False
    advanced: bool = False
    options: tuple[str, ...] = ()
    parent: str = ""
    geometry: int = ANY_VECTOR
    numeric: bool = False
    minimum: float | None = None
    maximum: float | None = None
    file_filter: str = ""
    style: StyleSpec | None = None

    @property
    def target(self) -> tuple[str, str]:
        if self.backend:
            section, _, key = self.backend.partition(".")
            return section, key
        if self.kind in OUTPUT_KINDS:
            return "outputs", self.name.lower()
        if self.kind in ("vector", "raster", "file", "folder"):
            return "inputs", self.name.lower()
        return "params", self.name.lower()


def make_parameter(alg: QgsProcessingAlgorithm, p: Param) -> QgsProcessingParameterDefinition:
    """The QGIS parameter for ``p``."""
    label = alg.tr(p.label)
    kind = p.kind
    if kind == "vector":
        parameter = QgsProcessingParameterVectorLayer(
            name=p.name, description=label, types=[p.geometry], optional=p.optional
        )
    elif kind == "raster":
        parameter = QgsProcessingParameterRasterLayer(p.name, label, optional=p.optional)
    elif kind in ("field", "fields"):
        parameter = QgsProcessingParameterField(
            p.name,
            label,
            defaultValue=p.default,
            parentLayerParameterName=p.parent,
            type=QgsProcessingParameterField.Numeric
            if p.numeric
            else QgsProcessingParameterField.Any,
            allowMultiple=kind == "fields",
            optional=p.optional,
        )
    elif kind == "enum":
        default = p.options.index(p.default) if p.default in p.options else 0
        parameter = QgsProcessingParameterEnum(
            p.name, label, options=list(p.options), defaultValue=default, optional=p.optional
        )
    elif kind in ("int", "float"):
        number_type = (
            QgsProcessingParameterNumber.Integer
            if kind == "int"
            else QgsProcessingParameterNumber.Double
        )
        parameter = QgsProcessingParameterNumber(
            p.name,
            label,
            number_type,
            defaultValue=p.default,
            optional=p.optional,
            minValue=-NUMBER_LIMITS[kind] if p.minimum is None else p.minimum,
            maxValue=NUMBER_LIMITS[kind] if p.maximum is None else p.maximum,
        )
    elif kind == "bool":
        parameter = QgsProcessingParameterBoolean(p.name, label, bool(p.default), p.optional)
    elif kind == "string":
        parameter = QgsProcessingParameterString(p.name, label, p.default, optional=p.optional)
    elif kind in ("file", "folder"):
        behavior = (
            QgsProcessingParameterFile.File if kind == "file" else QgsProcessingParameterFile.Folder
        )
        parameter = QgsProcessingParameterFile(
            p.name, label, behavior=behavior, fileFilter=p.file_filter, optional=p.optional
        )
    elif kind == "vector_out":
        parameter = QgsProcessingParameterVectorDestination(
            p.name,
            label,
            type=p.geometry,
            optional=p.optional,
            createByDefault=not p.optional,
        )
    elif kind == "file_out":
        parameter = QgsProcessingParameterFileDestination(
            p.name, label, p.file_filter, optional=p.optional, createByDefault=not p.optional
        )
    elif kind == "folder_out":
        parameter = QgsProcessingParameterFolderDestination(p.name, label, optional=p.optional)
    else:
        raise ValueError(f"unknown parameter kind {kind!r}")
    parameter.setHelp(p.help or p.label)
    if p.advanced:
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def backend_value(
    alg: QgsProcessingAlgorithm,
    p: Param,
    parameters: dict,
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> Any:
    """The value of ``p`` as the backend expects it (paths, strings, numbers), or None."""
    kind = p.kind
    if kind == "vector":
        return source_for_backend(alg, parameters, p.name, context, feedback)
    if parameters.get(p.name) is None and p.optional and kind not in OUTPUT_KINDS:
        return None
    if kind == "raster":
        layer = alg.parameterAsRasterLayer(parameters, p.name, context)
        return layer.source() if layer is not None else None
    if kind == "field":
        fields = alg.parameterAsFields(parameters, p.name, context)
        return fields[0] if fields else None
    if kind == "fields":
        fields = alg.parameterAsFields(parameters, p.name, context)
        return ",".join(fields) if fields else None
    if kind == "enum":
        return p.options[alg.parameterAsEnum(parameters, p.name, context)]
    if kind == "int":
        return alg.parameterAsInt(parameters, p.name, context)
    if kind == "float":
        return alg.parameterAsDouble(parameters, p.name, context)
    if kind == "bool":
        return alg.parameterAsBool(parameters, p.name, context)
    if kind == "string":
        return alg.parameterAsString(parameters, p.name, context) or None
    if kind in ("file", "folder"):
        return alg.parameterAsFile(parameters, p.name, context) or None
    if kind == "vector_out":
        return alg.parameterAsOutputLayer(parameters, p.name, context) or None
    if kind == "file_out":
        return alg.parameterAsFileOutput(parameters, p.name, context) or None
    if kind == "folder_out":
        return alg.parameterAsString(parameters, p.name, context) or None
    raise ValueError(f"unknown parameter kind {kind!r}")


def help_table(table: tuple[Param, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """(parameters, outputs) help dictionaries for help_html."""
    inputs = {p.name: p.help or p.label for p in table if p.kind not in OUTPUT_KINDS}
    outputs = {p.name: p.help or p.label for p in table if p.kind in OUTPUT_KINDS}
    return inputs, outputs
