"""Open every Urban Signatures algorithm's Processing dialog (the real widgets, offscreen)
and check its number fields: each shows its declared default and takes typed keystrokes.

Run with QGIS's Python; writes a JSON list of problems to the path in argv[1].
"""

from __future__ import annotations

import json
import sys

from qgis.core import QgsApplication, QgsProcessingParameterNumber
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QAbstractSpinBox

sys.path.append("/usr/share/qgis/python/plugins")


def spin_box(wrapper) -> QAbstractSpinBox | None:
    widget = wrapper.wrappedWidget()
    if isinstance(widget, QAbstractSpinBox):
        return widget
    found = widget.findChildren(QAbstractSpinBox) if widget is not None else []
    return found[0] if found else None


def typed_value(parameter: QgsProcessingParameterNumber) -> float:
    """A value inside the parameter's range that differs from its default."""
    low, high = parameter.minimum(), parameter.maximum()
    default = parameter.defaultValue()
    base = float(default) if default is not None else max(low, 0.0)
    for candidate in (base + 1, base - 1, base * 2, base / 2, 7, 0.5, low, high):
        whole = parameter.dataType() == QgsProcessingParameterNumber.Type.Integer
        candidate = float(round(candidate)) if whole else candidate
        if low <= candidate <= high and candidate != default and abs(candidate) < 1e6:
            return candidate
    raise AssertionError(f"no test value for {parameter.name()}")


def main(out_path: str) -> None:
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    Processing.initialize()
    import urban_signatures

    plugin = urban_signatures.classFactory(None)
    plugin.initProcessing()
    provider = QgsApplication.processingRegistry().providerById("urbansig")
    problems: list[str] = []
    checked = 0
    for algorithm in provider.algorithms():
        dialog = AlgorithmDialog(algorithm.create(), False, None)
        panel = dialog.mainWidget()
        for parameter in algorithm.parameterDefinitions():
            if not isinstance(parameter, QgsProcessingParameterNumber):
                continue
            name = f"{algorithm.id()} {parameter.name()}"
            wrapper = panel.wrappers.get(parameter.name())
            box = spin_box(wrapper) if wrapper is not None else None
            if box is None:
                problems.append(f"{name}: no spin box in the dialog")
                continue
            shown = wrapper.parameterValue()
            default = parameter.defaultValue()
            if default is not None and (shown is None or abs(float(shown) - float(default)) > 1e-9):
                problems.append(f"{name}: shows {shown!r}, default is {default!r}")
            value = typed_value(parameter)
            box.selectAll()
            text = (
                str(int(value))
                if parameter.dataType() == QgsProcessingParameterNumber.Type.Integer
                else str(value)
            )
            QTest.keyClicks(box.lineEdit() if hasattr(box, "lineEdit") else box, text)
            box.interpretText()
            got = wrapper.parameterValue()
            if got is None or abs(float(got) - value) > 1e-9:
                problems.append(f"{name}: typed {text}, the field holds {got!r}")
            checked += 1
        dialog.deleteLater()
    with open(out_path, "w") as handle:
        json.dump({"checked": checked, "problems": problems}, handle)
    plugin.unload() if hasattr(plugin, "unload") else None
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1])
