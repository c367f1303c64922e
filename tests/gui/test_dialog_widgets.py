"""Every algorithm's dialog: each widget, Advanced ones included, shows the declared default,
and keystrokes typed into it change its value."""

from __future__ import annotations

import pytest
from gui_driver import RUNNABLE, fill, same, type_into
from qgis.core import QgsProcessingParameterDefinition

ALL = (*RUNNABLE, "setupbackend")
LAYER_KINDS = ("vector", "raster", "multilayer", "source")
# Parent layers picked first so that their field widgets list fields.
PARENT_LAYER = {
    "REGIONS": "REGIONS",
    "POIS": "POIS",
    "STREETVIEW": "STREETVIEW",
    "INPUT": "EMBEDDED",
    "TILES": "TILES",
}


OPTIONAL = QgsProcessingParameterDefinition.Flag.FlagOptional


def dialog_for(algorithm_id: str):
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"urbansig:{algorithm_id}")
    dialog = AlgorithmDialog(algorithm, False, None)
    dialog.show()
    return algorithm, dialog


def pick_parent_layers(algorithm, panel, layers) -> None:
    parents = {
        parameter.name(): layers[PARENT_LAYER[parameter.name()]]
        for parameter in algorithm.parameterDefinitions()
        if parameter.name() in PARENT_LAYER and parameter.type() == "vector"
    }
    fill(panel.wrappers, parents)


@pytest.mark.parametrize("algorithm_id", ALL)
def test_widgets_show_defaults_and_take_keystrokes(algorithm_id, project_layers):
    algorithm, dialog = dialog_for(algorithm_id)
    panel = dialog.mainWidget()
    pick_parent_layers(algorithm, panel, project_layers)
    problems = []
    parameters = algorithm.parameterDefinitions()
    for parameter in parameters:  # first every default, before any keystroke
        default, shown = parameter.defaultValue(), panel.wrappers[parameter.name()].parameterValue()
        if parameter.type() in LAYER_KINDS or "Destination" in parameter.type():
            continue  # layers: the project's; destinations: [Create temporary layer]
        if parameter.type() == "field" and default is None and not parameter.flags() & OPTIONAL:
            continue  # a required field without a default: QGIS shows the layer's first
        if not same(shown, default):
            problems.append(f"{parameter.name()}: shows {shown!r}, the default is {default!r}")
    # Layers last: choosing another layer resets the fields taken from it.
    for parameter in sorted(parameters, key=lambda p: p.type() in LAYER_KINDS):
        expected, held = type_into(panel.wrappers[parameter.name()], parameter)
        if expected is not None and held != expected:
            problems.append(
                f"{parameter.name()}: typed for {expected!r}, the widget holds {held!r}"
            )
    dialog.close()
    assert not problems, "\n".join(problems)


def test_every_algorithm_is_driven(algorithm_ids):
    assert sorted(ALL) == algorithm_ids  # a new algorithm joins RUNNABLE (or says why not)
