#!/usr/bin/env python3
"""Qt6 readiness check (standard library only): run by `make lint`, prints file:line per finding.

What it flags, and the rule behind each:

1. Unscoped enum members. PyQt6 (QGIS 4) only knows scoped enums: `Qt.AlignmentFlag.AlignLeft`,
   not `Qt.AlignLeft`. Rule: an attribute chain of exactly two parts `Q<Name>.<X>`, where the
   base is a plain name starting with "Q" (Qt classes, `Qt`, QGIS's `Qgs*` classes and `Qgis`)
   and X starts with an upper-case letter, is taken for an enum member unless
     - it is itself the base of a longer chain (`Qt.AlignmentFlag.AlignLeft`: X is the enum),
     - it is called (`QgsVectorFileWriter.SaveVectorOptions()`: X is a class), or
     - X is in NESTED_CLASSES (nested classes used without a call, e.g. in annotations).
   QGIS's own enums are included: QGIS 3.22 already has their scoped forms
   (`QgsProcessing.SourceType.TypeVectorPolygon`) and QGIS 4 drops many unscoped ones.
   Write `# qt6-ok` on a line to accept a finding there.
2. Calls to `exec_()`: PyQt6 only has `exec()` (also present in PyQt5 5.15).
3. Qt imported other than through `qgis.PyQt`: `import PyQt5`, `from PyQt6.QtCore import ...`,
   PySide likewise.

Usage: check_qt6.py [PATH ...]  (folders are searched for *.py; default: DEFAULT_PATHS of
the repository this script is in).
Exit status 1 when anything is found.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

DEFAULT_PATHS = ("plugin", "__init__.py", "tests/e2e", "tests/plugin")

# Nested classes (not enum members) reached as `Q<Name>.<X>` without a call.
NESTED_CLASSES = frozenset(
    {
        "Rule",  # QgsRuleBasedRenderer.Rule
        "SaveVectorOptions",  # QgsVectorFileWriter.SaveVectorOptions
        "LayerDetails",  # QgsProcessingContext.LayerDetails
    }
)
QT_BINDINGS = ("PyQt4", "PyQt5", "PyQt6", "PySide", "PySide2", "PySide6")
ACCEPT_MARK = "# qt6-ok"


def _is_q_name(name: str) -> bool:
    """Qt classes (QWidget), Qt, QGIS classes (QgsProject) and Qgis."""
    return (
        name in ("Qt", "Qgis")
        or name.startswith("Qgs")
        or (name[:1] == "Q" and name[1:2].isupper())
    )


def findings(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """(line, message) for every Qt6 problem in one module's source."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    parent: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            if (
                isinstance(base, ast.Name)
                and _is_q_name(base.id)
                and node.attr[:1].isupper()
                and node.attr not in NESTED_CLASSES
            ):
                up = parent.get(node)
                longer = isinstance(up, ast.Attribute) and up.value is node
                called = isinstance(up, ast.Call) and up.func is node
                if not (longer or called):
                    found.append(
                        (node.lineno, f"unscoped enum {base.id}.{node.attr} (use the enum's scope)")
                    )
            if node.attr == "exec_" and isinstance(parent.get(node), ast.Call):
                found.append((node.lineno, "exec_() call (use exec())"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "exec_":
                found.append((node.lineno, "exec_() call (use exec())"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in QT_BINDINGS:
                    found.append((node.lineno, f"import {alias.name} (import from qgis.PyQt)"))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] in QT_BINDINGS:
                found.append((node.lineno, f"from {node.module} import (import from qgis.PyQt)"))
    return sorted(
        (line, message)
        for line, message in found
        if not (0 < line <= len(lines) and ACCEPT_MARK in lines[line - 1])
    )


def python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts))
        elif path.suffix == ".py":
            files.append(path)
    return files


def main(argv: list[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:])
    if not paths:
        repo = Path(__file__).resolve().parents[1]
        paths = [os.path.relpath(repo / p) for p in DEFAULT_PATHS]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"check_qt6: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    count = 0
    for path in python_files(paths):
        for line, message in findings(path.read_text(encoding="utf-8"), str(path)):
            print(f"{path}:{line}: {message}")
            count += 1
    if count:
        print(f"check_qt6: {count} finding(s); see the rules in .ci/check_qt6.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
