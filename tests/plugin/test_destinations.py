"""Output destinations as the dialog gives them: a new GeoPackage layer, a temporary file."""

from __future__ import annotations

import pytest
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingUtils,
    QgsProject,
    QgsVectorLayer,
)


class _Feedback(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.errors.append(error)


EXTENT = "4.80,4.90,45.72,45.79 [EPSG:4326]"


def _run(provider, destination):
    alg = provider.algorithm("createh3grid").create()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    parameters = {"EXTENT": EXTENT, "RESOLUTION": 8, "OUTPUT": destination}
    ok, _ = alg.checkParameterValues(parameters, context)
    assert ok
    feedback = _Feedback()
    results, success = alg.run(parameters, context, feedback)
    assert success, feedback.errors
    return results, context


def test_save_to_geopackage_adds_a_layer_and_keeps_the_others(provider, tmp_path):
    import sqlite3

    shared = tmp_path / "shared.gpkg"
    first, _ = _run(provider, f"ogr:dbname='{shared}' table=\"first\" (geom)")
    dialog_choice = QgsProcessingOutputLayerDefinition(
        f"ogr:dbname='{shared}' table=\"second\" (geom)", QgsProject.instance()
    )
    second, context = _run(provider, dialog_choice)
    with sqlite3.connect(shared) as db:
        tables = {row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")}
    assert {"first", "second"} <= tables
    for result in (first, second):
        layer = QgsVectorLayer(result["OUTPUT"], "grid", "ogr")
        assert layer.isValid() and layer.featureCount() == result["N_CELLS"] > 50
    assert "second" in second["OUTPUT"]
    loads = context.layersToLoadOnCompletion()
    assert len(loads) == 1
    loaded = QgsProcessingUtils.mapLayerFromString(next(iter(loads)), context)
    assert loaded is not None and loaded.featureCount() == second["N_CELLS"]
    assert context.layerToLoadOnCompletionDetails(next(iter(loads))).postProcessor() is not None
    for result in (first, second):  # the style embedded in the GeoPackage, per layer
        assert QgsVectorLayer(result["OUTPUT"], "grid", "ogr").opacity() == pytest.approx(0.85)


@pytest.mark.parametrize("destination", ["TEMPORARY_OUTPUT", ""])
def test_temporary_output(provider, destination):
    result, _ = _run(
        provider, destination or QgsProcessingOutputLayerDefinition("TEMPORARY_OUTPUT")
    )
    layer = QgsVectorLayer(result["OUTPUT"], "grid", "ogr")
    assert layer.isValid() and layer.featureCount() == result["N_CELLS"] > 50
