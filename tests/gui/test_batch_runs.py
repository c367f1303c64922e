"""Each algorithm run through the batch panel: one row with the required inputs and the
output files filled, "Load layers on completion" ticked; the result layers land in the
project styled."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_driver import RUNNABLE, ModalAnswer, as_sources, dialog_log, processing_context
from inputs import RESULT_LAYERS, required_inputs
from qgis.core import QgsProject
from qgis.PyQt.QtCore import QCoreApplication


def output_path(parameter, folder: Path) -> str:
    """A file name for a destination parameter, as a user types it in a batch row."""
    kind = parameter.type()
    if kind == "vectorDestination":
        return str(folder / f"{parameter.name().lower()}.gpkg")
    if kind == "folderDestination":
        return str(folder / parameter.name().lower())
    return str(folder / f"{parameter.name().lower()}.{parameter.defaultFileExtension()}")


def set_cell(wrapper, value) -> None:
    """Set a batch cell's value (layers given as their sources, as the batch panel lists them)."""
    value = as_sources(value)
    if hasattr(wrapper, "setParameterValue"):  # the C++ widget wrappers
        wrapper.setParameterValue(value, processing_context())
    else:  # processing.gui.wrappers.WidgetWrapper
        wrapper.setValue(value)


@pytest.mark.parametrize("algorithm_id", RUNNABLE)
def test_run_in_batch(algorithm_id, project_layers, demo_city, prepared, tmp_path):
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"urbansig:{algorithm_id}")
    dialog = BatchAlgorithmDialog(algorithm)
    dialog.show()
    panel = dialog.mainWidget()
    inputs = required_inputs(algorithm_id, project_layers, demo_city, prepared)
    expected = {}
    for parameter in algorithm.parameterDefinitions():
        name = parameter.name()
        column = panel.parameter_to_column[name]
        if parameter.isDestination():
            wanted = name in inputs or not parameter.flags() & parameter.FlagOptional
            if wanted:
                expected[name] = output_path(parameter, tmp_path)
                panel.tblParameters.cellWidget(1, column).setValue(expected[name])
        elif name in inputs:
            set_cell(panel.wrappers[0][column], inputs[name])
    panel.checkLoadLayersOnCompletion.setChecked(True)
    QCoreApplication.processEvents()
    parameters, ok = panel.parametersForRow(0, warnOnInvalid=True)
    assert ok, f"the batch row was refused: {parameters}"
    with ModalAnswer():
        dialog.runButton().click()  # the batch dialog runs its rows on the main thread
    log = dialog_log(dialog)
    dialog.close()
    assert "failed" not in log.lower(), log
    for path in expected.values():
        assert Path(path).exists(), f"{path} not written\n{log}"
    sources = {
        layer.source().split("|")[0]: layer for layer in QgsProject.instance().mapLayers().values()
    }
    if algorithm_id == "generatedemocity":
        folder = Path(expected["OUTPUT"])
        wanted = [str(p) for p in folder.glob("*.gpkg")] + [str(p) for p in folder.glob("*.tif")]
        assert len(wanted) >= len(RESULT_LAYERS[algorithm_id]), wanted
    else:
        wanted = [expected[name] for name in RESULT_LAYERS[algorithm_id]]
    for path in wanted:
        layer = sources.get(path)
        assert layer is not None, f"{path} not loaded; project has {sorted(sources)}\n{log}"
        assert layer.isValid() and layer.renderer() is not None, path
