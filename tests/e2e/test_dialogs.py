"""The algorithms' Processing dialogs as a desktop user gets them (real widgets, offscreen)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WIDGETS = Path(__file__).resolve().parent / "dialog_widgets.py"


def test_every_number_field_shows_its_default_and_takes_keystrokes(qgis_env, tmp_path):
    out = tmp_path / "widgets.json"
    env = dict(qgis_env, PYTHONPATH=qgis_env["QGIS_PLUGINPATH"])
    done = subprocess.run(
        [sys.executable, str(WIDGETS), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(out.read_text())
    assert seen["checked"] >= 40, seen  # every algorithm's integer and decimal fields
    assert seen["problems"] == []
