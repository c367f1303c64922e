"""Runs are named after the algorithm's output and the input: the layers loaded on
completion, the reports in the Results Viewer, the report's title (the spec's subject)."""

from __future__ import annotations

import time

import pytest
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)

DASH = "\u2013"


@pytest.fixture()
def area():
    """A polygon layer named "area" in the project."""
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326&field=name:string", "area", "memory")
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(4.80, 45.72, 4.86, 45.76)))
    layer.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(layer)
    yield layer
    QgsProject.instance().removeMapLayer(layer.id())


@pytest.fixture()
def fake_run(monkeypatch):
    """run_job replaced: records the spec, 'writes' nothing, returns the outputs."""
    from urban_signatures.plugin.algorithms import base

    specs: list[dict] = []

    def run(spec, feedback, command=None):
        specs.append(spec)
        return {"outputs": dict(spec["outputs"]), "metrics": {"n_clusters": 2}}

    monkeypatch.setattr(base, "run_job", run)
    return specs


def _context() -> QgsProcessingContext:
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return context


@pytest.mark.parametrize("destination", ["TEMPORARY_OUTPUT", "grid.gpkg"])
def test_loaded_layers_are_named_after_the_output_and_the_input(
    provider, area, tmp_path, destination
):
    """A real run, the destination as the dialog gives it: the layer QGIS loads, temporary
    or a file, is "H3 grid – area" (not the file's name, not the output's label)."""
    from processing.gui.Postprocessing import handleAlgorithmResults

    alg = provider.algorithm("createh3grid").create()
    context = _context()
    target = destination if destination.startswith("TEMP") else str(tmp_path / destination)
    output = QgsProcessingOutputLayerDefinition(target, QgsProject.instance())
    parameters = {"INPUT": area.id(), "RESOLUTION": 8, "OUTPUT": output}
    results, ok = alg.run(parameters, context, QgsProcessingFeedback())
    assert ok and context.willLoadLayerOnCompletion(results["OUTPUT"])
    details = context.layerToLoadOnCompletionDetails(results["OUTPUT"])
    assert details.name == f"H3 grid {DASH} area" and details.forceName
    assert details.postProcessor() is not None  # still styled on load
    before = set(QgsProject.instance().mapLayers())
    assert handleAlgorithmResults(alg, context, QgsProcessingFeedback(), False, parameters)
    added = [
        QgsProject.instance().mapLayer(i) for i in set(QgsProject.instance().mapLayers()) - before
    ]
    try:
        assert [layer.name() for layer in added] == [f"H3 grid {DASH} area"]
    finally:
        QgsProject.instance().removeMapLayers([layer.id() for layer in added])


def _cluster_parameters(tmp_path, tiles: str) -> dict:
    netmob = tmp_path / "netmob"
    netmob.mkdir(exist_ok=True)
    return {
        "TRAFFIC_FOLDER": str(netmob),
        "CITY": "Demoville",
        "TILES": tiles,
        "OUTPUT": QgsProcessingOutputLayerDefinition(
            str(tmp_path / "clusters.gpkg"), QgsProject.instance()
        ),
        "REPORT": str(tmp_path / "clusters.html"),
    }


def test_the_dialog_lists_the_report_under_the_algorithm_and_the_input(
    provider, area, fake_run, tmp_path
):
    """As the 3.22 dialog runs it: a task made from the dialog's algorithm; afterwards the
    dialog reads the report's name from its algorithm's output definitions."""
    dialog_algorithm = provider.algorithm("clustertraffictiles").create()
    assert dialog_algorithm.outputDefinition("REPORT").description() == "Clustering report"
    context = _context()
    feedback = QgsProcessingFeedback()
    parameters = _cluster_parameters(tmp_path, area.id())
    task = QgsProcessingAlgRunnerTask(dialog_algorithm, parameters, context, feedback)
    finished: list[bool] = []
    task.executed.connect(lambda ok, results: finished.append(ok))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + 30
    while not finished and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    assert finished == [True]
    assert fake_run[0]["subject"] == "area"
    report = dialog_algorithm.outputDefinition("REPORT")
    assert report.description() == f"Clustering report {DASH} area"
    clusters = str(tmp_path / "clusters.gpkg")
    assert context.willLoadLayerOnCompletion(clusters)
    assert context.layerToLoadOnCompletionDetails(clusters).name == f"Clusters {DASH} area"


def test_batch_and_scripted_runs_keep_the_plain_report_label(provider, area, fake_run, tmp_path):
    """Runs on the main thread (batch dialog, processing.run): the batch dialog names every
    run's report from one description once all ran, so it stays "Clustering report"."""
    batch_algorithm = provider.algorithm("clustertraffictiles").create()
    results, ok = batch_algorithm.run(
        _cluster_parameters(tmp_path, area.id()), _context(), QgsProcessingFeedback()
    )
    assert ok and results["REPORT"] == str(tmp_path / "clusters.html")
    assert batch_algorithm.outputDefinition("REPORT").description() == "Clustering report"


@pytest.mark.parametrize(
    ("given", "subject"),
    [({}, "area"), ({"TILES": None}, "Demoville"), ({"TILES": None, "CITY": None}, "netmob")],
)
def test_the_subject_is_the_first_main_input_given(
    provider, area, fake_run, tmp_path, given, subject
):
    parameters = {**_cluster_parameters(tmp_path, area.id()), **given}
    parameters = {k: v for k, v in parameters.items() if v is not None}
    alg = provider.algorithm("clustertraffictiles").create()
    alg.processAlgorithm(parameters, _context(), QgsProcessingFeedback())
    assert fake_run[-1]["subject"] == subject


def test_every_report_output_names_its_algorithm(provider):
    from qgis.core import QgsProcessingOutputHtml

    for alg in provider.algorithms():
        for output in alg.outputDefinitions():
            if isinstance(output, QgsProcessingOutputHtml):
                assert output.description() != "Report", alg.id()
                assert output.description().endswith("report"), alg.id()
