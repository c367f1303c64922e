"""The main job (make demo QUICK=1): every method on a tiny demo city, maps, project, report."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_demo_pipeline(qgis_env, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "plugin.demo_pipeline", "--quick", "--out", str(out)],
        cwd=REPO,
        env=qgis_env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("[") for line in lines) == 7 and lines[-1].startswith("Total")
    for gpkg in (
        "clusters",
        "musecl_regions",
        "musecl_prediction",
        "raw_regions",
        "raw_prediction",
    ):
        with sqlite3.connect(out / f"{gpkg}.gpkg") as db:
            assert db.execute("select count(*) from layer_styles").fetchone()[0] == 1
    for png in (
        "clusters",
        "land_use_truth",
        "population_predicted",
        "trips_predicted",
        "embedding_pca",
    ):
        assert (out / "maps" / f"{png}.png").stat().st_size > 5000
    project = out / "urban_signatures.qgz"
    assert project.stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert "Cluster mobile traffic tiles" in report and "maps/clusters.png" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"city", "clusters", "musecl", "musecl_predict", "raw", "raw_predict"}
    assert "ari" in json.dumps(metrics["clusters"]).lower()
