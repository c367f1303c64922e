"""Each algorithm run from its dialog's Run button (the dialog's own background task) with
only the required inputs filled: it succeeds and its result layers land in the project
styled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gui_driver import RUNNABLE, ModalAnswer, dialog_log, fill, result_layers, wait_for
from inputs import RESULT_LAYERS, required_inputs
from screenshots import dialog_png, layer_png


def assert_styled_results(algorithm_id: str, results: dict, log: str) -> dict:
    """Check the run's result layers are in the project, styled; returns them by output."""
    loaded = result_layers(results)
    for name in RESULT_LAYERS[algorithm_id]:
        assert name in loaded, f"{name} not in the project; results {results}\n{log}"
        layer = loaded[name]
        assert layer.isValid() and layer.renderer() is not None, name
        if layer.type() == layer.VectorLayer:
            assert layer.featureCount() > 0, name
    files = [v for v in results.values() if isinstance(v, str) and v.startswith("/")]
    assert files and all(Path(v.split("|")[0]).exists() for v in files), results
    return loaded


@pytest.mark.parametrize("algorithm_id", RUNNABLE)
def test_run_from_the_dialog(algorithm_id, project_layers, demo_city, prepared, tmp_path):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"urbansig:{algorithm_id}")
    dialog = AlgorithmDialog(algorithm, False, None)
    dialog.show()
    fill(
        dialog.mainWidget().wrappers,
        required_inputs(algorithm_id, project_layers, demo_city, prepared),
    )
    shots = screenshot_folder(tmp_path)
    seen = [dialog_png(dialog, algorithm.displayName(), shots / f"dialog-{algorithm_id}.png")]
    finished: list[tuple[bool, dict]] = []
    dialog.algorithmFinished.connect(lambda ok, results: finished.append((ok, results)))
    with ModalAnswer() as answers:
        dialog.runButton().click()
        wait_for(lambda: finished or answers.seen, 600, f"{algorithm_id} to finish")
    log = dialog_log(dialog)
    dialog.close()
    assert finished, f"the dialog refused to run: {answers.seen}\n{log}"
    ok, results = finished[0]
    assert ok, log
    loaded = assert_styled_results(algorithm_id, results, log)
    for name in RESULT_LAYERS[algorithm_id]:
        seen.append(layer_png(loaded[name], shots / f"result-{algorithm_id}-{name.lower()}.png"))
    record(shots, seen)


def test_setup_dialog_screenshot(provider, tmp_path):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById("urbansig:setupbackend")
    dialog = AlgorithmDialog(algorithm, False, None)
    shots = screenshot_folder(tmp_path)
    record(shots, [dialog_png(dialog, algorithm.displayName(), shots / "dialog-setupbackend.png")])
    dialog.close()


def screenshot_folder(tmp_path: Path) -> Path:
    """Where the screenshots go: $URBANSIG_SCREENSHOTS (make screenshots), else tmp_path."""
    return Path(os.environ.get("URBANSIG_SCREENSHOTS") or tmp_path)


def record(folder: Path, lines: list[str]) -> None:
    """Add what each screenshot shows (checked) to the folder's CHECKED.txt."""
    with open(folder / "CHECKED.txt", "a", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
