"""Every method algorithm through the real qgis_process, on a tiny generated demo city."""

import json
import sqlite3
from pathlib import Path


def read_table(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def default_style(path: Path) -> list[tuple]:
    return read_table(path, "select styleName, useAsDefault from layer_styles")


def test_generate_demo_city(demo_city):
    city = Path(demo_city["OUTPUT"])
    manifest = json.loads((city / "manifest.json").read_text())
    assert manifest["size"] == "tiny" and manifest["n_tiles"] > 1000
    for key in ("TILES", "REGIONS", "POIS", "STATIONS", "STREETVIEW"):
        assert Path(demo_city[key]).exists() and default_style(Path(demo_city[key]))
    assert Path(demo_city["NETMOB"]).is_dir() and Path(demo_city["TRAJECTORIES"]).exists()
    assert json.loads(demo_city["METRICS"])["n_regions"] > 50


def test_predict_indicator(run_algorithm, demo_city, tmp_path):
    out, report = tmp_path / "pred.gpkg", tmp_path / "report.html"
    done, parsed = run_algorithm(
        "urbansig:predictindicator",
        INPUT=demo_city["REGIONS"],
        TARGET_FIELD="population_density",
        FEATURE_FIELDS="in_flow",
        MODEL=1,
        REPEATS=2,
        OUTPUT=out,
        REPORT=report,
        MODEL_FILE=tmp_path / "model.pt",
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(parsed["results"]["METRICS"])
    assert {"r2", "rmse", "mae"} <= set(metrics)
    rows = read_table(out, "select prediction, split from pred")
    assert rows and all(r[0] is not None for r in rows)
    assert {r[1] for r in rows} >= {"train", "test"}
    assert default_style(out) == [("urbansig", 1)]
    assert "R2" in report.read_text() or "r2" in report.read_text()
    assert (tmp_path / "model.pt").exists()


def test_predict_indicator_bad_field_is_named(run_algorithm, demo_city, tmp_path):
    done, _ = run_algorithm(
        "urbansig:predictindicator",
        INPUT=demo_city["REGIONS"],
        TARGET_FIELD="land_use_name",
        FEATURE_FIELDS="in_flow",
        OUTPUT=tmp_path / "pred.gpkg",
    )
    assert done.returncode != 0 and "land_use_name" in done.stderr
    assert not (tmp_path / "pred.gpkg").exists()
