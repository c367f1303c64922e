"""Indicator predictor: correctness against scikit-learn, honest metrics, bad input, the job."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

from urbansig.models.predictor import (
    IndicatorPredictor,
    PredictorSettings,
    RegressionData,
    evaluate_features,
    make_splits,
)
from urbansig.models.predictor.conformal import conformal_halfwidth, min_calibration_size
from urbansig.models.predictor.splits import TEST, TRAIN, VALIDATION, block_ids
from urbansig.models.predictor.trees import TreeEnsemble
from urbansig.protocol import BadInput, Events, JobSpec
from urbansig.runtime import run_spec

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_predictor.py"
FAST_MLP = {"epochs": 150, "patience": 20, "device": "cpu"}


def linear_data(n=400, d=5, noise=0.05, seed=0):
    """A known relation: log1p(y) = 2 + X w + noise (y count-like, positive)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = np.linspace(1.0, -0.6, d)
    z = 5.0 + X @ (w / np.linalg.norm(w)) + noise * rng.normal(size=n)  # z > 0: y >= 0
    return X, np.expm1(z), z


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_predictor", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- correctness against scikit-learn -----------------------------------------------------
def test_ridge_matches_scikit_learn_and_recovers_a_linear_relation():
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    X, y, z = linear_data()
    model = IndicatorPredictor(PredictorSettings("ridge", log_target=True)).fit(
        RegressionData(X[:300], y[:300])
    )
    scaler = StandardScaler().fit(X[:300])
    reference = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(scaler.transform(X[:300]), z[:300])
    expected = reference.predict(scaler.transform(X[300:]))
    np.testing.assert_allclose(model.predict_model_scale(X[300:]), expected, rtol=1e-9)
    r2 = 1 - np.sum((z[300:] - expected) ** 2) / np.sum((z[300:] - z[300:].mean()) ** 2)
    assert r2 > 0.98


def test_gbm_trees_predict_exactly_as_scikit_learn():
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    X, _, z = linear_data(n=500)
    X[::17, 1] = np.nan  # missing values follow scikit-learn's learned direction
    with threadpool_limits(1, user_api="openmp"):  # OpenMP threads only slow small fits down
        gbm = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(X, z)
    trees = TreeEnsemble.from_sklearn(gbm)
    test = np.random.default_rng(1).normal(size=(200, 5))
    test[::5, 1] = np.nan
    np.testing.assert_allclose(trees.predict(test), gbm.predict(test), rtol=1e-12, atol=1e-12)


def test_evaluate_features_on_a_known_linear_relation():
    X, y, _ = linear_data(n=300)
    rows = evaluate_features(X, y, repeats=2, models=("mlp", "ridge", "gbm", "mean"), **FAST_MLP)
    r2 = {row["model"]: row["r2_mean"] for row in rows}
    assert r2["ridge"] > 0.95
    assert r2["mlp"] > 0.9
    assert r2["gbm"] > 0.7
    assert abs(r2["mean"]) < 0.1
    assert all(row["repeats"] == 2 and row["n_test"] == 60 for row in rows)
    assert {"rmse_mean", "mae_std", "r2_orig_mean", "mae_orig_std"} <= set(rows[0])


def test_pure_noise_is_never_reported_as_predictable():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6))
    y = rng.lognormal(2.0, 1.0, size=300)
    rows = evaluate_features(X, y, repeats=3, models=("mlp", "ridge", "gbm", "mean"), **FAST_MLP)
    for row in rows:
        assert row["r2_mean"] <= 0.1, row
        assert row["r2_orig_mean"] <= 0.1, row


def test_log_target_off_scores_on_the_original_scale():
    X, _, z = linear_data(n=200)
    rows = evaluate_features(X, z - 5.0, models=("ridge",), log_target=False, repeats=2)
    assert rows[0]["r2_mean"] == pytest.approx(rows[0]["r2_orig_mean"])
    with pytest.raises(BadInput, match="negative"):
        evaluate_features(X, z - 5.0, models=("ridge",), log_target=True)


def test_auto_log_target_for_counts_and_skewed_values():
    from urbansig.models.predictor import auto_log_target

    rng = np.random.default_rng(0)
    assert auto_log_target(rng.poisson(5.0, 200))  # counts
    assert auto_log_target(rng.lognormal(0.0, 1.0, 200))  # skewed density
    assert not auto_log_target(rng.normal(10.0, 1.0, 200))  # symmetric
    assert not auto_log_target(rng.lognormal(0.0, 1.0, 200) - 1.0)  # negative values


# -- save / load ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "ridge", "gbm", "mean"])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, kind):
    X, y, _ = linear_data(n=200)
    model = IndicatorPredictor(PredictorSettings(kind, (16, 8), epochs=30), "cpu", seed=1)
    model.fit(RegressionData(X[:120], y[:120], X[120:160], y[120:160], list("abcde")))
    model.calibrate(X[120:160], y[120:160], 0.8)
    path = model.save(tmp_path / f"{kind}.pt")
    loaded = IndicatorPredictor.load(path)
    assert loaded.model == kind and loaded.feature_names == list("abcde") and loaded.log_target
    assert np.array_equal(loaded.predict(X[160:]), model.predict(X[160:]))
    for a, b in zip(loaded.predict_interval(X[160:]), model.predict_interval(X[160:])):
        assert np.array_equal(a, b)
    raw = path.read_bytes()
    assert b"sklearn" not in raw  # tensors and JSON only, no pickled estimator


def test_loading_another_methods_model_is_bad_input(tmp_path):
    import torch

    from urbansig.models.serialization import save_model

    path = save_model(tmp_path / "other.pt", "embedregionsmusecl", {}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="^MODEL: .*embedregionsmusecl"):
        IndicatorPredictor.load(path)
    with pytest.raises(BadInput, match="TRAINED_MODEL: .*embedregionsmusecl"):
        IndicatorPredictor.load(path, parameter="TRAINED_MODEL")


# -- splits and intervals -----------------------------------------------------------------
def test_random_split_is_60_20_20():
    part = make_splits(100, "random", repeats=1, seed=4)[0]
    assert [(part == p).sum() for p in (TRAIN, VALIDATION, TEST)] == [60, 20, 20]


def test_spatial_block_split_never_puts_a_block_in_two_parts():
    rng = np.random.default_rng(0)
    coords = rng.uniform(0, 1000, size=(500, 2))
    splits = make_splits(500, "spatial", repeats=5, seed=2, coords=coords, block_size=100.0)
    blocks = block_ids(coords, 100.0)
    for part in splits:
        for block in np.unique(blocks):
            assert len(np.unique(part[blocks == block])) == 1
        assert 0.12 < (part == TEST).mean() < 0.28 and 0.12 < (part == VALIDATION).mean() < 0.28
    tested = np.stack([part == TEST for part in splits])
    assert np.array_equal(tested.sum(axis=0), np.ones(500))  # 5 folds: each region tested once
    with pytest.raises(BadInput, match="BLOCK_SIZE: .* 4 blocks"):
        make_splits(500, "spatial", coords=coords, block_size=600.0)


def test_too_few_labelled_regions_says_how_many_are_needed():
    with pytest.raises(BadInput, match="at least 10"):
        make_splits(9, "random")


def test_conformal_halfwidth_rank():
    residuals = np.arange(1.0, 20.0)  # 19 residuals: rank ceil(20 * 0.9) = 18
    assert conformal_halfwidth(residuals, 0.9) == (18.0, True)
    assert conformal_halfwidth(np.arange(1.0, 6.0), 0.9) == (5.0, False)
    assert min_calibration_size(0.9) == 9 and conformal_halfwidth(np.ones(9), 0.9)[1]


@pytest.mark.parametrize("kind", ["ridge", "mlp"])
def test_conformal_interval_coverage_is_about_right(kind):
    X, y, _ = linear_data(n=3400, noise=0.5, seed=5)
    fit, cal, test = slice(0, 600), slice(600, 1400), slice(1400, None)
    settings = PredictorSettings(kind, hidden=(16,), epochs=60, patience=10)
    model = IndicatorPredictor(settings, device="cpu")
    model.fit(RegressionData(X[fit], y[fit], X[cal], y[cal]))
    model.calibrate(X[cal], y[cal], coverage=0.9)
    lower, upper = model.predict_interval(X[test])
    covered = np.mean((y[test] >= lower) & (y[test] <= upper))
    assert 0.86 < covered < 0.94
    assert np.all(lower >= 0) and np.all(lower <= model.predict(X[test]))


# -- the job ------------------------------------------------------------------------------
def region_layer(path, n_side=12, seed=0, unlabelled=0.15, **changes):
    import geopandas as gpd
    from shapely.geometry import box

    rng = np.random.default_rng(seed)
    n = n_side * n_side
    X = rng.normal(size=(n, 3))
    y = np.round(np.expm1(3.0 + X @ np.array([0.8, -0.5, 0.3]) + 0.05 * rng.normal(size=n)))
    y[rng.random(n) < unlabelled] = np.nan
    cols = {"emb_000": X[:, 0], "emb_001": X[:, 1], "emb_002": X[:, 2], "population": y}
    cols["name"] = [f"r{i}" for i in range(n)]
    cols.update(changes)
    geometry = [box(i % n_side * 100, i // n_side * 100, i % n_side * 100 + 100,
                    i // n_side * 100 + 100) for i in range(n)]  # fmt: skip
    gpd.GeoDataFrame(cols, geometry=geometry, crs="EPSG:3857").to_file(path)
    return path


def run_job(tmp_path, inputs, params, outputs=None, seed=0):
    base = {"model": "ridge", "repeats": 2}
    spec = JobSpec(
        task="predictindicator",
        inputs={k: str(v) for k, v in inputs.items()},
        params={**base, **params},
        outputs={k: str(v) for k, v in (outputs or {"output": tmp_path / "out.gpkg"}).items()},
        device="cpu",
        seed=seed,
    )
    stream = io.StringIO()
    result = run_spec(spec, Events(stream, min_interval=0))
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_job_end_to_end_then_apply_the_saved_model(tmp_path):
    import geopandas as gpd

    layer = region_layer(tmp_path / "regions.gpkg")
    outputs = {
        "output": tmp_path / "out.gpkg",
        "model_file": tmp_path / "model.pt",
        "report": tmp_path / "report.html",
    }
    params = {"feature_prefix": "emb_", "target_field": "population", "model": "mlp",
              "epochs": 120, "patience": 15, "hidden": "16,8"}  # fmt: skip
    result, events = run_job(tmp_path, {"input": layer}, params, outputs)
    out = gpd.read_file(outputs["output"])
    source = gpd.read_file(layer)
    assert list(out.columns[: len(source.columns) - 1]) == list(source.columns[:-1])
    known = source["population"].notna().to_numpy()
    assert set(out.loc[~known, "split"]) == {"predicted"}
    assert set(out.loc[known, "split"]) == {"train", "validation", "test"}
    assert out.loc[~known, "residual"].isna().all() and out.loc[known, "residual"].notna().all()
    assert (out["pred_lower"] <= out["prediction"]).all()
    assert (out["prediction"] <= out["pred_upper"]).all()
    metrics = result["metrics"]
    assert metrics["r2"] > 0.9 and metrics["log_target"] is True
    assert [row["model"] for row in metrics["models"]] == ["mlp", "ridge", "gbm", "mean"]
    names = {e["name"] for e in events if e["event"] == "metric"}
    assert {"mlp_r2", "ridge_rmse_orig", "mean_mae", "interval_coverage_test"} <= names
    page = outputs["report"].read_text(encoding="utf-8")
    assert "Test metrics" in page and "±" in page
    assert (tmp_path / "report_files" / "scatter.png").stat().st_size > 1000
    assert (tmp_path / "report_files" / "residual_map.png").stat().st_size > 1000

    applied, _ = run_job(
        tmp_path,
        {"input": layer, "trained_model": outputs["model_file"]},
        {"target_field": "population"},
        {"output": tmp_path / "applied.gpkg"},
    )
    again = gpd.read_file(tmp_path / "applied.gpkg")
    np.testing.assert_array_equal(again["prediction"], out["prediction"])
    assert set(again["split"]) == {"predicted"} and applied["metrics"]["r2"] > 0.9


def test_job_spatial_split_and_gbm(tmp_path):
    layer = region_layer(tmp_path / "regions.gpkg", unlabelled=0.0)
    result, _ = run_job(
        tmp_path,
        {"input": layer},
        {"feature_fields": "emb_000,emb_001,emb_002", "target_field": "population",
         "model": "gbm", "split": "spatial", "block_size": 300.0, "repeats": 5,
         "baselines": "false"},
    )  # fmt: skip
    assert [row["model"] for row in result["metrics"]["models"]] == ["gbm"]
    assert result["metrics"]["models"][0]["repeats"] == 5 and result["metrics"]["r2"] > 0.5


def test_job_cancelled_during_training_writes_nothing(tmp_path):
    from urbansig.protocol import Cancelled

    class CancelWhenTraining(Events):
        def progress(self, fraction, message=""):
            super().progress(fraction, message)
            if message.startswith("repeat"):
                self.cancel()

    layer = region_layer(tmp_path / "regions.gpkg")
    spec = JobSpec(
        task="predictindicator",
        inputs={"input": str(layer)},
        params={"feature_prefix": "emb_", "target_field": "population", "model": "ridge"},
        outputs={"output": str(tmp_path / "out.gpkg"), "model_file": str(tmp_path / "m.pt")},
    )
    with pytest.raises(Cancelled):
        run_spec(spec, CancelWhenTraining(io.StringIO(), min_interval=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regions.gpkg"]


@pytest.mark.parametrize(
    ("changes", "params", "message"),
    [
        ({"population": np.full(144, np.nan)}, {}, "TARGET_FIELD: population is NULL in every"),
        ({"population": np.r_[np.arange(8.0), np.full(136, np.nan)]}, {}, "8 regions .* least 10"),
        ({"population": np.full(144, 7.0)}, {}, "TARGET_FIELD: .* constant"),
        ({"population": np.linspace(-5, 5, 144)}, {"log_target": "true"}, "TARGET_FIELD: .* negat"),
        ({"emb_001": np.r_[np.nan, np.nan, np.ones(142)]}, {}, "field emb_001 is NULL .* 2 of 144"),
        ({}, {"feature_fields": "emb_000,lights"}, "FEATURE_FIELDS: lights not in the INPUT"),
        ({}, {"target_field": "income"}, "TARGET_FIELD: income is not a field"),
        ({}, {"feature_prefix": "poi_"}, "FEATURE_PREFIX: no field .* 'poi_'"),
        ({}, {"feature_fields": "name"}, "FEATURE_FIELDS: field name is not numeric"),
        ({}, {"hidden": "64,x"}, "HIDDEN must be"),
        ({}, {"coverage": 1.5}, "COVERAGE must be at most 0.99"),
        ({}, {"split": "spatial", "block_size": 5000.0}, "BLOCK_SIZE: .* 1 blocks"),
    ],
)  # fmt: skip
def test_job_bad_input_names_the_field(tmp_path, changes, params, message):
    layer = region_layer(tmp_path / "regions.gpkg", **changes)
    full = {"feature_prefix": "emb_", "target_field": "population", **params}
    with pytest.raises(BadInput, match=message):
        run_job(tmp_path, {"input": layer}, full)
    assert not (tmp_path / "out.gpkg").exists()


def test_job_feature_mismatch_when_applying_a_saved_model(tmp_path):
    import geopandas as gpd

    layer = region_layer(tmp_path / "regions.gpkg")
    run_job(tmp_path, {"input": layer}, {"feature_prefix": "emb_", "target_field": "population"},
            {"output": tmp_path / "out.gpkg", "model_file": tmp_path / "m.pt"})  # fmt: skip
    other = gpd.read_file(layer).rename(columns={"emb_002": "emb_x"})
    other.to_file(tmp_path / "other.gpkg")
    with pytest.raises(BadInput, match="TRAINED_MODEL: .* lacks 1 of them: emb_002"):
        run_job(tmp_path, {"input": tmp_path / "other.gpkg", "trained_model": tmp_path / "m.pt"},
                {}, {"output": tmp_path / "applied.gpkg"})  # fmt: skip


# -- real data ----------------------------------------------------------------------------
def require_data(folder: str) -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data checks need the shared sample data")
    return DATA


def test_ny_county_population_from_commuting_flows():
    data = require_data("ny_commuting")
    frame, names = bench_module().ny_commuting_features(data)
    assert len(frame) == 62 and frame[names].notna().all().all()
    rows = evaluate_features(
        frame[names].to_numpy(float), frame["population"].to_numpy(float), repeats=3,
        models=("mlp", "ridge", "mean"), **FAST_MLP,
    )  # fmt: skip
    r2 = {row["model"]: row["r2_mean"] for row in rows}
    assert r2["ridge"] > 0.8 and r2["mlp"] > 0.5 and r2["mean"] < 0.1


def test_helsinki_population_from_poi_counts_runs_through_the_job(tmp_path):
    data = require_data("helsinki")
    frame, names = bench_module().helsinki_poi_features(data)
    assert len(frame) >= 15 and frame["poi_total"].gt(0).mean() > 0.8
    frame.to_file(tmp_path / "helsinki.gpkg")
    result, _ = run_job(
        tmp_path, {"input": tmp_path / "helsinki.gpkg"},
        {"feature_prefix": "poi_", "target_field": "population", "repeats": 5,
         "log_target": "true"},
    )  # fmt: skip
    rows = {row["model"]: row for row in result["metrics"]["models"]}
    assert set(rows) == {"ridge", "gbm", "mean"}
    assert all(np.isfinite(row["rmse_mean"]) for row in rows.values())
    assert rows["ridge"]["rmse_mean"] < 2.5  # log1p scale; population spans 5 .. 1,100


def test_numeric_text_from_a_joined_csv_is_read_as_numbers():
    import pandas as pd

    from urbansig.io.vector import numeric_text

    converted = numeric_text(pd.Series(["1.5", " 2", None, ""], dtype=object))
    assert converted.dtype == "float64"
    assert converted.tolist()[:2] == [1.5, 2.0] and converted.isna().tolist()[2:] == [True, True]
    words = pd.Series(["dense", "2"])
    assert numeric_text(words) is words


def test_settings_defaults_are_the_parameter_tables():
    from urbansig.parameters import default

    model = IndicatorPredictor()
    for key in ("model", "epochs", "lr", "patience", "batch_size"):
        assert getattr(model.settings, key) == default("predictindicator", key), key
    hidden = tuple(int(v) for v in default("predictindicator", "hidden").split(","))
    assert model.hidden == model.settings.hidden == hidden


def _plain_table(tmp_path) -> Path:
    """region_layer's regions as a CSV without geometry."""
    import geopandas as gpd

    frame = gpd.read_file(region_layer(tmp_path / "regions.gpkg"))
    path = tmp_path / "regions.csv"
    frame.drop(columns="geometry").to_csv(path, index=False)
    return path


def test_job_on_a_plain_table_with_the_literature_protocol(tmp_path):
    import pandas as pd
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    table = _plain_table(tmp_path)
    out = tmp_path / "out.csv"
    result, _ = run_job(
        tmp_path,
        {"input": table},
        {"feature_prefix": "emb_", "target_field": "population", "folds": 5},
        {"output": out, "report": tmp_path / "r.html"},
        seed=3,
    )
    metrics = result["metrics"]
    written = pd.read_csv(out)
    labelled = written["population"].notna()
    assert written.loc[labelled, "pred_literature"].notna().all()
    assert written.loc[~labelled, "pred_literature"].isna().all()
    # the literature protocol is exactly Ridge(alpha=1), shuffled K-fold, negatives -> 0
    X = written.loc[labelled, ["emb_000", "emb_001", "emb_002"]].to_numpy()
    y = written.loc[labelled, "population"].to_numpy()
    expected = np.zeros_like(y)
    for train, test in KFold(5, shuffle=True, random_state=3).split(X):
        expected[test] = Ridge(alpha=1.0).fit(X[train], y[train]).predict(X[test])
    expected = np.maximum(expected, 0)
    np.testing.assert_allclose(written.loc[labelled, "pred_literature"], expected)
    assert metrics["literature_r2"] == pytest.approx(r2_score(y, expected))
    assert metrics["literature_folds"] == 5
    assert "r2_orig" in metrics and "rmse_orig" in metrics  # original scale beside log
    report = (tmp_path / "r.html").read_text()
    assert "Literature protocol" in report and "Residual map" not in report


def test_spatial_split_on_a_plain_table_says_it_needs_geometry(tmp_path):
    with pytest.raises(BadInput, match="SPLIT: 'spatial' needs region geometries"):
        run_job(
            tmp_path,
            {"input": _plain_table(tmp_path)},
            {"feature_prefix": "emb_", "target_field": "population", "split": "spatial"},
        )


def test_back_transformed_predictions_stay_in_the_training_range():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = np.expm1(3.0 + 0.5 * X[:, 0])
    settings = PredictorSettings(model="ridge", log_target=True)
    predictor = IndicatorPredictor(settings).fit(RegressionData(X, y))
    far = np.array([[40.0, 0.0], [-40.0, 0.0], [0.0, 0.0]])
    pred = predictor.predict(far)
    assert predictor.n_clipped == 2
    assert pred.max() == pytest.approx(y.max()) and pred.min() == pytest.approx(y.min())
    assert y.min() < pred[2] < y.max()


def test_clipping_keeps_a_spatial_split_near_the_mean_predictor(tmp_path):
    """Heavy-tailed counts under a spatial split: no explosion of the back-transform."""
    rng = np.random.default_rng(1)
    layer = region_layer(tmp_path / "regions.gpkg", n_side=12)
    import geopandas as gpd

    frame = gpd.read_file(layer)
    x = frame["emb_000"].to_numpy()
    frame["population"] = np.round(np.exp(3 + 1.5 * x + 0.3 * rng.normal(size=len(x))))
    frame.loc[0, "emb_000"] = 30.0  # one region far outside the others: ridge extrapolates
    frame.to_file(layer)
    result, events = run_job(
        tmp_path,
        {"input": layer},
        {"feature_prefix": "emb_", "target_field": "population", "split": "spatial",
         "repeats": 5, "log_target": "true"},
    )  # fmt: skip
    rows = {r["model"]: r for r in result["metrics"]["models"]}
    ridge, mean = rows["ridge"], rows["mean"]
    assert ridge["r2_orig_mean"] > mean["r2_orig_mean"] - 3 * max(ridge["r2_orig_std"], 0.1)
    assert any("held to it" in e.get("message", "") for e in events if e["event"] == "warning")


def test_the_training_summary_is_saved_with_the_model(tmp_path):
    from urbansig.models.serialization import load_model

    X, y, _ = linear_data(n=60)
    model = IndicatorPredictor(PredictorSettings("ridge")).fit(RegressionData(X, y))
    config, _ = load_model(model.save(tmp_path / "plain.pt"), "predictindicator", "MODEL")
    assert "training" not in config
    model.training = {"target_field": "y"}
    config, _ = load_model(model.save(tmp_path / "m.pt"), "predictindicator", "MODEL")
    assert config["training"] == {"target_field": "y"}


def test_baseline_fields_are_scored_beside_the_features_on_the_same_splits(tmp_path):
    """base_ fields (an informative no-learning baseline) beside noise emb_ features: the
    chosen model's row on them, the literature protocol on them, and a report that says
    the baseline is ahead; without base_ fields (or with BASELINES off) no such row."""
    rng = np.random.default_rng(1)
    n = 144
    informative = {f"base_{k:03d}": rng.normal(size=n) for k in range(3)}
    X = np.column_stack(list(informative.values()))
    y = np.round(np.expm1(3.0 + X @ np.array([0.8, -0.5, 0.3])))
    noise = {f"emb_{k:03d}": rng.normal(size=n) for k in range(3)}
    layer = region_layer(tmp_path / "regions.gpkg", population=y, **noise, **informative)
    outputs = {"output": tmp_path / "out.gpkg", "report": tmp_path / "r.html"}
    result, _ = run_job(tmp_path, {"input": layer}, {"target_field": "population"}, outputs)
    metrics = result["metrics"]
    rows = {r["model"]: r for r in metrics["models"]}
    assert rows["ridge_on_baseline"]["r2_mean"] > 0.9 > 0.3 > rows["ridge"]["r2_mean"]
    # the literature protocol is linear on the original scale of this log-linear target
    assert metrics["baseline_literature_r2"] > max(0.5, metrics["literature_r2"] + 0.3)
    assert metrics["baseline_n_fields"] == 3 and metrics["baseline_prefix"] == "base_"
    report = (tmp_path / "r.html").read_text()
    assert "The baseline is ahead" in report and "FEATURE_PREFIX base_" in report
    off, _ = run_job(tmp_path, {"input": layer}, {"target_field": "population", "baselines": False})
    assert [r["model"] for r in off["metrics"]["models"]] == ["ridge"]
    given, _ = run_job(
        tmp_path, {"input": layer}, {"target_field": "population", "feature_prefix": "base_"}
    )
    assert "ridge_on_baseline" not in {r["model"] for r in given["metrics"]["models"]}
