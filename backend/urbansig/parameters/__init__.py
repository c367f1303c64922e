"""Every algorithm parameter, declared once: name, kind, default, range, label and help.

One module per algorithm holds its ``PARAMETERS`` table. The QGIS plugin reads these
tables (this package imports nothing but the standard library) to build its dialogs; the
backend derives its options, defaults, type conversion and range checks from them; the
methods take their settings' defaults from them. So a default changes in one place.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

INPUT_KINDS = ("vector", "layers", "raster", "file", "folder")
OUTPUT_KINDS = ("vector_out", "file_out", "folder_out")
KINDS = (
    "extent",
    *INPUT_KINDS,
    *OUTPUT_KINDS,
    "field",
    "fields",
    "enum",
    "int",
    "float",
    "bool",
    "string",
)
GEOMETRIES = ("any", "polygon", "point", "table")
MODEL_FILTER = "Urban Signatures model (*.pt)"
HTML_FILTER = "HTML files (*.html)"

# algorithm id -> module holding its PARAMETERS
TABLE_MODULES: dict[str, str] = {
    task: f"urbansig.parameters.{task}"
    for task in (
        "applyrawmodel",
        "clustertraffictiles",
        "createh3grid",
        "diagnostics",
        "embedregionsflows",
        "embedregionsmusecl",
        "generatedemocity",
        "pooltrajectoriesraw",
        "predictindicator",
    )
}


@dataclass(frozen=True)
class Parameter:
    """One parameter of one algorithm.

    ``name`` is the QGIS key (UPPER_SNAKE); ``target`` the ``section.key`` of the job spec
    (default: outputs/inputs/params by kind, key = name in lower case); several parameters
    may share a target when exactly one of them is given (a folder, a table or a layer).
    ``choices`` are the backend's tokens, ``choice_labels`` what the dialog shows.
    """

    name: str
    label: str
    kind: str
    help: str = ""
    default: Any = None
    optional: bool = False
    advanced: bool = False
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()
    parent: str = ""
    geometry: str = "any"
    numeric: bool = False
    minimum: float | None = None
    maximum: float | None = None
    file_filter: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown parameter kind {self.kind!r}")
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"{self.name}: unknown geometry {self.geometry!r}")
        if self.kind == "enum" and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not a choice")
        if self.choice_labels and len(self.choice_labels) != len(self.choices):
            raise ValueError(f"{self.name}: one label per choice")

    @property
    def section(self) -> str:
        """inputs, params or outputs: where the value goes in the job spec."""
        if self.target:
            return self.target.partition(".")[0]
        if self.kind in OUTPUT_KINDS:
            return "outputs"
        if self.kind in INPUT_KINDS or self.kind == "extent":
            return "inputs"
        return "params"

    @property
    def key(self) -> str:
        """The value's key in its job-spec section."""
        return self.target.partition(".")[2] if self.target else self.name.lower()

    @property
    def is_path(self) -> bool:
        return self.kind in INPUT_KINDS or self.kind in OUTPUT_KINDS

    @property
    def labels(self) -> tuple[str, ...]:
        """What the dialog shows for each choice."""
        return self.choice_labels or self.choices


def parameters(task: str) -> tuple[Parameter, ...]:
    """The parameter table of ``task`` (an algorithm id)."""
    module = TABLE_MODULES.get(task)
    if module is None:
        raise KeyError(f"no parameter table for {task!r}")
    return importlib.import_module(module).PARAMETERS


def defaults(task: str) -> dict[str, Any]:
    """Job-spec key -> declared default, for the parameters of ``task`` that have one."""
    return {p.key: p.default for p in parameters(task) if p.default is not None}


def default(task: str, key: str) -> Any:
    """The declared default of the parameter whose job-spec key is ``key``."""
    values = defaults(task)
    if key not in values:
        raise KeyError(f"{task} declares no default for {key!r}")
    return values[key]
