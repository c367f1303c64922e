"""Command line: ``python -m urbansig run spec.json``, ``info``, and one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from urbansig import __version__
from urbansig.jobs import JOB_MODULES, Job, get_job
from urbansig.protocol import DEVICES, Events, JobError, JobSpec
from urbansig.runtime import EXIT_CODES, EXIT_OK, run_protected, run_spec


class ConsoleEvents(Events):
    """Events printed for a person at a terminal instead of as JSON lines."""

    def emit(self, event: str, **payload: Any) -> None:
        if event == "progress":
            text = f"[{payload['fraction'] * 100:5.1f}%] {payload.get('message', '')}"
        elif event == "metric":
            text = f"metric {payload['name']} = {payload['value']}"
        elif event == "result":
            text = "done: " + json.dumps(payload, default=str)
        else:
            text = f"{event}: {payload.get('message', '')}"
        print(text, file=sys.stderr if event in ("error", "warning") else sys.stdout, flush=True)


def build_parser(with_jobs: bool = True) -> argparse.ArgumentParser:
    """The parser; ``with_jobs=False`` skips importing job modules (fast ``run``/``info``)."""
    parser = argparse.ArgumentParser(prog="python -m urbansig", description=__doc__)
    parser.add_argument("--version", action="version", version=f"urbansig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a JSON job spec, printing JSON-lines events")
    run.add_argument("spec", help="path of the job spec (JSON)")
    run.add_argument(
        "--watch-stdin", action="store_true", help="cancel when stdin closes (parent died)"
    )
    run.add_argument(
        "--remove-spec", action="store_true", help="delete the spec file once it is read"
    )
    info = sub.add_parser("info", help="print backend versions and the device as JSON")
    info.add_argument("--device", default="auto", choices=DEVICES)

    for task in sorted(JOB_MODULES) if with_jobs else ():
        _add_job_parser(sub, get_job(task))
    return parser


def _add_job_parser(sub: Any, job: Job) -> None:
    parser = sub.add_parser(job.task, help=job.summary, description=job.summary)
    for option in job.options:
        kwargs: dict[str, Any] = {
            "help": option.help or option.label,
            "dest": f"{option.section}.{option.key}",
        }
        if option.choices:
            kwargs["choices"] = list(option.choices)
        parser.add_argument(f"--{option.key.replace('_', '-')}", **kwargs)
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON-lines events")


def _spec_from_args(args: argparse.Namespace) -> JobSpec:
    spec = JobSpec(task=args.command, device=args.device, seed=args.seed)
    for key, value in vars(args).items():
        if "." not in key or value is None:
            continue
        section, name = key.split(".", 1)
        option = get_job(args.command).option(section, name)
        if option is not None and option.is_path:
            value = str(Path(value).resolve())
        getattr(spec, section)[name] = value
    return spec


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(with_jobs=not argv or argv[0] not in ("run", "info")).parse_args(argv)
    if args.command == "run":
        return run_protected(args.spec, args.watch_stdin, args.remove_spec)
    if args.command == "info":
        from urbansig.diagnostics import backend_info

        print(json.dumps(backend_info(args.device), indent=2))
        return EXIT_OK
    events: Events = Events() if args.json else ConsoleEvents()
    try:
        run_spec(_spec_from_args(args), events)
    except JobError as exc:
        events.error(str(exc), exc.kind)
        return EXIT_CODES[exc.kind]
    return EXIT_OK
