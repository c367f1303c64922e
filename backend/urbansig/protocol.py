"""The job protocol shared with the plugin: a versioned JSON job spec and JSON-lines events.

A job spec is ``{"version": 1, "task": ..., "inputs": {...}, "params": {...},
"outputs": {...}, "device": "auto", "seed": 0}``, optionally with ``"subject"`` (what the run
is about as the user names it, e.g. the input layer's name: reports put it in their title).
Inputs and outputs are absolute paths.
The child prints one JSON object per line on stdout, each with an ``event`` key:
``progress`` (``fraction`` 0..1, ``message``), ``log`` (``message``), ``metric`` (``name``,
``value``), ``warning`` (``message``), ``result`` (``outputs``, ``metrics``) and ``error``
(``message``, ``kind``: one of ERROR_KINDS).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

SPEC_VERSION = 1
EVENT_KINDS = ("progress", "log", "metric", "warning", "result", "error")
ERROR_KINDS = ("bad_input", "cancelled", "internal")
DEVICES = ("auto", "cpu", "cuda")


class JobError(Exception):
    """An error the user can act on; ``kind`` is one of ERROR_KINDS."""

    def __init__(self, message: str, kind: str = "bad_input") -> None:
        super().__init__(message)
        self.kind = kind


class BadInput(JobError):
    """Invalid input: the message names the parameter and says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "bad_input")


class Cancelled(JobError):
    """The run was cancelled (SIGTERM from the parent, or the parent went away)."""

    def __init__(self, message: str = "The run was cancelled.") -> None:
        super().__init__(message, "cancelled")


@dataclass
class JobSpec:
    """What to run: a task name, input and output paths, parameters, device and seed."""

    task: str
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    seed: int = 0
    version: int = SPEC_VERSION
    subject: str = ""  # the main input as the user names it (report titles); may be empty

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        if not isinstance(data, dict):
            raise BadInput("The job spec must be a JSON object.")
        version = data.get("version")
        if version != SPEC_VERSION:
            raise BadInput(
                f"Job spec version {version!r} is not supported (this backend reads version "
                f"{SPEC_VERSION}); update the plugin and its backend together."
            )
        if not isinstance(data.get("task"), str):
            raise BadInput("The job spec has no 'task'.")
        known = {"task", "inputs", "params", "outputs", "device", "seed", "version", "subject"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"Unknown keys in the job spec: {', '.join(unknown)}.")
        spec = cls(**data)
        if spec.device not in DEVICES:
            raise BadInput(f"DEVICE must be one of {', '.join(DEVICES)}, not {spec.device!r}.")
        for section in ("inputs", "params", "outputs"):
            if not isinstance(getattr(spec, section), dict):
                raise BadInput(f"The job spec's '{section}' must be an object.")
        if not isinstance(spec.subject, str):
            raise BadInput("The job spec's 'subject' must be a text.")
        return spec

    @classmethod
    def load(cls, path: str | Path) -> JobSpec:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BadInput(f"Job spec file not found: {path}") from exc
        except json.JSONDecodeError as exc:
            raise BadInput(f"Job spec {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Events:
    """Writes protocol events as JSON lines; also the job's cancellation flag.

    ``progress`` is rate-limited (at most every ``min_interval`` seconds, always at 0 and 1).
    ``check_cancelled`` raises :class:`Cancelled` once :meth:`cancel` was called.
    """

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.1) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._min_interval = min_interval
        self._last_progress = 0.0

    def emit(self, event: str, **payload: Any) -> None:
        line = json.dumps({"event": event, **payload}, default=_jsonable, allow_nan=False)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if 0.0 < fraction < 1.0 and now - self._last_progress < self._min_interval:
            return
        self._last_progress = now
        self.emit("progress", fraction=round(fraction, 4), message=message)

    def log(self, message: str) -> None:
        self.emit("log", message=message)

    def warning(self, message: str) -> None:
        self.emit("warning", message=message)

    def metric(self, name: str, value: float | int | str, **extra: Any) -> None:
        self.emit("metric", name=name, value=tidy(value), **extra)

    def result(self, outputs: dict[str, Any], metrics: dict[str, Any] | None = None) -> None:
        self.emit("result", outputs=outputs, metrics=tidy(metrics or {}))

    def error(self, message: str, kind: str = "internal") -> None:
        self.emit("error", message=message, kind=kind if kind in ERROR_KINDS else "internal")

    def cancel(self) -> None:
        self._cancel.set()

    def muted(self) -> Events:
        """Events that write nothing and share this one's cancellation flag."""
        quiet = Events(open(os.devnull, "w", encoding="utf-8"))
        quiet._cancel = self._cancel
        return quiet

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def stage(self, start: float, end: float) -> StageEvents:
        """A view whose progress 0..1 maps onto ``start..end`` of this one."""
        return StageEvents(self, start, end)


class StageEvents:
    """Progress of one stage of a job, mapped into a sub-range of the whole."""

    def __init__(self, parent: Events | StageEvents, start: float, end: float) -> None:
        self._parent = parent
        self._start = start
        self._end = end

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        self._parent.progress(self._start + (self._end - self._start) * fraction, message)

    def stage(self, start: float, end: float) -> StageEvents:
        return StageEvents(self, start, end)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)


def tidy(value: Any) -> Any:
    """Floats (also inside lists and dicts) to four significant digits, never rounding
    the whole part (37273.4 -> 37273, 0.190791 -> 0.1908); other values unchanged."""
    import math

    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [tidy(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return round(value, max(0, 3 - math.floor(math.log10(abs(value)))))
    return value


def _jsonable(value: Any) -> Any:
    """Numpy scalars and arrays, paths and sets to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, set, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
