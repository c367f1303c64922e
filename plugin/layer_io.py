"""QGIS layers <-> files the backend reads and writes."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingFeedback

# Formats the backend reads directly; anything else (memory layers, WFS, ...) is exported.
BACKEND_VECTOR_FORMATS = ["gpkg", "geojson", "shp", "fgb"]


def source_for_backend(
    alg: QgsProcessingAlgorithm,
    parameters: dict,
    name: str,
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> str | None:
    """A path the backend can read for a feature-source parameter (``path|layername=x``).

    File layers without a selection or filter are passed as they are; others are exported
    to a temporary GeoPackage by Processing. None when the parameter is empty.
    """
    if parameters.get(name) in (None, ""):
        return None
    path, layer = alg.parameterAsCompatibleSourceLayerPathAndLayerName(
        parameters, name, context, BACKEND_VECTOR_FORMATS, "gpkg", feedback
    )
    if not path:
        return None
    return f"{path}|layername={layer}" if layer else path
