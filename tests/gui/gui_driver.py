"""Drive Processing parameter widgets as a user does: keystrokes into the real widgets."""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from qgis.core import (
    QgsMapLayer,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
)
from qgis.gui import QgsPanelWidget
from qgis.PyQt.QtCore import QCoreApplication, Qt, QTimer
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QListView,
    QMessageBox,
    QToolButton,
    QWidget,
)

# Run by the dialog tests (the setup algorithm is left out: running it reinstalls the
# backend environment the other tests use).
RUNNABLE = (
    "backenddiagnostics",
    "createh3grid",
    "generatedemocity",
    "clustertraffictiles",
    "embedregionsmusecl",
    "embedregionsflows",
    "pooltrajectoriesraw",
    "applyrawmodel",
    "predictindicator",
)


def wait_for(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Process events until ``done()`` or fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.02)


def find(widget: QWidget | None, kind: type) -> Any:
    """``widget`` itself or its first descendant of class ``kind``."""
    if widget is None:
        return None
    if isinstance(widget, kind):
        return widget
    found = widget.findChildren(kind)
    return found[0] if found else None


def typed_number(parameter: QgsProcessingParameterNumber) -> float:
    """A value inside the parameter's range that differs from its default."""
    low, high = parameter.minimum(), parameter.maximum()
    default = parameter.defaultValue()
    base = float(default) if default is not None else max(low, 0.0)
    whole = parameter.dataType() == QgsProcessingParameterNumber.Type.Integer
    for candidate in (base + 1, base - 1, base * 2, base / 2, 7, 0.5, low, high):
        candidate = float(round(candidate)) if whole else candidate
        if low <= candidate <= high and candidate != default and abs(candidate) < 1e6:
            return candidate
    raise AssertionError(f"no test value for {parameter.name()}")


def type_text(edit: QLineEdit, text: str) -> None:
    """Select what the line edit holds and type ``text`` over it, then Return."""
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    QCoreApplication.processEvents()


def choose_next(combo: QComboBox, value: Callable[[], Any]) -> None:
    """Arrow keys to another entry (down, or up from the last one) until ``value()``
    changes: an optional layer combo starts on no entry, and its first Down selects the
    empty one."""
    combo.setFocus()
    before = value()
    for _ in range(3):
        last = combo.currentIndex() >= combo.count() - 1
        QTest.keyClick(combo, Qt.Key.Key_Up if last else Qt.Key.Key_Down)
        QCoreApplication.processEvents()
        if value() != before:
            return


def tick_entries(view: QListView, rows: int) -> None:
    """Tick the first ``rows`` entries of a selection list with the keyboard."""
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))
    for row in range(rows):
        if row:
            QTest.keyClick(view, Qt.Key.Key_Down)
        QTest.keyClick(view, Qt.Key.Key_Space)


def tick_in_selection_panel(button: QAbstractButton, rows: int = 1) -> None:
    """Open a multiple-selection widget's list (a panel in the dialog's panel stack), tick
    ``rows`` entries with the keyboard and accept it."""
    button.click()
    QCoreApplication.processEvents()
    lists = [view for view in button.window().findChildren(QListView) if view.isVisible()]
    assert len(lists) == 1, "the selection list did not open"
    tick_entries(lists[0], rows)
    QgsPanelWidget.findParentPanel(lists[0]).acceptPanel()
    QCoreApplication.processEvents()


def as_sources(value: Any) -> Any:
    """``value`` with map layers replaced by their sources (a list item by item)."""
    if isinstance(value, list):
        return [as_sources(item) for item in value]
    return value.source() if isinstance(value, QgsMapLayer) else value


def same(shown: Any, default: Any) -> bool:
    """Whether a widget's value is the declared default (numbers compared as numbers)."""
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return shown is not None and abs(float(shown) - float(default)) < 1e-9
    if isinstance(shown, list) and isinstance(default, str):
        return shown == [part for part in default.split(";") if part]
    return shown == default or (default is None and shown in ("", [], None))


def type_into(wrapper: Any, parameter: QgsProcessingParameterDefinition) -> tuple[Any, Any]:
    """Type a new value into the wrapper's widget; returns (expected, held) values.

    ``expected`` is what the keystrokes should have set (None where any other value
    than the old one counts), ``held`` what the widget holds afterwards."""
    widget = wrapper.wrappedWidget()
    kind = parameter.type()
    before = wrapper.parameterValue()
    if kind == "number":
        box = find(widget, QAbstractSpinBox)
        value = typed_number(parameter)
        integer = parameter.dataType() == QgsProcessingParameterNumber.Type.Integer
        type_text(box.lineEdit(), str(int(value)) if integer else str(value))
        box.interpretText()
        return value, float(wrapper.parameterValue())
    if kind == "boolean":
        box = find(widget, QCheckBox)
        box.setFocus()
        QTest.keyClick(box, Qt.Key.Key_Space)
        return not before, wrapper.parameterValue()
    multiple = kind == "multilayer" or (kind == "field" and parameter.allowMultiple())
    if multiple:
        tick_in_selection_panel(widget.findChildren(QToolButton)[-1])
        after = wrapper.parameterValue()
        return (None if after != before else "<another selection>"), after
    if kind in ("enum", "field", "vector", "raster", "source"):
        choose_next(find(widget, QComboBox), wrapper.parameterValue)
        after = wrapper.parameterValue()
        return (None if after != before else "<another entry>"), after
    if kind == "string":
        type_text(find(widget, QLineEdit), "typed 1")
        return "typed 1", wrapper.parameterValue()
    if kind == "file":
        type_text(find(widget, QLineEdit), "/tmp/typed-path")
        return "/tmp/typed-path", wrapper.parameterValue()
    if kind == "extent":
        edit = widget.findChild(QLineEdit, "mCondensedLineEdit")
        type_text(edit, "10,20,30,40 [EPSG:4326]")  # QGIS order: xmin,xmax,ymin,ymax
        held = str(wrapper.parameterValue())
        return [10.0, 20.0, 30.0, 40.0, "EPSG:4326"], [
            *(float(n) for n in re.findall(r"-?[0-9.]+(?=,| \[)", held)),
            held.split("[")[-1].rstrip("]"),
        ]
    if kind in ("vectorDestination", "fileDestination", "folderDestination"):
        edit = find(widget, QLineEdit)
        path = "/tmp/typed-output" + (".gpkg" if kind == "vectorDestination" else "")
        type_text(edit, path)
        held = wrapper.parameterValue()
        if isinstance(held, QgsProcessingOutputLayerDefinition):
            held = held.sink.staticValue()
        return path, held
    raise AssertionError(f"no keystroke recipe for a {kind} parameter ({parameter.name()})")


class ModalAnswer:
    """Answer Yes to any modal question box (QGIS asks about unmatching CRSs) while open."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.timeout.connect(self._answer)
        self.seen: list[str] = []

    def _answer(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            self.seen.append(box.text())
            button = box.button(QMessageBox.StandardButton.Yes) or box.button(
                QMessageBox.StandardButton.Ok
            )
            if button is not None:
                button.click()

    def __enter__(self) -> ModalAnswer:
        self.timer.start(100)
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()


def processing_context() -> Any:
    """A processing context on the current project (layer values resolve against it)."""
    from qgis.core import QgsProcessingContext, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return context


def fill(wrappers: dict, values: dict) -> None:
    """Set the widgets of ``values`` as a user does: paths typed into file and destination
    fields, layers and fields picked in their widgets."""
    context = processing_context()
    for name, value in values.items():
        wrapper = wrappers[name]
        kind = wrapper.parameterDefinition().type()
        if "Destination" in kind and value == "TEMPORARY_OUTPUT":
            wrapper.wrappedWidget().saveToTemporary()  # the menu's "Create temporary layer"
        elif kind == "file" or "Destination" in kind:
            type_text(find(wrapper.wrappedWidget(), QLineEdit), str(value))
        else:
            wrapper.setParameterValue(value, context)
        QCoreApplication.processEvents()


def dialog_log(dialog: QWidget) -> str:
    """The text of an algorithm dialog's Log tab."""
    from qgis.PyQt.QtWidgets import QTextEdit

    logs = [edit.toPlainText() for edit in dialog.findChildren(QTextEdit)]
    return "\n".join(text for text in logs if text)[-3000:]


def result_layers(results: dict) -> dict[str, Any]:
    """The project layers loaded from ``results``'s values, by output name."""
    from qgis.core import QgsProject

    found = {}
    for name, value in results.items():
        for layer in QgsProject.instance().mapLayers().values():
            source = layer.source().split("|")[0]
            if isinstance(value, str) and value and value.split("|")[0] in (source, layer.id()):
                found[name] = layer
    return found


def recording_feedback() -> Any:
    """A processing feedback that keeps what the run reported (``.lines``)."""
    from qgis.core import QgsProcessingFeedback

    class Recording(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[str] = []

        def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
            self.lines.append(f"ERROR {error}")

        def pushInfo(self, info: str) -> None:  # noqa: N802
            self.lines.append(info)

    return Recording()
