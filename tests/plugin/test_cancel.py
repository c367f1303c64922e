"""Cancel in QGIS with the real backend: within 2 s no backend process, no output or
partial file, no job spec."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

BACKEND = Path(__file__).resolve().parents[2] / "backend"


@pytest.fixture(scope="module")
def tiny_city(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cancel") / "city"
    python = os.environ.get("URBANSIG_BACKEND_PYTHON")
    if not python:
        pytest.fail("URBANSIG_BACKEND_PYTHON must point at the backend environment")
    done = subprocess.run(
        [
            python,
            "-m",
            "urbansig",
            "generatedemocity",
            "--size",
            "tiny",
            "--days",
            "1",
            "--output",
            str(folder),
        ],
        env={**os.environ, "PYTHONPATH": str(BACKEND)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return folder


def test_cancel_stops_the_backend_and_leaves_nothing(
    provider, tiny_city, tmp_path, backend_children
):
    from qgis.core import QgsProcessingException

    out = tmp_path / "out"
    out.mkdir()
    alg = provider.algorithm("pooltrajectoriesraw").create()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    seen: list[int] = []

    def cancel_once_training():
        deadline = time.monotonic() + 120
        while not seen and time.monotonic() < deadline:
            seen.extend(backend_children(os.getpid()))
            time.sleep(0.1)
        time.sleep(4)
        feedback.cancel()

    threading.Thread(target=cancel_once_training, daemon=True).start()
    parameters = {
        "TRAJECTORIES": str(tiny_city / "trajectories.csv"),
        "REGIONS": str(tiny_city / "regions.gpkg"),
        "EPOCHS": 500,
        "OUTPUT": str(out / "raw.gpkg"),
        "MODEL_FILE": str(out / "raw.pt"),
        "REPORT": str(out / "raw.html"),
    }
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        alg.processAlgorithm(parameters, context, feedback)
    cancelled_at = time.monotonic()
    assert seen, "the backend child never started"
    while backend_children(os.getpid()) and time.monotonic() < cancelled_at + 2:
        time.sleep(0.05)
    assert backend_children(os.getpid()) == []
    assert sorted(os.listdir(out)) == [], "an output or partial file was left"
    spec_dir = Path(tempfile.gettempdir()) / "urbansig-jobs"
    assert list(spec_dir.glob(f"pooltrajectoriesraw-{os.getpid()}-*.json")) == []
