"""A scripted backend child for runner tests: the real protocol runtime, scripted jobs.

Usage (as the runner calls it): ``python fake_backend.py run spec.json --watch-stdin``.
The spec's ``params.scenario`` picks: progress, error, crash, hang, hang_ignoring_term.
"""

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backend"))

from urbansig import jobs, parameters  # noqa: E402
from urbansig.cli import main  # noqa: E402
from urbansig.protocol import BadInput  # noqa: E402


def run(spec, events):
    scenario = spec.params["scenario"]
    pid_file = spec.params.get("pid_file")
    if pid_file:
        Path(pid_file).write_text(str(os.getpid()))
    if scenario == "progress":
        for i in range(1, 5):
            events.progress(i / 4, f"step {i}")
        events.log("a log line")
        events.metric("ari", 0.87)
        events.warning("a warning")
        return {"outputs": {"output": "/tmp/x.gpkg"}, "metrics": {"ari": 0.87}}
    if scenario == "error":
        raise BadInput("N_CLUSTERS must be at most the number of tiles (12).")
    if scenario == "crash":
        print("native library exploded", file=sys.stderr, flush=True)
        os._exit(9)
    if scenario == "hang_ignoring_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:  # silent: no events at all
        time.sleep(0.05)


jobs.JOB_MODULES["fake"] = "__main__"
parameters.TABLE_MODULES["fake"] = "__main__"
PARAMETERS = (
    parameters.Parameter("SCENARIO", "Scenario", "string", help="what to do"),
    parameters.Parameter(
        "PID_FILE", "PID file", "string", help="where to write the pid", optional=True
    ),
)
JOB = jobs.Job(task="fake", summary="scripted", run=run)

if __name__ == "__main__":
    sys.exit(main())
