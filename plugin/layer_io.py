"""QGIS layers <-> files the backend reads and writes."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingFeedback

# Formats the backend reads directly; anything else (memory layers, WFS, ...) is exported.
BACKEND_VECTOR_FORMATS = ["gpkg", "geojson", "shp", "fgb", "csv"]


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


def destination_for_backend(destination: str, context: QgsProcessingContext) -> str | None:
    """A vector destination as the backend writes it: ``file.gpkg`` or ``file|layername=x``.

    The dialog's "Save to GeoPackage..." gives ``ogr:dbname='file.gpkg' table="x" (geom)``:
    the layer x is added to (or replaced in) that GeoPackage, and the layer QGIS loads on
    completion is pointed at it.
    """
    if not destination:
        return None
    if not destination.startswith("ogr:"):
        return destination
    from qgis.core import QgsDataSourceUri

    uri = QgsDataSourceUri(destination[len("ogr:") :])
    if not uri.database():
        return destination
    path = f"{uri.database()}|layername={uri.table()}" if uri.table() else uri.database()
    loads = context.layersToLoadOnCompletion()
    if destination in loads:
        loads[path] = loads.pop(destination)
        context.setLayersToLoadOnCompletion(loads)
    return path


def sources_for_backend(
    alg: QgsProcessingAlgorithm,
    parameters: dict,
    name: str,
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> list[str]:
    """Paths the backend can read for a multiple-layers parameter, in the order given.

    OGR file layers without a filter are passed as they are; other layers (delimited text,
    memory, databases, filtered) are exported to temporary GeoPackages.
    """
    paths = []
    for layer in alg.parameterAsLayerList(parameters, name, context):
        paths.append(_file_source(layer) or _exported(layer, context, feedback))
    return paths


def _file_source(layer) -> str | None:
    from qgis.core import QgsProviderRegistry

    if layer.providerType() != "ogr" or layer.subsetString():
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path")
    if not path or parts.get("layerId") is not None:
        return None
    layer_name = parts.get("layerName")
    return f"{path}|layername={layer_name}" if layer_name else path


def _exported(layer, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> str:
    from qgis.core import (  # type: ignore[attr-defined]  # 3.22 stubs lack it
        QgsProcessingException,
        QgsProcessingUtils,
        QgsVectorFileWriter,
    )

    target = QgsProcessingUtils.generateTempFilename(f"{layer.name() or 'layer'}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, target, context.transformContext(), options
    )
    if error != QgsVectorFileWriter.WriterError.NoError:
        raise QgsProcessingException(f"Cannot export layer {layer.name()}: {message}")
    if feedback is not None:
        feedback.pushInfo(f"Exported {layer.name()} to {target} for the backend.")
    return target
