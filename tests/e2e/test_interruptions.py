"""Killing qgis_process mid-run (SIGKILL, SIGTERM): within 2 s no backend process is left,
no output or partial file, no job spec. (Cancel from QGIS: tests/plugin/test_cancel.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_killing_qgis_process_leaves_nothing(
    qgis_binary, qgis_env, demo_city, tmp_path, how, backend_children, process_alive
):
    out = tmp_path / "out"
    out.mkdir()
    command = [
        qgis_binary,
        "run",
        "urbansig:pooltrajectoriesraw",
        "--",
        f"TRAJECTORIES={demo_city['TRAJECTORIES']}",
        f"REGIONS={demo_city['REGIONS']}",
        "EPOCHS=500",
        f"OUTPUT={out / 'raw.gpkg'}",
        f"MODEL_FILE={out / 'raw.pt'}",
        f"REPORT={out / 'raw.html'}",
    ]
    parent = subprocess.Popen(
        command, env=qgis_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    children: list[int] = []
    while not children and time.monotonic() < deadline and parent.poll() is None:
        children = backend_children(parent.pid)
        time.sleep(0.1)
    assert children, "the backend child never started"
    time.sleep(4)  # into reading and training
    assert parent.poll() is None, "the run ended before it could be interrupted"
    parent.send_signal(how)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 2
    while any(process_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_alive(pid) for pid in children), (
        "a backend process outlived qgis_process"
    )
    assert sorted(os.listdir(out)) == [], "an output or partial file was left"
    spec_dir = Path(tempfile.gettempdir()) / "urbansig-jobs"
    assert list(spec_dir.glob(f"*-{parent.pid}-*.json")) == []
