"""Batch use: a model trained on one city applied to other cities in a qgis_process loop."""

import sqlite3


def test_train_on_one_city_apply_to_others(run_algorithm, demo_city, tmp_path):
    cities = {"A": demo_city}
    for name, seed in (("B", 1), ("C", 2)):
        done, parsed = run_algorithm(
            "urbansig:generatedemocity", SIZE=0, DAYS=1, SEED=seed, OUTPUT=tmp_path / name
        )
        assert done.returncode == 0, done.stderr
        cities[name] = parsed["results"]
    model = tmp_path / "population.pt"
    done, _ = run_algorithm(
        "urbansig:predictindicator",
        INPUT=cities["A"]["REGIONS"],
        TARGET_FIELD="population_density",
        FEATURE_FIELDS="in_flow",
        MODEL=1,
        OUTPUT=tmp_path / "A.gpkg",
        MODEL_FILE=model,
    )
    assert done.returncode == 0, done.stderr
    for name in ("B", "C"):  # the loop a batch user writes
        out = tmp_path / f"{name}.gpkg"
        done, _ = run_algorithm(
            "urbansig:predictindicator",
            INPUT=cities[name]["REGIONS"],
            TRAINED_MODEL=model,
            FEATURE_FIELDS="in_flow",
            OUTPUT=out,
        )
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(out) as db:
            rows = db.execute(f"select prediction from {name}").fetchall()
        assert len(rows) > 50 and all(r[0] is not None and r[0] >= 0 for r in rows)
