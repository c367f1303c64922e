"""Styles for result layers: built once, applied on load (post-processor) and embedded in GPKG."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsClassificationQuantile,
    QgsExpression,
    QgsFeatureRenderer,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsMarkerSymbol,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsSymbol,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from .columns import CLASS_PALETTE, NO_DATA_COLOUR

PALETTE = CLASS_PALETTE  # class k: PALETTE[k % 20], the same as in the reports' figures


@dataclass(frozen=True)
class StyleSpec:
    """How to draw a result layer: ``categorized`` / ``graduated`` on a field, or ``outline``."""

    kind: str
    field: str = ""
    ramp: str = "Viridis"
    classes: int = 7
    opacity: float = 0.85
    no_data_label: str = "No data"  # the category of features whose field is empty


def _base_symbol(layer: QgsVectorLayer, color: str) -> QgsSymbol:
    geometry = layer.geometryType()
    if geometry == QgsWkbTypes.GeometryType.PointGeometry:
        return QgsMarkerSymbol.createSimple({"color": color, "size": "2", "outline_style": "no"})
    return QgsFillSymbol.createSimple(
        {"color": color, "outline_color": "64,64,64,128", "outline_width": "0.1"}
    )


def _ramp(name: str):
    ramp = QgsStyle.defaultStyle().colorRamp(name)
    return ramp if ramp is not None else QgsGradientColorRamp(QColor("#440154"), QColor("#fde725"))


def build_renderer(layer: QgsVectorLayer, spec: StyleSpec) -> QgsFeatureRenderer:
    """A renderer for ``layer`` following ``spec`` (outline when the field is absent)."""
    index = layer.fields().indexOf(spec.field) if spec.field else -1
    if spec.kind == "categorized" and index >= 0:
        return _categorized(layer, spec, index)
    if spec.kind == "graduated" and index >= 0:
        renderer = QgsGraduatedSymbolRenderer(spec.field)
        renderer.setSourceSymbol(_base_symbol(layer, "#888888"))
        method = QgsClassificationQuantile()
        method.setLabelPrecision(label_decimals(layer, index, spec.classes))
        method.setLabelTrimTrailingZeroes(True)
        renderer.setClassificationMethod(method)
        renderer.updateClasses(layer, spec.classes)
        renderer.updateColorRamp(_ramp(spec.ramp))
        return renderer
    return QgsSingleSymbolRenderer(_base_symbol(layer, "62,166,160,110"))


def label_decimals(layer: QgsVectorLayer, index: int, classes: int) -> int:
    """Decimals for a graduated legend: three significant digits of a typical class width
    (population 400 - 2767, an embedding -0.412 - -0.118)."""
    low, high = layer.minimumValue(index), layer.maximumValue(index)
    try:
        width = (float(high) - float(low)) / max(classes, 1)
    except (TypeError, ValueError):
        return 2
    return 2 if width <= 0 else max(0, min(6, 2 - math.floor(math.log10(width))))


def _categorized(layer: QgsVectorLayer, spec: StyleSpec, index: int) -> QgsFeatureRenderer:
    """One category per value; whole-number classes take PALETTE[value] (the reports'
    colours); empty values get a labelled class of their own, never NULL = 0."""
    values = sorted(v for v in layer.uniqueValues(index) if not _is_null(v))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    whole = numeric and all(float(v).is_integer() and v >= 0 for v in values)
    categories = [
        QgsRendererCategory(
            v, _base_symbol(layer, PALETTE[(int(v) if whole else i) % len(PALETTE)]), str(v)
        )
        for i, v in enumerate(values)
    ]
    if not any(_is_null(v) for v in layer.uniqueValues(index)):
        return QgsCategorizedSymbolRenderer(spec.field, categories)
    # NULL cannot be a category (QGIS 3.22 matches it to 0): one rule per class instead
    field = QgsExpression.quotedColumnRef(spec.field)
    root = QgsRuleBasedRenderer.Rule(None)  # type: ignore[arg-type]  # the root has no symbol
    for category in categories:
        value = QgsExpression.quotedValue(category.value())
        rule = f"{field} = {value}"
        root.appendChild(
            QgsRuleBasedRenderer.Rule(category.symbol().clone(), 0, 0, rule, category.label())
        )
    no_data = _base_symbol(layer, NO_DATA_COLOUR)
    root.appendChild(
        QgsRuleBasedRenderer.Rule(no_data, 0, 0, f"{field} IS NULL", spec.no_data_label)
    )
    return QgsRuleBasedRenderer(root)


def _is_null(value: Any) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())


def apply_style(layer: QgsVectorLayer, spec: StyleSpec) -> None:
    if not layer.isSpatial():  # a plain table has nothing to draw
        return
    layer.setRenderer(build_renderer(layer, spec))
    layer.setOpacity(spec.opacity)
    layer.triggerRepaint()


def embed_style(path: str, spec: StyleSpec, name: str = "urbansig") -> str:
    """Save the style as the default in the GeoPackage itself; returns '' or an error."""
    if not path.lower().split("|")[0].endswith(".gpkg"):
        return "not a GeoPackage"
    layer = QgsVectorLayer(path, name, "ogr")
    if not layer.isValid():
        return f"cannot open {path}"
    apply_style(layer, spec)
    return layer.saveStyleToDatabase(name, "Urban Signatures style", True, "") or ""


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies a StyleSpec when Processing loads the layer; kept alive at class level."""

    _alive: ClassVar[list[StylePostProcessor]] = []

    def __init__(self, spec: StyleSpec) -> None:
        super().__init__()
        self.spec = spec

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 - QGIS API
        if isinstance(layer, QgsVectorLayer):
            apply_style(layer, self.spec)

    @classmethod
    def create(cls, spec: StyleSpec) -> StylePostProcessor:
        processor = cls(spec)
        cls._alive.append(processor)
        return processor


def style_output(path: str, spec: StyleSpec, context: QgsProcessingContext, feedback=None) -> None:
    """Embed the style in the output file and style it on load when Processing loads it."""
    problem = embed_style(path, spec)
    if problem and feedback is not None:
        feedback.pushDebugInfo(f"Style not embedded in {path}: {problem}")
    if context.willLoadLayerOnCompletion(path):
        details = context.layerToLoadOnCompletionDetails(path)
        details.setPostProcessor(StylePostProcessor.create(spec))
