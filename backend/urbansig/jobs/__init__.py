"""The job registry: one module per task, each exposing ``JOB``; imported on demand."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from urbansig.protocol import BadInput, Events, JobSpec

# task name -> module that defines JOB. Modules import their heavy stack inside ``run``.
JOB_MODULES: dict[str, str] = {
    "clustertraffictiles": "urbansig.jobs.clustertraffictiles",
    "createh3grid": "urbansig.jobs.createh3grid",
    "diagnostics": "urbansig.jobs.diagnostics",
    "embedregionsmusecl": "urbansig.jobs.embedregionsmusecl",
    "generatedemocity": "urbansig.jobs.generatedemocity",
    "applyrawmodel": "urbansig.jobs.applyrawmodel",
    "pooltrajectoriesraw": "urbansig.jobs.pooltrajectoriesraw",
    "predictindicator": "urbansig.jobs.predictindicator",
}


@dataclass(frozen=True)
class Option:
    """One input, parameter or output of a job (also a command-line flag)."""

    name: str
    section: str  # "inputs", "params" or "outputs"
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    is_path: bool = False  # inputs/outputs holding a file or folder path


@dataclass(frozen=True)
class Job:
    """A backend task: validated options and the function that runs it."""

    task: str
    summary: str
    run: Callable[[JobSpec, Events], dict[str, Any]]
    options: tuple[Option, ...] = field(default_factory=tuple)

    def option(self, section: str, name: str) -> Option | None:
        return next((o for o in self.options if o.section == section and o.name == name), None)


def get_job(task: str) -> Job:
    """The job for ``task``; a BadInput listing the known tasks if there is none."""
    module = JOB_MODULES.get(task)
    if module is None:
        raise BadInput(f"Unknown task {task!r}; known tasks: {', '.join(sorted(JOB_MODULES))}.")
    return importlib.import_module(module).JOB
