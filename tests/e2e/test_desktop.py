"""The QGIS desktop as a user sees it: a real window under Xvfb, the toolbox and a result."""

import json
import os
import shutil
import subprocess
from pathlib import Path

from qgis.PyQt.QtGui import QColor, QImage

STARTUP = Path(__file__).resolve().parent / "desktop_startup.py"


def test_toolbox_and_styled_result_in_the_desktop(qgis_env, qgis_binary, tmp_path):
    xvfb_run, qgis = shutil.which("xvfb-run"), shutil.which("qgis")
    assert xvfb_run and qgis, "the desktop test needs xvfb-run and qgis (make setup installs them)"
    profiles = tmp_path / "profiles-root"
    env = dict(qgis_env, QGIS_CUSTOM_CONFIG_PATH=str(profiles), URBANSIG_DESKTOP_OUT=str(tmp_path))
    enabled = subprocess.run(
        [qgis_binary, "plugins", "enable", "urban_signatures"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enabled.returncode == 0, enabled.stderr
    env.pop("QT_QPA_PLATFORM")  # a real (virtual) screen
    done = subprocess.run(
        [
            xvfb_run,
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            qgis,
            "--nologo",
            "--noversioncheck",
            "--profiles-path",
            str(profiles),
            "--code",
            str(STARTUP),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seen_file = tmp_path / "seen.json"
    assert seen_file.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(seen_file.read_text())
    assert seen["provider"] == "Urban Signatures"
    assert {"urbansig:createh3grid", "urbansig:setupbackend"} <= set(seen["algorithms"])
    assert seen["layers"] and seen["layers"][0][1] == "singleSymbol"
    canvas = QImage(str(tmp_path / "canvas.png"))
    window = QImage(str(tmp_path / "window.png"))
    assert window.width() >= 1000 and canvas.width() > 300
    teal = 0  # the style's fill (62,166,160 at 43% over white) must be on the canvas
    for x in range(0, canvas.width(), 5):
        for y in range(0, canvas.height(), 5):
            c = QColor(canvas.pixel(x, y))
            if c.green() > c.red() + 20 and c.blue() > c.red() + 20:
                teal += 1
    assert teal > 100
    keep = os.environ.get("URBANSIG_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("window.png", "canvas.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)
