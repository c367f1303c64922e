"""Running one job in this process: validation, cancellation, events, exit codes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from urbansig.io.atomic import output_transaction
from urbansig.io.output_checks import check_outputs, describe_os_error
from urbansig.jobs import Job, get_job
from urbansig.parameters import Parameter
from urbansig.protocol import BadInput, Cancelled, Events, JobError, JobSpec
from urbansig.report import report_subject

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_CANCELLED = 0, 2, 3, 130
EXIT_CODES = {"bad_input": EXIT_BAD_INPUT, "cancelled": EXIT_CANCELLED, "internal": EXIT_INTERNAL}


def apply_defaults(job: Job, spec: JobSpec) -> None:
    """Fill defaults, convert types, check required entries, choices and ranges, naming the
    parameter at fault. A field list given as ``""`` means "no fields", not the default."""
    for option in job.options:
        section: dict[str, Any] = getattr(spec, option.section)
        value = section.get(option.key)
        if value is None or value == "" or value == []:
            if job.required(option.section, option.key):
                raise BadInput(f"{option.name} is required: {option.help or option.label}.")
            if option.kind == "fields" and value == "":
                continue  # cleared on purpose
            if option.default is not None:
                section[option.key] = option.default
            elif option.section == "params":
                section[option.key] = None  # declared, not given: jobs read None
            else:
                section.pop(option.key, None)
            continue
        value = convert(option, value)
        section[option.key] = value
        if option.kind == "layers":
            for path in value:
                _check_path(option.name, option.section, path)
        elif option.is_path:
            _check_path(option.name, option.section, str(value))
    known = {(o.section, o.key) for o in job.options}
    for name in ("inputs", "params", "outputs"):
        unknown = sorted(k for k in getattr(spec, name) if (name, k) not in known)
        if unknown:
            raise BadInput(f"Unknown {name} for task {job.task}: {', '.join(unknown)}.")


def convert(option: Parameter, value: Any) -> Any:
    """``value`` as the parameter's type, within its choices and range; BadInput otherwise."""
    kind = option.kind
    try:
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            value = int(value)
        elif kind == "float":
            value = float(value)
        elif kind == "bool":
            value = _flag(value)
        elif kind == "layers":
            value = layer_list(value)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{option.name}: {value!r} is not valid ({exc}).") from exc
    if option.choices and value not in option.choices:
        allowed = ", ".join(option.choices)
        raise BadInput(f"{option.name} must be one of {allowed}, not {value!r}.")
    if kind in ("int", "float"):
        if option.minimum is not None and value < option.minimum:
            raise BadInput(f"{option.name} must be at least {option.minimum:g}, not {value}.")
        if option.maximum is not None and value > option.maximum:
            raise BadInput(f"{option.name} must be at most {option.maximum:g}, not {value}.")
    return value


def layer_list(value: Any) -> list[str]:
    """A list of layer sources from a list, or from one text of sources separated by ';'."""
    items = value.split(";") if isinstance(value, str) else list(value)
    paths = [str(item).strip() for item in items if str(item).strip()]
    if not paths:
        raise ValueError("no layer given")
    return paths


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def _check_path(name: str, section: str, value: str) -> None:
    path = Path(value.split("|", 1)[0])  # QGIS-style "file.gpkg|layername=x"
    if section == "inputs" and not path.exists():
        raise BadInput(f"{name}: input {value} does not exist.")


def run_spec(spec: JobSpec, events: Events) -> dict[str, Any]:
    """Validate and run one job; returns the result (outputs and metrics).

    Launched by torchrun, every process runs the job and trains its slice of each batch;
    only rank 0 reports and keeps its outputs (:mod:`urbansig.distributed`).
    """
    job = get_job(spec.task)
    apply_defaults(job, spec)
    check_outputs(job.options, spec)
    events.check_cancelled()
    with _process_group(spec.device) as main:
        events = events if main else events.muted()
        try:
            with output_transaction(commit=main), report_subject(spec.subject):
                result = job.run(spec, events) or {}
        except OSError as exc:
            raise BadInput(describe_os_error(job.options, spec, exc)) from exc
    outputs = result.get("outputs", dict(spec.outputs))
    events.result(outputs, result.get("metrics", {}))
    return result


@contextmanager
def _process_group(device: str) -> Iterator[bool]:
    """Joins torchrun's process group for the run (torch is imported only then); yields
    whether this process is the one that reports and writes."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield True
        return
    from urbansig import distributed

    distributed.init_from_environment(device)
    try:
        yield distributed.is_main()
    except BaseException:
        distributed.shutdown(wait=False)  # the launcher stops the other processes
        raise
    distributed.shutdown()


def run_protected(spec_path: str, watch_stdin: bool = False, remove_spec: bool = False) -> int:
    """Run a spec file as the plugin's child: events on the real stdout, stray prints to stderr.

    SIGTERM, SIGINT and (with ``watch_stdin``) end-of-file on stdin cancel the run; outputs
    being written are removed by their atomic writers. ``remove_spec`` deletes the spec
    file once read, so a killed parent leaves none behind.
    """
    events = Events(_event_stream())
    _install_cancel_handlers(events, watch_stdin)

    def load() -> JobSpec:
        try:
            return JobSpec.load(spec_path)
        finally:
            if remove_spec:
                Path(spec_path).unlink(missing_ok=True)

    return run_reported(load, events)


def run_reported(load: Callable[[], JobSpec], events: Events) -> int:
    """Load and run a spec; every failure becomes one error event. Returns the exit code.

    Only an unexpected failure (a bug) prints its traceback, on stderr.
    """
    try:
        run_spec(load(), events)
        return EXIT_OK
    except JobError as exc:
        events.error(str(exc), exc.kind)
        return EXIT_CODES[exc.kind]
    except KeyboardInterrupt:
        events.error("The run was cancelled.", "cancelled")
        return EXIT_CANCELLED
    except MemoryError:
        events.error("Out of memory: reduce the batch size or the input size.", "internal")
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
        traceback.print_exc(file=sys.stderr)
        events.error(f"Internal error: {type(exc).__name__}: {exc}", "internal")
        return EXIT_INTERNAL


def _event_stream() -> TextIO:
    """A private copy of stdout for events; fd 1 then points at stderr for stray output."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")


def _install_cancel_handlers(events: Events, watch_stdin: bool) -> None:
    def on_signal(signum: int, frame: Any) -> None:
        if events.cancelled:  # already unwinding: a second signal must not interrupt cleanup
            return
        events.cancel()
        raise Cancelled()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if watch_stdin:
        threading.Thread(target=_watch_stdin, daemon=True, name="stdin-watchdog").start()


def _watch_stdin() -> None:
    """Exit cleanly when the parent dies: its end of our stdin closes."""
    try:  # raw reads: a buffered reader's lock would block interpreter shutdown
        while os.read(sys.stdin.fileno(), 1024):
            pass
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
