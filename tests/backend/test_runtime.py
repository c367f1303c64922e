"""The backend as the plugin runs it: a child process printing JSON-lines events."""

import json
import signal
import subprocess
import sys
import time

import pyogrio
import pytest

from urbansig.protocol import SPEC_VERSION


def write_spec(tmp_path, task="createh3grid", **sections):
    spec = {"version": SPEC_VERSION, "task": task, "device": "cpu", "seed": 0, **sections}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_grid_job_round_trip(tmp_path, run_cli):
    out = tmp_path / "grid.gpkg"
    spec = write_spec(
        tmp_path,
        inputs={"extent": "4.80,45.72,4.90,45.79"},
        params={"resolution": 8},
        outputs={"output": str(out)},
    )
    done = run_cli("run", str(spec))
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)  # every stdout line is an event
    kinds = [e["event"] for e in events]
    assert kinds[0] == "progress" and kinds[-1] == "result"
    result = events[-1]
    assert result["outputs"]["output"] == str(out)
    n_cells = result["metrics"]["n_cells"]
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == n_cells > 50
    assert frame["region_id"].str.len().eq(15).all()


def test_bad_input_is_an_error_event_and_exit_2(tmp_path, run_cli):
    out = tmp_path / "grid.gpkg"
    spec = write_spec(
        tmp_path,
        inputs={"extent": "4.8,45.7,4.9,45.8"},
        params={"resolution": 14},
        outputs={"output": str(out)},
    )
    done = run_cli("run", str(spec))
    assert done.returncode == 2
    error = events_of(done.stdout)[-1]
    assert error["event"] == "error" and error["kind"] == "bad_input"
    assert "MAX_CELLS" in error["message"] and "RESOLUTION 14" in error["message"]
    assert list(tmp_path.iterdir()) == [spec]


@pytest.mark.parametrize(
    ("sections", "needle"),
    [
        ({"params": {"resolution": 8}, "outputs": {"output": "/nonexistent/dir/x.gpkg"}}, "OUTPUT"),
        ({"inputs": {"extent": "1,1,1,1"}, "params": {"resolution": 8}}, "OUTPUT is required"),
        ({"inputs": {"extent": "5,5,1,1"}, "params": {"resolution": 3}, "outputs": {}}, "OUTPUT"),
        ({"params": {"resolution": "abc"}}, "RESOLUTION"),
    ],
)
def test_validation_names_the_parameter(tmp_path, run_cli, sections, needle):
    done = run_cli("run", str(write_spec(tmp_path, **sections)))
    assert done.returncode == 2
    assert needle in events_of(done.stdout)[-1]["message"]


def test_unknown_task_and_missing_spec(tmp_path, run_cli):
    done = run_cli("run", str(write_spec(tmp_path, task="nope")))
    assert done.returncode == 2 and "known tasks" in events_of(done.stdout)[-1]["message"]
    done = run_cli("run", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "not found" in events_of(done.stdout)[-1]["message"]


def _start_slow_grid(tmp_path, env):
    out = tmp_path / "big.gpkg"
    spec = write_spec(
        tmp_path,
        inputs={"extent": "4.0,45.0,6.0,46.5"},
        params={"resolution": 10, "max_cells": 50_000_000},
        outputs={"output": str(out)},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbansig", "run", str(spec), "--watch-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    first = json.loads(proc.stdout.readline())  # the job has started
    assert first["event"] == "progress"
    time.sleep(1.0)
    return proc, spec


def test_sigterm_cancels_and_leaves_nothing(tmp_path, child_env):
    proc, spec = _start_slow_grid(tmp_path, child_env)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert events_of(stdout)[-1]["kind"] == "cancelled"
    assert sorted(tmp_path.iterdir()) == [spec]


def test_child_exits_when_parent_goes_away(tmp_path, child_env):
    proc, spec = _start_slow_grid(tmp_path, child_env)
    proc.stdin.close()  # what the OS does when the parent dies
    proc.stdin = None
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert sorted(tmp_path.iterdir()) == [spec]


def test_friendly_subcommand(tmp_path, run_cli):
    out = tmp_path / "g.gpkg"
    done = run_cli(
        "createh3grid",
        "--extent",
        "4.80,45.72,4.90,45.79",
        "--resolution",
        "7",
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "done:" in done.stdout and out.exists()
    info = run_cli("info")
    assert json.loads(info.stdout)["device"] in ("cpu", "cuda:0", "cuda")


def test_stray_prints_do_not_corrupt_events(tmp_path, child_env):
    out = tmp_path / "g.gpkg"
    spec = write_spec(
        tmp_path,
        inputs={"extent": "4.80,45.72,4.90,45.79"},
        params={"resolution": 7},
        outputs={"output": str(out)},
    )
    code = (
        "import sys, builtins; from urbansig.runtime import run_protected\n"
        "import urbansig.jobs.createh3grid as m\n"
        "orig = m.JOB.run\n"
        "def noisy(spec, events):\n"
        "    print('library chatter'); return orig(spec, events)\n"
        "object.__setattr__(m.JOB, 'run', noisy)\n"
        f"sys.exit(run_protected({str(spec)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env
    )
    assert done.returncode == 0, done.stderr
    assert "library chatter" in done.stderr
    assert events_of(done.stdout)[-1]["event"] == "result"
