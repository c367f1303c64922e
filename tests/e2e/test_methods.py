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


def test_pool_trajectories_raw_then_apply(run_algorithm, demo_city, tmp_path):
    out, model = tmp_path / "raw.gpkg", tmp_path / "raw.pt"
    done, parsed = run_algorithm(
        "urbansig:pooltrajectoriesraw",
        TRAJECTORIES=demo_city["TRAJECTORIES"],
        REGIONS=demo_city["REGIONS"],
        USER_LABELS=demo_city["USERS"],
        LABEL_FIELD="is_commuter",
        EPOCHS=2,
        OUTPUT=out,
        OUTPUT_USERS=tmp_path / "users.csv",
        MODEL_FILE=model,
        REPORT=tmp_path / "raw.html",
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(parsed["results"]["METRICS"])
    assert metrics["n_users"] > 10 and "raw_km_30min" in metrics
    columns = [row[1] for row in read_table(out, "pragma table_info(raw)")]
    assert "emb_000" in columns and "n_users" in columns
    assert default_style(out) == [("urbansig", 1)]
    done, parsed = run_algorithm(
        "urbansig:applyrawmodel",
        TRAJECTORIES=demo_city["TRAJECTORIES"],
        MODEL=model,
        OUTPUT_USERS=tmp_path / "applied.csv",
        OUTPUT_POINTS=tmp_path / "forecast.gpkg",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "applied.csv").read_text().count("\n") > 10
    assert read_table(tmp_path / "forecast.gpkg", "select count(*) from forecast")[0][0] > 0


def test_raw_needs_exactly_one_trajectory_source(run_algorithm, demo_city, tmp_path):
    done, _ = run_algorithm(
        "urbansig:pooltrajectoriesraw", REGIONS=demo_city["REGIONS"], OUTPUT=tmp_path / "r.gpkg"
    )
    assert done.returncode != 0 and "TRAJECTORIES" in done.stderr


def test_embed_regions_musecl(run_algorithm, demo_city, tmp_path):
    out = tmp_path / "musecl.gpkg"
    done, parsed = run_algorithm(
        "urbansig:embedregionsmusecl",
        REGIONS=demo_city["REGIONS"],
        RASTER=demo_city["REMOTE_SENSING"],
        STREETVIEW=demo_city["STREETVIEW"],
        POIS=demo_city["POIS"],
        OD=demo_city["OD_FLOWS"],
        EPOCHS_IMAGE=1,
        EPOCHS_FUSION=3,
        EPOCHS_TABULAR=3,
        DIM=16,
        OUTPUT=out,
        MODEL_FILE=tmp_path / "m.pt",
        REPORT=tmp_path / "musecl.html",
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(parsed["results"]["METRICS"])
    assert metrics["n_regions"] > 50
    columns = [row[1] for row in read_table(out, "pragma table_info(musecl)")]
    assert "emb_015" in columns and "emb_016" not in columns
    assert default_style(out) == [("urbansig", 1)]


def test_musecl_needs_two_modalities(run_algorithm, demo_city, tmp_path):
    done, _ = run_algorithm(
        "urbansig:embedregionsmusecl",
        REGIONS=demo_city["REGIONS"],
        POIS=demo_city["POIS"],
        MODALITIES="poi_text",
        OUTPUT=tmp_path / "m.gpkg",
    )
    assert done.returncode != 0
    assert "modalit" in done.stderr.lower()
    assert not (tmp_path / "m.gpkg").exists()
