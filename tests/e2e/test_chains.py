"""The shipped .model3 chains run with qgis_process on a tiny demo city."""

import json
import sqlite3
from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


def run_model(qgis_process, name: str, **parameters):
    args = [f"{k}={v}" for k, v in parameters.items()]
    done = qgis_process("--json", "run", str(MODELS / f"{name}.model3"), "--", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout[done.stdout.index("{") :])["results"]


def count(path, table) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"select count(*) from {table} where prediction is not null").fetchone()[
            0
        ]


def test_trajectories_raw_predict(qgis_process, demo_city, tmp_path):
    out = tmp_path / "pred.gpkg"
    results = run_model(
        qgis_process,
        "trajectories_raw_predict",
        trajectories=demo_city["TRAJECTORIES"],
        regions=demo_city["REGIONS"],
        target="trip_count",
        raw_epochs=2,
        **{"predict:predicted_indicator": out, "raw:raw_region_embeddings": tmp_path / "raw.gpkg"},
    )
    assert results["predict:predicted_indicator"] == str(out) and count(out, "pred") > 50


def test_h3grid_musecl_predict_joins_a_csv_of_indicators(qgis_process, demo_city, tmp_path):
    manifest = json.loads((Path(demo_city["OUTPUT"]) / "manifest.json").read_text())
    grid = manifest["grid"]
    xmax = grid["xmin"] + grid["n_cols"] * grid["cell_size"]
    ymax = grid["ymin"] + grid["n_rows"] * grid["cell_size"]
    out = tmp_path / "pred.gpkg"
    run_model(
        qgis_process,
        "h3grid_musecl_predict",
        extent=f"{grid['xmin']},{xmax},{grid['ymin']},{ymax} [EPSG:27572]",
        resolution=9,
        indicators=demo_city["INDICATORS"],
        raster=demo_city["REMOTE_SENSING"],
        streetview=demo_city["STREETVIEW"],
        pois=demo_city["POIS"],
        od=demo_city["OD_FLOWS"],
        target="population_density",
        image_epochs=1,
        fusion_epochs=5,
        **{
            "predict:predicted_indicator": out,
            "musecl:musecl_region_embeddings": tmp_path / "emb.gpkg",
        },
    )
    assert count(out, "pred") > 50
