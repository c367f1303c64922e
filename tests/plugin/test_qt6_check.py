"""The Qt6 readiness check (.ci/check_qt6.py, run by make lint): what it flags and what not."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_qt6", REPO / ".ci" / "check_qt6.py")
assert _spec is not None and _spec.loader is not None
check_qt6 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_qt6)


def _lines(source: str) -> list[int]:
    return [line for line, _ in check_qt6.findings(textwrap.dedent(source))]


@pytest.mark.parametrize(
    "snippet",
    [
        "x = Qt.AlignLeft",
        "f(QMessageBox.Yes)",
        "level = Qgis.Info",
        "t = QgsProcessing.TypeVectorPolygon",
        "ok = error == QgsVectorFileWriter.NoError",
        "dialog.exec_()",
        "exec_(dialog)",
        "from PyQt5.QtCore import Qt",
        "from PyQt6 import QtWidgets",
        "import PyQt5.QtGui",
        "import PySide6",
    ],
)
def test_flagged(snippet):
    assert _lines(snippet) == [1]


def test_every_finding_is_listed():
    assert _lines("w.setSizePolicy(QSizePolicy.Expanding,\n QSizePolicy.Fixed)") == [1, 2]


@pytest.mark.parametrize(
    "snippet",
    [
        "x = Qt.AlignmentFlag.AlignLeft",
        "f(QMessageBox.StandardButton.Yes)",
        "t = QgsProcessing.SourceType.TypeVectorPolygon",
        "level = Qgis.MessageLevel.Info",
        "options = QgsVectorFileWriter.SaveVectorOptions()",  # a nested class, called
        "rule = QgsRuleBasedRenderer.Rule",  # a nested class known to the check
        "QgsProject.instance()",  # a method
        "QCoreApplication.translate('a', 'b')",
        "x = QColor.fromRgb(1, 2, 3)",
        "x = self.Qt.AlignLeft",  # not a bare Q name
        "x = Foo.AlignLeft",
        "dialog.exec()",
        "spec.loader.exec_module(module)",
        "from qgis.PyQt.QtCore import Qt",
        "import qgis.PyQt.QtWidgets",
        "x = Qt.AlignLeft  # qt6-ok",
    ],
)
def test_not_flagged(snippet):
    assert _lines(snippet) == []


def test_reports_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\nx = Qt.AlignLeft\n", encoding="utf-8")
    (tmp_path / "good.py").write_text("x = Qt.AlignmentFlag.AlignLeft\n", encoding="utf-8")
    assert check_qt6.main([str(tmp_path)]) == 1
    assert (
        capsys.readouterr().out.strip()
        == f"{bad}:3: unscoped enum Qt.AlignLeft (use the enum's scope)"
    )
    assert check_qt6.main([str(tmp_path / "good.py")]) == 0


def test_the_plugin_passes():
    paths = [str(REPO / p) for p in check_qt6.DEFAULT_PATHS]
    assert check_qt6.main(paths) == 0
