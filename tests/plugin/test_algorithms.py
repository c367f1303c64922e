"""Algorithm parameters -> job spec, without running the backend; then one real run."""

import sys

import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)


class SpecCaptured(Exception):
    pass


@pytest.fixture()
def captured(monkeypatch):
    from urban_signatures.plugin.algorithms import base

    specs = []

    def capture(spec, feedback, command=None):
        specs.append(spec)
        raise SpecCaptured

    monkeypatch.setattr(base, "run_job", capture)
    return specs


def run_alg(provider, alg_id, parameters):
    alg = provider.algorithm(alg_id).create()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return alg.processAlgorithm(parameters, context, QgsProcessingFeedback())


def test_extent_to_spec(provider, captured, tmp_path):
    out = str(tmp_path / "grid.gpkg")
    with pytest.raises(SpecCaptured):
        run_alg(
            provider,
            "createh3grid",
            {
                "EXTENT": "600000,604000,2080000,2084000 [EPSG:27572]",
                "RESOLUTION": 9,
                "OUTPUT_CRS": 1,
                "MAX_CELLS": 5000,
                "OUTPUT": out,
                "DEVICE": 0,
                "SEED": 0,
            },
        )
    spec = captured[0]
    assert spec["version"] == 1 and spec["task"] == "createh3grid"
    corners, crs = spec["inputs"]["extent"].split(" [")
    assert crs == "EPSG:27572]"
    assert [float(v) for v in corners.split(",")] == [
        600000,
        2080000,
        604000,
        2084000,
    ]
    assert spec["params"] == {"resolution": 9, "max_cells": 5000, "output_crs": "EPSG:4326"}
    assert spec["outputs"] == {"output": out}


def test_memory_layer_is_exported_for_the_backend(provider, captured, tmp_path):
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326&field=name:string", "area", "memory")
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(4.8, 45.7, 4.9, 45.8)))
    feature.setAttribute("name", "a")
    layer.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(layer)
    try:
        with pytest.raises(SpecCaptured):
            run_alg(
                provider,
                "createh3grid",
                {
                    "INPUT": layer.id(),
                    "RESOLUTION": 8,
                    "OUTPUT_CRS": 0,
                    "MAX_CELLS": 1000,
                    "OUTPUT": str(tmp_path / "g.gpkg"),
                },
            )
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    path = captured[0]["inputs"]["polygons"].split("|")[0]
    exported = QgsVectorLayer(path, "x", "ogr")
    assert exported.isValid() and exported.featureCount() == 1
    assert "extent" not in captured[0]["inputs"]


def test_neither_extent_nor_layer(provider, captured, tmp_path):
    with pytest.raises(QgsProcessingException, match="one of EXTENT, INPUT"):
        run_alg(provider, "createh3grid", {"RESOLUTION": 8, "OUTPUT": str(tmp_path / "g.gpkg")})
    assert captured == []


def test_real_run_styles_output_and_keeps_qgis_free_of_the_backend_stack(provider, tmp_path):
    """Through processing.run with the real backend; QGIS's Python never imports its stack."""
    import processing

    out = str(tmp_path / "grid.gpkg")
    result = processing.run(
        "urbansig:createh3grid",
        {
            "EXTENT": "4.80,4.90,45.72,45.79 [EPSG:4326]",
            "RESOLUTION": 8,
            "OUTPUT": out,
        },
    )
    assert result["OUTPUT"] == out and result["N_CELLS"] > 50
    layer = QgsVectorLayer(out, "grid", "ogr")
    assert layer.featureCount() == result["N_CELLS"]
    assert layer.renderer().type() == "singleSymbol"  # the embedded default style loaded
    assert layer.opacity() == pytest.approx(0.85)
    heavy = {"torch", "geopandas", "pyproj", "rasterio", "pyogrio", "h3", "shapely"}
    assert heavy.isdisjoint(sys.modules), heavy & set(sys.modules)
