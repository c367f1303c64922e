"""RAW: sequences, causal transformer, pooling, baselines, saving, and the two jobs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from urbansig.models.raw.baselines import MarkovGrid, persistence
from urbansig.models.raw.method import RawModel, RawSettings
from urbansig.models.raw.model import RawConfig, RawTransformer
from urbansig.models.raw.pooling import pool_regions, visit_counts
from urbansig.models.raw.profiles import home_work
from urbansig.models.raw.sequences import (
    Normaliser,
    Windows,
    drop_short_users,
    make_windows,
    resample,
    sort_and_dedupe,
    time_features,
)
from urbansig.models.raw.trainer import embed_users
from urbansig.protocol import BadInput, Events, JobSpec

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
IDS = np.array(["a", "b"], dtype=object)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _hand_sequence():
    # user a: fixes at 0 s, 600 s, 4000 s and 20000 s; user b: two fixes (the first repeated)
    user = np.array([1, 0, 0, 0, 0, 1, 1])
    t = np.array([100, 4000, 0, 600, 20000, 100, 200])
    x = np.array([50.0, 20.0, 0.0, 10.0, 30.0, 51.0, 60.0])
    return user, t, x, -x


def test_sort_dedupe_counts_and_resampling_gap_marks():
    user, t, x, y, report = sort_and_dedupe(*_hand_sequence())
    assert report.duplicate_times == 1 and report.unsorted_rows > 0
    assert list(t) == [0, 600, 4000, 20000, 100, 200] and x[4] == 51.0  # last repeat kept
    seq = resample(user, t, x, y, IDS, step_s=1800, max_gap_s=3600)
    a = seq.user == 0
    assert list(seq.time[a]) == [i * 1800 for i in range(12)]
    # step 0 takes the fix at 600 s; 4000 s is in step 2; steps 4..10 are older than an hour
    assert list(seq.x[a]) == [10, 10, 20, 20] + [20] * 7 + [30]
    assert list(seq.gap[a]) == [False] * 4 + [True] * 7 + [False]
    assert list(seq.x[~a]) == [60.0] and not seq.gap[~a].any()
    kept, dropped = drop_short_users(seq, 2)
    assert list(kept.user_ids) == ["a"] and list(dropped) == ["b"]


def test_time_features_local_time_and_weekday():
    monday_0830_utc = 1553502600  # 2019-03-25 08:30 UTC, a Monday
    slot, dow = time_features(np.array([monday_0830_utc]), 1800, utc_offset_s=3600)
    assert slot[0] == 19 and dow[0] == 0  # 09:30 local


def test_windows_pad_as_gaps_and_normalise():
    user, t, x, y, _ = sort_and_dedupe(*_hand_sequence())
    seq = resample(user, t, x, y, IDS, 1800, 3600)
    norm = Normaliser.fit(seq.x, seq.y, "EPSG:3857")
    w = make_windows(seq, norm, length=5, stride=5, min_observed=1)
    # user a: windows at steps 0, 5 (all gaps: dropped) and 10 (2 steps + padding); user b: 1
    assert w.xy.shape == (3, 5, 2)
    assert list(w.user) == [0, 0, 1]
    assert list(w.time[1, :2]) == [18000, 19800] and list(w.time[1, 2:]) == [-1] * 3
    assert w.gap[1, 2:].all() and w.gap[2, 1:].all()  # padding is a gap
    back = norm.inverse(w.xy[0])
    np.testing.assert_allclose(back[:, 0], seq.x[:5], atol=1e-3)


def test_normaliser_refuses_data_far_outside_training_extent():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 20_000, 500), rng.uniform(0, 20_000, 500)
    norm = Normaliser.fit(x, y, "EPSG:2154")
    norm.check_fits(x + 3_000, y)  # inside the margin
    with pytest.raises(BadInput, match="MODEL.*normalisation"):
        norm.check_fits(x + 70_000, y)


def _model(max_len: int = 16) -> RawTransformer:
    torch.manual_seed(0)
    model = RawTransformer(RawConfig(layers=2, width=32, heads=4, max_len=max_len))
    with torch.no_grad():  # a non-zero head so that predictions depend on the inputs
        model.head[-1].weight.normal_(0, 0.1)
    return model.eval()


def _inputs(n: int = 3, length: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, length, 2, generator=g),
        torch.zeros(n, length, dtype=torch.bool),
        torch.randint(0, 48, (n, length), generator=g),
        torch.randint(0, 7, (n, length), generator=g),
    )


def test_causal_mask_future_points_do_not_change_earlier_outputs():
    model = _model()
    xy, gap, slot, dow = _inputs()
    base = model(xy, gap, slot, dow)
    changed = xy.clone()
    changed[:, 10] += 5.0
    out = model(changed, gap, slot, dow)
    torch.testing.assert_close(out[:, :10], base[:, :10])
    assert (out[:, 10:] - base[:, 10:]).abs().max() > 1e-3


def test_positions_are_read_relative_to_the_window_so_a_shift_shifts_the_forecast():
    model = _model()
    xy, gap, slot, dow = _inputs()
    hidden = model(xy, gap, slot, dow)
    shifted = model(xy + 7.0, gap, slot, dow)
    torch.testing.assert_close(shifted, hidden, atol=1e-5, rtol=1e-5)
    ahead = model.forecast_last(xy, hidden, slot, ~gap)
    assert ahead.shape == (3, model.config.horizons, 2)
    torch.testing.assert_close(model.forecast_last(xy + 7.0, shifted, slot, ~gap), ahead + 7.0)


def test_forecast_loss_scores_fixes_only_and_trains_down():
    model = _model()
    xy, gap, slot, dow = _inputs(8)
    xy = torch.cumsum(torch.full_like(xy, 0.05), 1)  # steady drift: learnable
    fresh = torch.ones_like(gap)
    batch = {"xy": xy, "gap": gap, "slot": slot, "dow": dow, "fresh": fresh}
    stale = dict(batch, fresh=fresh.clone())
    stale["fresh"][:, 5] = False  # a carried position is neither an origin nor a target
    masked = dict(batch, xy=xy.clone(), gap=gap.clone())
    masked["xy"][:, 5] = 100.0  # a gap's value is no candidate either
    masked["gap"][:, 5] = True
    model.train()
    full = model.forecast_loss(batch)
    for other in (stale, masked):
        loss = model.forecast_loss(other)
        assert torch.isfinite(loss) and loss < full * 2 + 0.5
    empty = dict(batch, fresh=torch.zeros_like(gap))
    assert model.forecast_loss(empty).item() == 0.0
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(25):
        opt.zero_grad()
        loss = model.forecast_loss(batch)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * full.item()


def test_pooling_sum_mean_min_visits_and_independent_rows():
    # points: (user, region, step); user 0 visits region 0 twice (distinct steps), region 1 once
    users = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    regions = np.array([0, 0, 0, 1, 0, 2, -1, 2])
    steps = np.array([1, 1, 2, 3, 1, 5, 6, 7])  # the repeated (0, 0, step 1) is one visit
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    counts = visit_counts(users, regions, 3, 4, steps)
    assert counts[0, 0] == 2 and counts[1, 0] == 1 and counts[2, 2] == 1
    pooled, n_users = pool_regions(counts, emb, "sum")
    np.testing.assert_allclose(pooled, [[1, 2], [1, 0], [4, 6], [0, 0]])
    assert list(n_users) == [2, 1, 2, 0]
    mean, _ = pool_regions(counts, emb, "mean")
    np.testing.assert_allclose(mean, [[0.5, 1], [1, 0], [2, 3], [0, 0]])
    strict, n_strict = pool_regions(counts, emb, "sum", min_visits=2)
    np.testing.assert_allclose(strict, [[1, 0], [0, 0], [0, 0], [0, 0]])
    assert list(n_strict) == [1, 0, 0, 0]
    # no aliasing: rows are independent of each other and of the user embeddings
    pooled[1] += 100.0
    np.testing.assert_allclose(pooled[0], [1, 2])
    np.testing.assert_allclose(pooled[3], [0, 0])
    np.testing.assert_allclose(emb, [[1, 0], [0, 2], [4, 4]])
    assert not np.shares_memory(pooled, emb)


def test_assign_regions_uses_the_spatial_index():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    from urbansig.models.raw.pooling import assign_regions

    regions = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=2154)
    got = assign_regions(np.array([5.0, 15.0, 30.0, 10.0]), np.array([5.0, 5, 5, 5]), regions)
    assert list(got) == [0, 1, -1, 0]  # the border point goes to the first region


def test_markov_baseline_and_persistence():
    # a user shuttles A -> A -> B -> A -> A -> B ... on a 500 m grid
    x = np.tile([100.0, 120.0, 1600.0], 10)
    user = np.zeros(30, dtype=np.int64)
    seq = resample(user, np.arange(30) * 1800, x, np.zeros(30), np.array(["u"], object))
    markov = MarkovGrid(500.0, min_support=1).fit(seq, horizon=2)
    pred = markov.rollout(np.array([1600.0, 5000.0]), np.array([0.0, 0.0]), 2)
    # the grid starts at x = 100: one step after B comes A; two steps after B, A again
    np.testing.assert_allclose(pred[0], [[350.0, 250.0], [350.0, 250.0]])
    np.testing.assert_allclose(pred[1], [[5000.0, 0.0]] * 2)  # unseen cell: stays
    np.testing.assert_allclose(persistence(np.array([1.0]), np.array([2.0]), 3)[0, 2], [1, 2])


def test_home_work_from_night_and_weekday_daytime():
    start = 1553472000  # Monday 2019-03-25 00:00 UTC
    t = start + np.arange(7 * 48) * 1800
    hour = (t % 86400) / 3600
    weekday = np.arange(7 * 48) // 48 < 5
    at_work = weekday & (hour >= 9) & (hour < 17)
    x = np.where(at_work, 8000.0, 1000.0)
    seq = resample(np.zeros(len(t), np.int64), t, x, np.zeros(len(t)), np.array(["u"], object))
    hw = home_work(seq)
    assert abs(hw["home_x"][0] - 1000) < 1 and abs(hw["work_x"][0] - 8000) < 1


def test_save_load_gives_identical_embeddings(tmp_path):
    user, t, x, y, _ = sort_and_dedupe(*_hand_sequence())
    seq = resample(user, t, x, y, IDS, 1800, 3600)
    norm = Normaliser.fit(seq.x, seq.y, "EPSG:2154")
    model = _model(max_len=8)
    w = make_windows(seq, norm, 8, 8, min_observed=1)
    before = embed_users(model, w, 2, torch.device("cpu"))
    method = RawModel(RawSettings(seq_len=8), step_s=1800, max_gap_s=3600, device="cpu")
    method.model, method.norm = model, norm
    path = method.save(tmp_path / "m.pt")
    loaded = RawModel.load(path)
    after = embed_users(
        loaded.model, make_windows(seq, loaded.norm, 8, 8, min_observed=1), 2, torch.device("cpu")
    )
    np.testing.assert_array_equal(before, after)
    assert loaded.step_s == 1800 and loaded.seq_len == 8 and loaded.norm == norm
    assert loaded.config["step_s"] == 1800
    np.testing.assert_array_equal(loaded.transform(seq), method.transform(seq))
    np.testing.assert_array_equal(loaded.embed(seq), method.transform(seq))
    assert "training" not in loaded.config  # none set: none written
    method.training = {"n_points": 7}
    assert RawModel.load(method.save(tmp_path / "t.pt")).config["training"] == {"n_points": 7}


def test_a_file_of_the_first_layout_is_refused_naming_model(tmp_path):
    """RAW's first layout (absolute positions, next-step head) cannot be read by this one."""
    from urbansig.models.serialization import save_model

    user, t, x, y, _ = sort_and_dedupe(*_hand_sequence())
    seq = resample(user, t, x, y, IDS, 1800, 3600)
    norm = Normaliser.fit(seq.x, seq.y, "EPSG:2154")
    model = _model(max_len=8)
    config = {
        "version": 1, "layout": "xy+gap/tod/dow", "model": model.config.to_dict(),
        "normaliser": norm.to_config(), "step_s": 1800, "max_gap_s": 3600,
        "utc_offset_s": 3600, "seq_len": 8, "training": {"n_points": 7}, "metrics": {},
    }  # fmt: skip
    path = save_model(tmp_path / "old.pt", "raw", config, model.state_dict())
    with pytest.raises(BadInput, match="MODEL.*another layout.*train a new one"):
        RawModel.load(path)


def test_overlapping_windows_count_each_step_once():
    user, t, x, y, _ = sort_and_dedupe(*_hand_sequence())
    seq = resample(user, t, x, y, IDS, 1800, 3600)
    norm = Normaliser.fit(seq.x, seq.y, "EPSG:2154")
    model = _model(max_len=8)
    w = make_windows(seq, norm, 8, 8, min_observed=1)
    plain = embed_users(model, w, 2, torch.device("cpu"))
    twice = Windows(*(np.concatenate([getattr(w, f)] * 2) for f in Windows.__dataclass_fields__))
    # the copies count from position 8 (nothing): the same mean as the windows alone
    count_from = np.r_[np.zeros(len(w.user), np.int64), np.full(len(w.user), 8)]
    same = embed_users(model, twice, 2, torch.device("cpu"), count_from=count_from)
    np.testing.assert_allclose(same, plain, rtol=1e-12)
    none = embed_users(model, w, 2, torch.device("cpu"), count_from=np.full(len(w.user), 8))
    assert np.all(none == 0)


def test_load_refuses_another_method(tmp_path):
    from urbansig.models.serialization import save_model

    save_model(tmp_path / "other.pt", "musecl", {}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="MODEL"):
        RawModel.load(tmp_path / "other.pt")


# ---- the jobs, on a small generated dataset ------------------------------------------------

START = 1553472000  # Monday 2019-03-25 00:00 UTC
ORIGIN = (650_000.0, 6_860_000.0)  # Lambert-93 (EPSG:2154), Paris


def _write_city(folder: Path, n_users: int = 16, days: int = 3, shift_m: float = 0.0):
    """Commuters (weekday 8-17 at work) and stay-at-home users, fixes every 10 minutes."""
    gpd = pytest.importorskip("geopandas")
    import pandas as pd
    from pyproj import Transformer
    from shapely.geometry import box

    rng = np.random.default_rng(1)
    t = START + np.arange(days * 144) * 600
    hour = (t % 86400) / 3600
    weekday = (t - START) // 86400 < 5
    rows, labels = [], []
    for u in range(n_users):
        home = np.array(ORIGIN) + rng.uniform(500, 7500, 2)
        work = np.array(ORIGIN) + rng.uniform(500, 7500, 2)
        commuter = u % 2 == 0
        at_work = commuter & weekday & (hour >= 8) & (hour < 17)
        xy = np.where(at_work[:, None], work, home) + rng.normal(0, 20, (len(t), 2))
        rows.append(pd.DataFrame({"user_id": f"p{u:02d}", "t": t, "x": xy[:, 0], "y": xy[:, 1]}))
        labels.append({"user_id": f"p{u:02d}", "is_commuter": int(commuter)})
    frame = pd.concat(rows, ignore_index=True)
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(frame["x"].to_numpy() + shift_m, frame["y"].to_numpy())
    stamps = pd.to_datetime(frame["t"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    traj = pd.DataFrame({"user_id": frame["user_id"], "timestamp": stamps, "lon": lon, "lat": lat})
    traj.to_csv(folder / "trajectories.csv", index=False)
    pd.DataFrame(labels).to_csv(folder / "users.csv", index=False)
    cells = [box(ORIGIN[0] + i * 2000, ORIGIN[1] + j * 2000, ORIGIN[0] + (i + 1) * 2000,
                 ORIGIN[1] + (j + 1) * 2000) for i in range(4) for j in range(4)]  # fmt: skip
    regions = gpd.GeoDataFrame({"region_id": [f"r{i}" for i in range(16)]}, geometry=cells,
                               crs="EPSG:2154")  # fmt: skip
    regions.to_file(folder / "regions.gpkg", engine="pyogrio")
    return traj


def _run(task: str, inputs: dict, params: dict, outputs: dict):
    from urbansig.runtime import run_spec

    stream = io.StringIO()
    spec = JobSpec(task=task, inputs=inputs, params=params, outputs=outputs, device="cpu")
    result = run_spec(spec, Events(stream, min_interval=0.0))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    return result, events


TINY = {"layers": 1, "width": 32, "heads": 2, "seq_len": 16, "epochs": 2, "batch_size": 32}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rawcity")
    _write_city(folder)
    return folder


def test_jobs_end_to_end(city, tmp_path):
    import geopandas as gpd
    import pandas as pd

    out = {
        "output": str(tmp_path / "regions.gpkg"),
        "output_users": str(tmp_path / "users.csv"),
        "output_model": str(tmp_path / "raw.pt"),
        "output_report": str(tmp_path / "report.html"),
    }
    base_inputs = {
        "trajectories": str(city / "trajectories.csv"),
        "regions": str(city / "regions.gpkg"),
    }
    inputs = {**base_inputs, "user_labels": str(city / "users.csv")}
    result, events = _run(
        "pooltrajectoriesraw", inputs, {**TINY, "label_field": "is_commuter"}, out
    )
    metrics = result["metrics"]
    assert metrics["n_users"] == 16 and metrics["points_outside_regions"] == 0
    for h in (30, 60, 90, 120, 150):
        assert 0 <= metrics[f"raw_km_{h}min"] < 15 and metrics[f"cases_{h}min"] > 0
        for name in ("persistence", "last_displacement", "markov", "routine"):
            assert np.isfinite(metrics[f"{name}_km_{h}min"])
            assert metrics[f"{name}_median_km_{h}min"] <= 3 * metrics[f"{name}_km_{h}min"] + 1e-9
    assert metrics["bootstrap_unit"] == "user-day"  # 3 held-out users: too few to resample
    assert "RAW - best baseline" in Path(out["output_report"]).read_text()
    # The toy's commuters are plain from their home and work hours (0.8 measured): the
    # evaluation sees them. RAW's own floor (0.37 measured here) waits for its quality work.
    assert metrics["label_accuracy_handcrafted_baseline"] >= 0.7
    assert np.isfinite(metrics["label_accuracy_raw_embeddings"])
    regions = gpd.read_file(out["output"])
    emb = [f"emb_{i:03d}" for i in range(32)]
    assert set(emb) <= set(regions.columns) and "n_users" in regions
    assert regions["n_users"].sum() >= 16 and np.isfinite(regions[emb].to_numpy()).all()
    users = pd.read_csv(out["output_users"], dtype={"user_id": str})
    assert len(users) == 16 and users[emb].abs().sum(axis=1).gt(0).all()
    home_err = np.hypot(users["home_x"] - users["home_x"].round(-6), 0)  # finite estimates
    assert np.isfinite(home_err).all() and Path(out["output_report"]).is_file()
    # a user's pooled region vector is that user's embedding when alone there (sum pooling)
    alone = regions[regions["n_users"] == 1]
    if len(alone):
        row = alone[emb].to_numpy()[0]
        assert np.isclose(users[emb].to_numpy(), row, atol=1e-4).all(axis=1).any()

    # a saved model skips pre-training and gives the same region embeddings
    again_out = {"output": str(tmp_path / "again.gpkg")}
    result_again, _ = _run(
        "pooltrajectoriesraw", {**base_inputs, "model": out["output_model"]}, TINY, again_out
    )
    assert "tokens_per_s" not in result_again["metrics"]
    regions_again = gpd.read_file(again_out["output"])
    np.testing.assert_allclose(regions_again[emb].to_numpy(), regions[emb].to_numpy(), atol=1e-4)

    applied = {
        "output_users": str(tmp_path / "applied.csv"),
        "output_points": str(tmp_path / "next.gpkg"),
        "output": str(tmp_path / "applied_regions.gpkg"),
    }
    result2, _ = _run(
        "applyrawmodel",
        {**base_inputs, "model": out["output_model"]},
        {"horizon_steps": 3},
        applied,
    )
    again = pd.read_csv(applied["output_users"], dtype={"user_id": str})
    np.testing.assert_allclose(again[emb].to_numpy(), users[emb].to_numpy(), atol=1e-5)
    pooled_again = gpd.read_file(applied["output"])
    np.testing.assert_allclose(pooled_again[emb].to_numpy(), regions[emb].to_numpy(), atol=1e-4)
    assert list(pooled_again["n_users"]) == list(regions["n_users"])
    forecast = gpd.read_file(applied["output_points"])
    assert len(forecast) == 16 * 3 * 2 and forecast.crs.to_epsg() == 32631  # the model's UTM
    assert (forecast.groupby("forecaster").size() == 16 * 3).all()  # RAW and routine
    assert set(forecast["forecaster"]) == {"raw", "routine"}
    assert set(forecast["horizon_min"]) == {30.0, 60.0, 90.0}
    # Each forecast carries its target time: a step's position is the last one observed by
    # the step's end, so forecast h is for the end of the h-th step after the last fix's step.
    fixes = pd.read_csv(city / "trajectories.csv", dtype={"user_id": str})
    last_fix = pd.to_datetime(fixes["timestamp"], utc=True).groupby(fixes["user_id"]).max()
    last_s = last_fix.loc[forecast["user_id"]].to_numpy().astype("datetime64[s]").astype(np.int64)
    wanted = (last_s // 1800 + forecast["step"].to_numpy() + 1) * 1800
    stamped = pd.DatetimeIndex(pd.to_datetime(forecast["time"], utc=True))
    np.testing.assert_array_equal(stamped.as_unit("s").asi8, wanted)


def test_bad_inputs_name_the_parameter_and_write_nothing(city, tmp_path):
    out = {"output": str(tmp_path / "regions.gpkg")}
    base = {"trajectories": str(city / "trajectories.csv"), "regions": str(city / "regions.gpkg")}
    with pytest.raises(BadInput, match="WIDTH"):
        _run("pooltrajectoriesraw", base, {**TINY, "width": 30, "heads": 4}, out)
    with pytest.raises(BadInput, match="LABEL_FIELD"):
        _run("pooltrajectoriesraw", {**base, "user_labels": str(city / "users.csv")},
             {**TINY, "label_field": "nope"}, out)  # fmt: skip
    far = tmp_path / "far"
    far.mkdir()
    _write_city(far, n_users=4, shift_m=60_000.0)
    with pytest.raises(BadInput, match="REGIONS"):
        _run("pooltrajectoriesraw", {**base, "trajectories": str(far / "trajectories.csv")},
             TINY, out)  # fmt: skip
    assert list(tmp_path.glob("*.gpkg")) == []


def test_messy_input_is_handled_and_counted(city, tmp_path):
    import pandas as pd

    traj = pd.read_csv(city / "trajectories.csv")
    short = traj[traj["user_id"] == "p00"].head(3).assign(user_id="short")
    messy = pd.concat([traj.iloc[::-1], traj.head(50), short])  # reversed, repeated, short
    messy["timestamp"] = messy["timestamp"].str.replace("+00:00", "", regex=False)  # naive
    path = tmp_path / "messy.csv"
    messy.to_csv(path, index=False)
    out = {"output": str(tmp_path / "regions.gpkg"), "output_model": str(tmp_path / "m.pt")}
    result, events = _run(
        "pooltrajectoriesraw",
        {"trajectories": str(path), "regions": str(city / "regions.gpkg")},
        {**TINY, "epochs": 1},
        out,
    )
    warnings = " ".join(e["message"] for e in events if e["event"] == "warning")
    assert "MIN_STEPS: skipped 1 users" in warnings and "UTC" in warnings
    assert result["metrics"]["n_users"] == 16 and result["metrics"]["users_skipped"] == 1
    # the model refuses trajectories 60 km away from where it was trained
    far = tmp_path / "far"
    far.mkdir()
    _write_city(far, n_users=4, shift_m=60_000.0)
    target = tmp_path / "applied.csv"
    with pytest.raises(BadInput, match="MODEL.*normalisation"):
        _run("applyrawmodel",
             {"trajectories": str(far / "trajectories.csv"), "model": out["output_model"]},
             {}, {"output_users": str(target)})  # fmt: skip
    assert not target.exists()
    # one user far away (an intercity trip) is skipped with one warning; the others run
    import pandas as pd

    far_points = pd.read_csv(far / "trajectories.csv")
    far_points = far_points[far_points["user_id"] == "p00"].assign(user_id="traveller")
    mixed = tmp_path / "mixed.csv"
    pd.concat([pd.read_csv(city / "trajectories.csv"), far_points]).to_csv(mixed, index=False)
    result, events = _run(
        "applyrawmodel",
        {"trajectories": str(mixed), "model": out["output_model"]},
        {},
        {"output_users": str(target)},
    )
    warnings = [
        e["message"] for e in events if e.get("event") == "warning" and "outside" in e["message"]
    ]
    assert len(warnings) == 1 and "traveller" in warnings[0] and "of 1 user lie" in warnings[0], (
        warnings
    )
    users = pd.read_csv(target, dtype={"user_id": str})["user_id"]
    assert len(users) == 16 and "traveller" not in set(users)


@pytest.mark.slow
def test_synthetic_city_quality_floors(tmp_path):
    from urbansig.synth import generate_city

    city = tmp_path / "city"
    manifest = generate_city(city, seed=0, size="tiny", days=7)
    result, _ = _run(
        "pooltrajectoriesraw",
        {
            "trajectories": str(city / "trajectories.csv"),
            "regions": str(city / "regions.gpkg"),
            "user_labels": str(city / "users.csv"),
        },
        {"epochs": 10, "label_field": "is_commuter", "utc_offset": "1"},
        {"output": str(tmp_path / "regions.gpkg")},
    )
    m = result["metrics"]
    assert m["label_accuracy_raw_embeddings"] >= 0.6
    assert m["raw_km_150min"] <= 2.0 * m["persistence_km_150min"]
    assert m["regions_with_users"] >= 0.5 * manifest["n_regions"]


def test_settings_defaults_are_the_parameter_tables():
    from urbansig.parameters import default

    settings, config, method = RawSettings(), RawConfig(), RawModel(device="cpu")
    for key in ("seq_len", "layers", "width", "heads", "epochs", "lr", "warmup", "batch_size"):
        assert getattr(settings, key) == default("pooltrajectoriesraw", key), key
    for key in ("layers", "width", "heads"):
        assert getattr(config, key) == default("pooltrajectoriesraw", key), key
    assert config.max_len == default("pooltrajectoriesraw", "seq_len")
    assert method.step_s == default("pooltrajectoriesraw", "step_minutes") * 60
    assert method.max_gap_s == default("pooltrajectoriesraw", "max_gap_minutes") * 60


def test_the_helpers_defaults_are_the_parameter_tables():
    import inspect

    from urbansig.models.raw.profiles import handcrafted_features
    from urbansig.parameters import default

    def defaults(function) -> dict:
        return {k: p.default for k, p in inspect.signature(function).parameters.items()}

    table = {k: default("pooltrajectoriesraw", k) for k in ("pooling", "min_visits")}
    assert defaults(resample)["step_s"] == table_s("step_minutes")
    assert defaults(resample)["max_gap_s"] == table_s("max_gap_minutes")
    assert MarkovGrid().cell_size == default("pooltrajectoriesraw", "markov_cell_m")
    for function in (home_work, handcrafted_features):
        assert defaults(function)["cell_m"] == default("pooltrajectoriesraw", "markov_cell_m")
    assert defaults(pool_regions)["how"] == table["pooling"]
    assert defaults(pool_regions)["min_visits"] == table["min_visits"]


def table_s(key: str) -> int:
    from urbansig.parameters import default

    return int(default("pooltrajectoriesraw", key) * 60)
