"""Run a child process, stream its stdout/stderr lines, and honour cancellation.

QGIS-free (feedback is duck-typed: ``isCanceled()``), shared by the job runner and the
backend environment setup. stdout and stderr are read on their own threads; the caller's
loop polls for cancellation every ``poll_s`` seconds even when the child prints nothing.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Variables QGIS sets for its own Python and libraries; they break another interpreter.
LEAKY_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONNOUSERSITE",
    "PROJ_LIB",
    "PROJ_DATA",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "LD_LIBRARY_PATH",
    "QGIS_PREFIX_PATH",
    "VIRTUAL_ENV",
)


class Cancellable(Protocol):
    """What the loop needs of a feedback object (QgsProcessingFeedback has it)."""

    def isCanceled(self) -> bool: ...  # noqa: N802 - QGIS API


class ChildStartError(RuntimeError):
    """The child program could not be started (missing, not executable)."""


@dataclass
class ChildOutcome:
    returncode: int
    cancelled: bool
    stderr_tail: list[str]


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without QGIS's Python and GDAL/PROJ settings."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run_child(
    args: Sequence[str],
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None] | None = None,
    feedback: Cancellable | None = None,
    env: dict[str, str] | None = None,
    poll_s: float = 0.1,
    terminate_grace_s: float = 5.0,
    stderr_tail_lines: int = 60,
) -> ChildOutcome:
    """Run ``args`` to completion, calling ``on_stdout`` for each stdout line.

    The child's stdin stays open (a pipe) until it ends, so a child that watches stdin exits
    when this process dies. On cancellation the child is terminated, then killed after
    ``terminate_grace_s``.
    """
    try:
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env if env is not None else clean_environment(),
            bufsize=0,
        )
    except OSError as exc:
        raise ChildStartError(f"cannot start {args[0]}: {exc.strerror or exc}") from exc
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    tail: list[str] = []
    open_streams, cancelled = 2, False
    try:
        while open_streams:
            if not cancelled and feedback is not None and feedback.isCanceled():
                cancelled = True
                _stop(proc, terminate_grace_s)
            try:
                stream, line = lines.get(timeout=poll_s)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif stream == "out":
                on_stdout(line)
            else:
                tail = (tail + [line])[-stderr_tail_lines:]
                if on_stderr is not None:
                    on_stderr(line)
        returncode = proc.wait()
    except BaseException:
        _stop(proc, terminate_grace_s)
        raise
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
    return ChildOutcome(returncode, cancelled, tail)


def _pump(stream, name: str, lines: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        lines.put((name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
    stream.close()
    lines.put((name, None))


def _stop(proc: subprocess.Popen, grace_s: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
