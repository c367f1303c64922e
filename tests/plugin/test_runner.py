"""The runner against a scripted child: events, errors, crashes, silence + cancel, orphans."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback


def spec(scenario, **params):
    from urban_signatures.plugin.runner import make_spec

    return make_spec("fake", {}, {"scenario": scenario, **params}, {}, "cpu", 0)


class RecordingFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings, self.texts = [], [], []
        self.progressChanged.connect(lambda p: self.values.append(p))
        self.values = []

    def pushInfo(self, info):  # noqa: N802
        self.infos.append(info)

    def pushWarning(self, warning):  # noqa: N802
        self.warnings.append(warning)

    def setProgressText(self, text):  # noqa: N802
        self.texts.append(text)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_progress_log_metric_warning_result(fake_command):
    from urban_signatures.plugin.runner import run_job

    feedback = RecordingFeedback()
    result = run_job(spec("progress"), feedback, command=fake_command)
    assert result["outputs"] == {"output": "/tmp/x.gpkg"} and result["metrics"]["ari"] == 0.87
    assert feedback.values[-1] == pytest.approx(100.0)
    assert "step 4" in feedback.texts
    assert "a log line" in feedback.infos and "ari: 0.87" in feedback.infos
    assert feedback.warnings == ["a warning"]


def test_error_event_becomes_exception_with_advice(fake_command):
    from urban_signatures.plugin.runner import run_job

    with pytest.raises(QgsProcessingException) as raised:
        run_job(spec("error"), QgsProcessingFeedback(), command=fake_command)
    text = str(raised.value)
    assert "N_CLUSTERS must be at most" in text and "Check the parameter" in text


def test_crash_without_event(fake_command):
    from urban_signatures.plugin.runner import run_job

    with pytest.raises(QgsProcessingException) as raised:
        run_job(spec("crash"), QgsProcessingFeedback(), command=fake_command)
    text = str(raised.value)
    assert "exit code 9" in text and "native library exploded" in text
    assert "Backend diagnostics" in text


def test_missing_interpreter(tmp_path):
    from urban_signatures.plugin.runner import run_job

    with pytest.raises(QgsProcessingException) as raised:
        run_job(spec("progress"), None, command=[str(tmp_path / "nope" / "python")])
    assert "could not be started" in str(raised.value)
    assert "Set up backend environment" in str(raised.value)


@pytest.mark.parametrize("scenario", ["hang", "hang_ignoring_term"])
def test_cancel_a_silent_child(fake_command, tmp_path, scenario):
    from urban_signatures.plugin import runner

    pid_file = tmp_path / "pid"
    feedback = QgsProcessingFeedback()

    def cancel_when_started():
        while not pid_file.exists():
            time.sleep(0.05)
        time.sleep(0.3)
        feedback.cancel()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        runner.run_job(spec(scenario, pid_file=str(pid_file)), feedback, command=fake_command)
    elapsed = time.monotonic() - started
    assert elapsed < 20  # terminate, then kill after the grace period
    pid = int(pid_file.read_text())
    assert not alive(pid)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_child_exits_when_qgis_is_killed(fake_command, tmp_path, how):
    """Kill the parent: the child sees stdin close and exits (no orphan, no spec file)."""
    pid_file = tmp_path / "pid"
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(sys.modules['urban_signatures'].__file__).parent.parent)!r})\n"
        "from urban_signatures.plugin.runner import run_job\n"
        f"run_job({json.dumps(spec('hang', pid_file=str(pid_file)))}, None, command={fake_command!r})\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert alive(child)
    parent.send_signal(how)
    parent.wait()
    deadline = time.monotonic() + 2
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    spec_dir = Path(tempfile.gettempdir()) / "urbansig-jobs"
    assert list(spec_dir.glob(f"fake-{parent.pid}-*.json")) == []


def test_orphan_spec_files_of_dead_runs_are_removed(tmp_path):
    from urban_signatures.plugin.runner import remove_orphan_specs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"predictindicator-{dead.pid}-0123abcd.json"
    running = tmp_path / f"predictindicator-{os.getpid()}-0123abcd.json"
    for path in (orphan, running):
        path.write_text("{}")
    assert remove_orphan_specs(tmp_path) == [orphan]
    assert not orphan.exists() and running.exists()
