"""The backend's parameter tables, read by QGIS's Python.

``backend/urbansig/parameters`` imports only the standard library, so QGIS loads it from the
backend folder shipped inside the plugin without the backend's environment; the rest of
the backend package is never imported here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1] / "backend" / "urbansig"
NAME = "urbansig"  # the backend's import name, so the tables' own imports resolve


def _backend_package() -> ModuleType:
    """The ``urbansig`` package object (its ``__init__`` holds only the version)."""
    loaded = sys.modules.get(NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(
        NAME, PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the backend package from {PACKAGE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


def backend_module(name: str) -> ModuleType:
    """A standard-library-only module of the backend (``parameters``, ``columns``)."""
    _backend_package()
    return importlib.import_module(f"{NAME}.{name}")


def tables() -> Any:
    """The ``urbansig.parameters`` module (Parameter, parameters(), defaults())."""
    _backend_package()
    return importlib.import_module(f"{NAME}.parameters")


def parameter_table(task: str) -> tuple[Any, ...]:
    """The parameters of backend task ``task``, in dialog order."""
    return tuple(tables().parameters(task))
