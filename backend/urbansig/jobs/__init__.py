"""The job registry: one module per task, each exposing ``JOB``; imported on demand."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from urbansig.parameters import Parameter, parameters
from urbansig.protocol import BadInput, Events, JobSpec

# task name -> module that defines JOB. Modules import their heavy stack inside ``run``.
JOB_MODULES: dict[str, str] = {
    "clustertraffictiles": "urbansig.jobs.clustertraffictiles",
    "createh3grid": "urbansig.jobs.createh3grid",
    "diagnostics": "urbansig.jobs.diagnostics",
    "embedregionsflows": "urbansig.jobs.embedregionsflows",
    "embedregionsmusecl": "urbansig.jobs.embedregionsmusecl",
    "generatedemocity": "urbansig.jobs.generatedemocity",
    "applyrawmodel": "urbansig.jobs.applyrawmodel",
    "pooltrajectoriesraw": "urbansig.jobs.pooltrajectoriesraw",
    "predictindicator": "urbansig.jobs.predictindicator",
}


@dataclass(frozen=True)
class Job:
    """A backend task: the function that runs it; its options are its parameter table."""

    task: str
    summary: str
    run: Callable[[JobSpec, Events], dict[str, Any]]

    @property
    def options(self) -> tuple[Parameter, ...]:
        """One parameter per job-spec entry (the first of those sharing a target)."""
        seen: dict[tuple[str, str], Parameter] = {}
        for p in parameters(self.task):
            seen.setdefault((p.section, p.key), p)
        return tuple(seen.values())

    def required(self, section: str, key: str) -> bool:
        """Whether the entry must be given: a parameter of that target is neither optional
        nor has a default."""
        return any(
            p.section == section and p.key == key and not p.optional and p.default is None
            for p in parameters(self.task)
        )

    def option(self, section: str, name: str) -> Parameter | None:
        return next((o for o in self.options if o.section == section and o.key == name), None)


def get_job(task: str) -> Job:
    """The job for ``task``; a BadInput listing the known tasks if there is none."""
    module = JOB_MODULES.get(task)
    if module is None:
        raise BadInput(f"Unknown task {task!r}; known tasks: {', '.join(sorted(JOB_MODULES))}.")
    return importlib.import_module(module).JOB
