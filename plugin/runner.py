"""Run a backend job in a child process and stream its events into QgsProcessingFeedback."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from qgis.core import (  # type: ignore[attr-defined]  # 3.22 stubs lack QgsProcessingException
    QgsProcessingException,
    QgsProcessingFeedback,
)

from . import backend_env
from .process import ChildStartError, run_child
from .settings import backend_python_setting

SPEC_VERSION = 1
_ERROR_ADVICE = {
    "bad_input": "Check the parameter named above and run again.",
    "cancelled": "The run was cancelled; no output was written.",
    "internal": (
        "This is a bug or an environment problem: run 'Backend diagnostics' and attach its "
        "report and this log to a bug report."
    ),
}


def resolve_backend_python() -> Path:
    """The backend interpreter, or a QgsProcessingException that says how to get one."""
    try:
        return backend_env.backend_python(backend_python_setting())
    except backend_env.BackendEnvError as exc:
        raise QgsProcessingException(str(exc)) from exc


def backend_status() -> tuple[bool, str]:
    """(ready, message) for canExecute(): what is missing and how to fix it."""
    try:
        python = backend_env.backend_python(backend_python_setting())
        return True, backend_env.check_backend(python)
    except backend_env.BackendEnvError as exc:
        return False, str(exc)


def make_spec(
    task: str,
    inputs: dict[str, Any],
    params: dict[str, Any],
    outputs: dict[str, str],
    device: str = "auto",
    seed: int = 0,
    subject: str = "",
) -> dict[str, Any]:
    """A version-1 job spec (the backend's urbansig.protocol.JobSpec as JSON); ``subject``
    (the main input's name, for report titles) only when there is one."""
    spec = {
        "version": SPEC_VERSION,
        "task": task,
        "inputs": {k: v for k, v in inputs.items() if v not in (None, "")},
        "params": {k: v for k, v in params.items() if v is not None},
        "outputs": {k: v for k, v in outputs.items() if v},
        "device": device,
        "seed": int(seed),
    }
    if subject:
        spec["subject"] = subject
    return spec


class EventSink:
    """Turns the child's JSON-lines events into feedback calls; keeps result and error."""

    def __init__(self, feedback: QgsProcessingFeedback | None) -> None:
        self.feedback = feedback
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.metrics: dict[str, Any] = {}
        self._last_message = ""

    def __call__(self, line: str) -> None:
        try:
            event = json.loads(line)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            self._info(f"[backend] {line}")
            return
        if kind == "progress":
            message = event.get("message", "")
            if self.feedback is not None:
                self.feedback.setProgress(100.0 * float(event.get("fraction", 0.0)))
                if message and message != self._last_message:
                    self.feedback.setProgressText(message)
            self._last_message = message
        elif kind == "log":
            self._info(event.get("message", ""))
        elif kind == "metric":
            self.metrics[event["name"]] = event.get("value")
            self._info(f"{event['name']}: {event.get('value')}")
        elif kind == "warning":
            if self.feedback is not None:
                self.feedback.pushWarning(event.get("message", ""))
        elif kind == "result":
            self.result = event
        elif kind == "error":
            self.error = event

    def _info(self, text: str) -> None:
        if self.feedback is not None:
            self.feedback.pushInfo(text)


def remove_orphan_specs(spec_dir: Path) -> list[Path]:
    """Delete spec files of runs whose QGIS process is gone (killed before cleaning up).

    Spec files are named ``<task>-<pid>-<id>.json``; the backend deletes its spec once
    read, so only a run killed before its child started leaves one. Returns those removed.
    """
    removed = []
    for path in spec_dir.glob("*-*-*.json"):
        pid = path.stem.split("-")[-2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def run_job(
    spec: dict[str, Any],
    feedback: QgsProcessingFeedback | None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``spec`` in the backend; returns the result event (``outputs``, ``metrics``).

    ``command`` replaces ``[<backend python>, -m, urbansig]`` (tests use a scripted child).
    Every failure becomes a QgsProcessingException whose text says what to do.
    """
    if command is None:
        command = backend_env.backend_command(resolve_backend_python())
    spec_dir = Path(tempfile.gettempdir()) / "urbansig-jobs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    remove_orphan_specs(spec_dir)
    spec_path = spec_dir / f"{spec['task']}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    sink = EventSink(feedback)

    def on_stderr(line: str) -> None:
        if feedback is not None and line.strip():
            feedback.pushDebugInfo(line)

    try:
        outcome = run_child(
            [*command, "run", str(spec_path), "--watch-stdin", "--remove-spec"],
            on_stdout=sink,
            on_stderr=on_stderr,
            feedback=feedback,
            env=backend_env.child_environment(),
        )
    except ChildStartError as exc:
        raise QgsProcessingException(
            f"The Urban Signatures backend could not be started: {exc}. {backend_env.SETUP_HINT}"
        ) from exc
    finally:
        spec_path.unlink(missing_ok=True)
    if outcome.cancelled:
        raise QgsProcessingException("Cancelled: the backend was stopped and wrote no output.")
    if sink.error is not None:
        kind = sink.error.get("kind", "internal")
        advice = _ERROR_ADVICE.get(kind, _ERROR_ADVICE["internal"])
        raise QgsProcessingException(f"{sink.error.get('message', 'Backend error')} {advice}")
    if outcome.returncode != 0:
        tail = "\n".join(outcome.stderr_tail[-15:])
        raise QgsProcessingException(
            f"The backend stopped unexpectedly (exit code {outcome.returncode}) without a "
            f"message. Its last output:\n{tail}\n{_ERROR_ADVICE['internal']}"
        )
    if sink.result is None:
        raise QgsProcessingException(
            f"The backend finished without a result. {_ERROR_ADVICE['internal']}"
        )
    return sink.result
