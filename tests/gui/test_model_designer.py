"""Each algorithm added to a model through the Model Designer's parameter dialog: values
typed into its widgets, the model saved, reloaded and run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gui_driver import RUNNABLE, as_sources, find, recording_feedback, type_text
from inputs import RESULT_LAYERS, required_inputs
from qgis.core import QgsMapLayer, QgsProcessingException
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit

# A number typed into each algorithm's dialog (a shorter run where it is an epoch count).
TYPED = {
    "createh3grid": ("RESOLUTION", 7),
    "generatedemocity": ("DAYS", 3),
    "clustertraffictiles": ("EPOCHS", 5),
    "embedregionsmusecl": ("EPOCHS_TABULAR", 5),
    "embedregionsflows": ("EPOCHS", 100),
    "pooltrajectoriesraw": ("EPOCHS", 2),
    "applyrawmodel": ("HORIZON_STEPS", 3),
    "predictindicator": ("REPEATS", 2),
}


def static_source(value):
    from qgis.core import QgsProcessingModelChildParameterSource

    return QgsProcessingModelChildParameterSource.fromStaticValue(as_sources(value))


WRITTEN_TABLES: list[str] = []  # the tables the model runs wrote into the shared GeoPackage


@pytest.fixture(scope="module")
def shared_geopackage(tmp_path_factory) -> Path:
    """One GeoPackage that every model run adds its result layers to."""
    return tmp_path_factory.mktemp("gpkg") / "results.gpkg"


def geopackage_tables(path: Path) -> dict[str, int]:
    """The feature tables of a GeoPackage and their row counts."""
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("select table_name from gpkg_contents")]
        return {name: db.execute(f'select count(*) from "{name}"').fetchone()[0] for name in names}


def pick_layer(wrapper, layer: QgsMapLayer) -> None:
    """Choose ``layer`` in the parameter's layer list, as a user clicks it."""
    for combo in wrapper.findChildren(QComboBox):
        texts = [combo.itemText(i) for i in range(combo.count())]
        if any(text.startswith(layer.name()) for text in texts):
            combo.setCurrentIndex([text.startswith(layer.name()) for text in texts].index(True))
            return
    raise AssertionError(f"{layer.name()} is not listed")
    QCoreApplication.processEvents()


@pytest.mark.parametrize("algorithm_id", RUNNABLE)
def test_model_designer_save_reload_run(
    algorithm_id, project_layers, demo_city, prepared, tmp_path, shared_geopackage
):
    import processing
    from processing.modeler.ModelerParametersDialog import ModelerParametersDialog
    from qgis.core import QgsApplication, QgsProcessingModelAlgorithm

    algorithm = QgsApplication.processingRegistry().algorithmById(f"urbansig:{algorithm_id}")
    model = QgsProcessingModelAlgorithm(f"GUI test {algorithm_id}", "tests")
    dialog = ModelerParametersDialog(algorithm, model)
    dialog.show()
    wrappers = dialog.widget.widget.wrappers
    inputs = required_inputs(algorithm_id, project_layers, demo_city, prepared)
    outputs = {}
    for name, value in inputs.items():
        if isinstance(value, QgsMapLayer):
            pick_layer(wrappers[name], value)
        elif not algorithm.parameterDefinition(name).isDestination():
            wrappers[name].setWidgetValue(static_source(value))
    for parameter in algorithm.destinationParameterDefinitions():
        if parameter.name() in inputs or not parameter.flags() & parameter.FlagOptional:
            wrapper = wrappers[parameter.name()]
            wrapper.setToModelOutput("")  # the source menu's "Model output"
            QCoreApplication.processEvents()
            edits = [e for e in wrapper.findChildren(QLineEdit) if e.isVisible()]
            (name_edit,) = [e for e in edits if "final result" in e.placeholderText()]
            type_text(name_edit, f"result {parameter.name().lower()}")
            outputs[parameter.name()] = wrapper.modelOutputName()
    typed = TYPED.get(algorithm_id)
    if typed:
        box = find(wrappers[typed[0]], QAbstractSpinBox)
        type_text(box.lineEdit(), str(typed[1]))
        box.interpretText()
    child = dialog.createAlgorithm()
    dialog.close()
    if typed:
        assert child.parameterSources()[typed[0]][0].staticValue() == typed[1]
    assert sorted(child.modelOutputs()) == sorted(outputs.values())
    model.addChildAlgorithm(child)
    saved = tmp_path / "model.model3"
    assert model.toFile(str(saved))
    reloaded = QgsProcessingModelAlgorithm()
    assert reloaded.fromFile(str(saved))
    (again,) = reloaded.childAlgorithms().values()
    if typed:
        assert again.parameterSources()[typed[0]][0].staticValue() == typed[1]
    destinations = reloaded.destinationParameterDefinitions()
    assert sorted(p.name().rsplit(":", 1)[1] for p in destinations) == sorted(outputs.values())
    # Layers into one GeoPackage shared by every run, as the dialog's "Save to GeoPackage..."
    # writes them (a table per output, the others kept); other outputs to temporary files.
    tables = {
        p.name(): f"{algorithm_id}_{p.name().rsplit(' ', 1)[1]}"
        for p in destinations
        if p.type() == "vectorDestination"
    }
    values = {
        p.name(): f"ogr:dbname='{shared_geopackage}' table=\"{tables[p.name()]}\" (geom)"
        if p.name() in tables
        else "TEMPORARY_OUTPUT"
        for p in destinations
    }
    feedback = recording_feedback()
    try:
        results = processing.run(reloaded, values, feedback=feedback)
    except QgsProcessingException as error:
        raise AssertionError("\n".join(feedback.lines[-30:])) from error
    for parameter in destinations:
        path = Path(str(results[parameter.name()]).split("|")[0])
        assert path.exists(), results
    WRITTEN_TABLES.extend(tables.values())
    written = geopackage_tables(shared_geopackage)
    for table in WRITTEN_TABLES:  # this run's, and the earlier runs' kept
        assert written.get(table, 0) > 0, f"{table} not in {shared_geopackage}: {written}"
    produced = results["CHILD_RESULTS"][child.childId()]
    for name in RESULT_LAYERS[algorithm_id]:
        assert Path(str(produced[name]).split("|")[0]).exists(), produced
