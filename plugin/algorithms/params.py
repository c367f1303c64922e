"""QGIS parameters from the backend's parameter tables: each table row gives the dialog's
widget, its help and its place in the job spec, so every algorithm translates the same way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..layer_io import destination_for_backend, source_for_backend, sources_for_backend
from ..parameter_tables import tables

GEOMETRY_TYPES = {
    "polygon": QgsProcessing.SourceType.TypeVectorPolygon,
    "point": QgsProcessing.SourceType.TypeVectorPoint,
    "any": QgsProcessing.SourceType.TypeVectorAnyGeometry,
    "table": QgsProcessing.SourceType.TypeVector,  # with or without geometry
}
INPUT_KINDS: tuple[str, ...] = tables().INPUT_KINDS  # declared once, in the backend's tables
OUTPUT_KINDS: tuple[str, ...] = tables().OUTPUT_KINDS
# Unbounded numbers: the dialog's integer spin box is 32-bit, so a wider bound wraps round
# to -2147483648 and freezes the field.
NUMBER_LIMITS = {"int": 2**31 - 1, "float": 1e12}


def make_parameter(alg: QgsProcessingAlgorithm, p: Any) -> QgsProcessingParameterDefinition:
    """The QGIS parameter for ``p`` (a backend ``urbansig.parameters.Parameter``)."""
    label = QCoreApplication.translate("UrbanSignatures", p.label)
    kind = p.kind
    parameter: QgsProcessingParameterDefinition
    if kind == "vector":
        parameter = QgsProcessingParameterVectorLayer(
            name=p.name, description=label, types=[GEOMETRY_TYPES[p.geometry]], optional=p.optional
        )
    elif kind == "layers":
        parameter = QgsProcessingParameterMultipleLayers(
            p.name, label, QgsProcessing.SourceType.TypeVector, optional=p.optional
        )
    elif kind == "raster":
        parameter = QgsProcessingParameterRasterLayer(p.name, label, optional=p.optional)
    elif kind in ("field", "fields"):
        parameter = QgsProcessingParameterField(
            p.name,
            label,
            defaultValue=p.default,
            parentLayerParameterName=p.parent,
            type=QgsProcessingParameterField.DataType.Numeric
            if p.numeric
            else QgsProcessingParameterField.DataType.Any,
            allowMultiple=kind == "fields",
            optional=p.optional,
        )
    elif kind == "enum":
        parameter = QgsProcessingParameterEnum(
            p.name,
            label,
            options=[QCoreApplication.translate("UrbanSignatures", text) for text in p.labels],
            defaultValue=p.choices.index(p.default),
            optional=p.optional,
        )
    elif kind == "extent":
        parameter = QgsProcessingParameterExtent(p.name, label, optional=p.optional)
    elif kind in ("int", "float"):
        number_type = (
            QgsProcessingParameterNumber.Type.Integer
            if kind == "int"
            else QgsProcessingParameterNumber.Type.Double
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
            QgsProcessingParameterFile.Behavior.File
            if kind == "file"
            else QgsProcessingParameterFile.Behavior.Folder
        )
        parameter = QgsProcessingParameterFile(
            p.name, label, behavior=behavior, fileFilter=p.file_filter, optional=p.optional
        )
    elif kind == "vector_out":
        parameter = QgsProcessingParameterVectorDestination(
            p.name,
            label,
            type=GEOMETRY_TYPES[p.geometry],
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
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    return parameter


def backend_value(
    alg: QgsProcessingAlgorithm,
    p: Any,
    parameters: dict,
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> Any:
    """The value of ``p`` as the backend expects it (paths, strings, numbers), or None."""
    kind = p.kind
    if kind == "vector":
        return source_for_backend(alg, parameters, p.name, context, feedback)
    # Omitted means the declared default, exactly as if it were given: the parameterAs*
    # calls below fall back to the definition's default, so the job spec is the same.
    omitted = parameters.get(p.name) is None and p.optional and kind not in OUTPUT_KINDS
    if omitted and p.default is None:
        return None
    if kind == "layers":
        return sources_for_backend(alg, parameters, p.name, context, feedback) or None
    if kind == "raster":
        layer = alg.parameterAsRasterLayer(parameters, p.name, context)
        return layer.source() if layer is not None else None
    if kind == "field":
        fields = alg.parameterAsFields(parameters, p.name, context)
        return fields[0] if fields else None
    if kind == "fields":  # cleared on purpose: "" (no fields), not the default
        fields = alg.parameterAsFields(parameters, p.name, context)
        return ",".join(fields) if fields else ("" if p.default else None)
    if kind == "enum":
        return p.choices[alg.parameterAsEnum(parameters, p.name, context)]
    if kind == "extent":
        return extent_text(alg, parameters, p.name, context)
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
        destination = alg.parameterAsOutputLayer(parameters, p.name, context)
        return destination_for_backend(destination, context)
    if kind == "file_out":
        return alg.parameterAsFileOutput(parameters, p.name, context) or None
    if kind == "folder_out":
        return alg.parameterAsString(parameters, p.name, context) or None
    raise ValueError(f"unknown parameter kind {kind!r}")


def extent_text(
    alg: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext
) -> str | None:
    """An extent as the backend reads it: 'xmin,ymin,xmax,ymax [CRS]'."""
    if parameters.get(name) in (None, ""):
        return None
    extent = alg.parameterAsExtent(parameters, name, context)
    crs = alg.parameterAsExtentCrs(parameters, name, context)
    corners = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
    authid = (crs.authid() or crs.toWkt()) if crs.isValid() else "EPSG:4326"
    return ",".join(repr(v) for v in corners) + f" [{authid}]"


@dataclass(frozen=True)
class HelpEntry:
    """One parameter or output in an algorithm's help (rendered by help_text.help_html).

    ``default`` is the default as the dialog shows it (a choice's label, checked/unchecked);
    ``default_cli`` as qgis_process takes it (a choice's index, true/false), when different.
    """

    key: str  # "Label [NAME]" (table-driven algorithms) or "NAME"
    text: str = ""
    default: str = ""
    default_cli: str = ""


def help_table(table: tuple[Any, ...]) -> tuple[tuple[HelpEntry, ...], tuple[HelpEntry, ...]]:
    """(parameters, outputs) help entries for base.Help: each under the label the dialog
    shows (the qgis_process name beside it), with its default in readable form."""
    inputs = tuple(_help_text(p) for p in table if p.kind not in OUTPUT_KINDS)
    outputs = tuple(_help_text(p) for p in table if p.kind in OUTPUT_KINDS)
    return inputs, outputs


def _help_key(p: Any) -> str:
    """'Label [NAME]': what the dialog shows, then the name qgis_process takes."""
    return f"{p.label} [{p.name}]"


def _help_text(p: Any) -> HelpEntry:
    """The entry of ``p``: its help (nothing when it has none: the label says it) and its
    default, for the dialog and for qgis_process."""
    entry = HelpEntry(_help_key(p), p.help)
    if p.default in (None, "") or p.kind in OUTPUT_KINDS:
        return entry
    if p.kind == "enum":
        index = p.choices.index(p.default)
        label = p.labels[index]
        return replace(entry, default=label, default_cli=f"{index} = {label}")
    if p.kind == "bool":
        checked = bool(p.default)
        return replace(
            entry,
            default="checked" if checked else "unchecked",
            default_cli="true" if checked else "false",
        )
    return replace(entry, default=str(p.default))
