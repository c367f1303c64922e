"""Contrastive clustering of traffic tiles: losses, augmentations, model, job (tiny data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from urbansig.models.contrastive_clustering import (
    METHOD,
    AugmentConfig,
    ClusterSettings,
    TrafficAugment,
    TrafficClusterer,
    normalise_profiles,
)
from urbansig.models.contrastive_clustering.augment import circular_shift
from urbansig.models.contrastive_clustering.encoder import PrototypeHead
from urbansig.models.contrastive_clustering.losses import (
    cluster_entropy,
    cluster_loss,
    instance_loss,
    nt_xent,
)
from urbansig.models.contrastive_clustering.normalise import check_profiles, neighbour_mean, to_csr
from urbansig.models.traffic import TrafficData
from urbansig.protocol import BadInput, Events, JobSpec

SERVICES = ["Netflix", "Teams", "Waze"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine the thread
    pool's spinning makes them many times slower; restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def grid_neighbours(side: int) -> list[list[int]]:
    out = []
    for i in range(side * side):
        y, x = divmod(i, side)
        out.append(
            [
                (y + dy) * side + x + dx
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
                if (dy or dx) and 0 <= y + dy < side and 0 <= x + dx < side
            ]
        )
    return out


def toy_profiles(side: int = 12, steps: int = 24, seed: int = 0, k: int = 3):
    """Tiles in vertical bands of k land uses, each a distinct daily shape per service."""
    rng = np.random.default_rng(seed)
    n = side * side
    labels = (np.arange(n) % side) * k // side
    hours = np.arange(steps) * 24 / steps
    peaks = np.array([[8, 13, 18], [20, 10, 8], [14, 22, 3]])[:k]
    shapes = 0.2 + np.exp(-0.5 * ((hours[None, None] - peaks[:, :, None]) / 2.0) ** 2)
    volume = rng.lognormal(6, 1, n)
    mean = volume[:, None, None] * shapes[labels]
    values = rng.poisson(mean * rng.lognormal(0, 0.1, mean.shape)).astype(np.float32)
    return values, labels, grid_neighbours(side)


# ------------------------------------------------------------------ losses
def direct_nt_xent(a: torch.Tensor, b: torch.Tensor, t: float) -> float:
    z = torch.cat([a, b]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        sims = [float(z[i] @ z[m]) / t for m in range(2 * n) if m != i]
        total += -(float(z[i] @ z[j]) / t - math.log(sum(math.exp(s) for s in sims)))
    return total / (2 * n)


def test_nt_xent_equals_direct_computation() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    for t in (0.5, 1.0):
        assert nt_xent(a, b, t).item() == pytest.approx(direct_nt_xent(a, b, t), rel=1e-5)
    assert instance_loss(a, b, 0.5).item() == pytest.approx(direct_nt_xent(a, b, 0.5), rel=1e-5)


def test_nt_xent_prefers_matching_pairs() -> None:
    a = torch.eye(4)
    assert nt_xent(a, a, 0.5) < nt_xent(a, a.roll(1, dims=0), 0.5)


def test_cluster_loss_contrasts_columns_and_entropy() -> None:
    g = torch.Generator().manual_seed(1)
    p_a = torch.softmax(torch.randn(6, 3, generator=g), 1)
    p_b = torch.softmax(torch.randn(6, 3, generator=g), 1)
    contrast, entropy = cluster_loss(p_a, p_b, 1.0)
    assert contrast.item() == pytest.approx(direct_nt_xent(p_a.T, p_b.T, 1.0), rel=1e-5)
    assert entropy.item() == pytest.approx(
        (cluster_entropy(p_a) + cluster_entropy(p_b)).item(), rel=1e-6
    )
    uniform = torch.full((4, 3), 1 / 3)
    collapsed = torch.tensor([[1.0, 0, 0]] * 4)
    assert cluster_entropy(uniform).item() == pytest.approx(0.0, abs=1e-6)
    assert cluster_entropy(collapsed).item() == pytest.approx(math.log(3), rel=1e-5)
    assert cluster_loss(p_a, p_b, 1.0, entropy_weight=0.0)[1].item() == 0.0


# ------------------------------------------------------------------ normalisation, augmentations
def test_normalisation_removes_volume_and_flags_bad_tiles() -> None:
    values, _, _ = toy_profiles()
    share = normalise_profiles(values, "share")
    assert np.allclose(share, normalise_profiles(values * 7.0, "share"), atol=1e-5)
    z = normalise_profiles(values, "log_zscore")
    assert z.shape == values.shape and z.dtype == np.float32
    assert np.allclose(z.reshape(len(z), -1).mean(1), 0, atol=1e-4)
    bad = values[:4].copy()
    bad[1, 0, 0] = np.nan
    bad[2] = 0
    bad[3, 1, 2] = -1
    invalid, empty = check_profiles(bad)
    assert invalid.tolist() == [False, True, False, True]
    assert empty.tolist() == [False, False, True, False]


def test_service_shape_normalisation() -> None:
    values, _, _ = toy_profiles()
    out = normalise_profiles(values, "service_shape")
    assert out.shape == values.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert np.allclose(out, normalise_profiles(values * 7.0, "service_shape"), atol=1e-4)
    # A service's weekly shape counts regardless of its volume: rescaling one service row
    # changes that row only by a constant (its share offset), not its shape.
    scaled = values.copy()
    scaled[:, 0] *= 50.0
    other = normalise_profiles(scaled, "service_shape")
    diff = other[:, 0] - out[:, 0]
    assert np.allclose(diff, diff[:, :1], atol=1e-4)
    assert not np.allclose(diff, 0, atol=1e-3)
    empty = normalise_profiles(np.zeros((2, 3, 5), dtype=np.float32), "service_shape")
    assert np.isfinite(empty).all()


def test_neighbour_mean_and_csr() -> None:
    x = np.arange(4, dtype=np.float32).reshape(4, 1, 1)
    indptr, indices = to_csr([[1, 2], [0], [], [0, 1, 2]], 4)
    out = neighbour_mean(x, indptr, indices)
    assert out.ravel().tolist() == [1.5, 0.0, 2.0, 1.0]
    indptr, indices = to_csr([[1], [0, 2], [1], []], 4)
    assert neighbour_mean(x, indptr, indices).ravel().tolist() == [1, 1, 1, 3]
    with pytest.raises(ValueError):
        to_csr([[5]], 1)


def test_augmentations_keep_shapes_and_switch_off() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 3, 24)
    nbr, ctx = torch.randn(8, 3, 24), torch.randn(8, 3, 24)
    view = TrafficAugment().view(x, nbr)
    assert view.shape == x.shape and not torch.equal(view, x)
    assert TrafficAugment().view(x, nbr, ctx).shape == (8, 6, 24)
    off = AugmentConfig.none()
    assert torch.equal(TrafficAugment(off).view(x, nbr), x)
    assert torch.equal(TrafficAugment(off).view(x, nbr, ctx), torch.cat([x, ctx], 1))
    for name in ("shift", "scale", "jitter", "mask_hours", "mask_services", "neighbour_mix"):
        only = AugmentConfig(**{**off.to_dict(), name: True, "mask_hours_p": 0.5})
        assert TrafficAugment(only).view(x, nbr).shape == x.shape
        assert not torch.equal(TrafficAugment(only).view(x, nbr), x), name
    shifted = circular_shift(x, torch.full((8,), 2))
    assert torch.equal(shifted, x.roll(2, dims=2))


def test_service_mask_keeps_one_service() -> None:
    torch.manual_seed(0)
    cfg = AugmentConfig(
        shift=False, scale=False, jitter=False, mask_hours=False, neighbour_mix=False
    )
    cfg.mask_services_p = 1.0
    view = TrafficAugment(cfg).view(torch.ones(16, 3, 24))
    assert (view.abs().sum(dim=(1, 2)) > 0).all()


# ------------------------------------------------------------------ model
def small_model(**kw) -> TrafficClusterer:
    args = dict(n_clusters=3, epochs=12, batch_size=64, lr=3e-3)
    args.update(kw)
    return TrafficClusterer(ClusterSettings(**args), device="cpu", seed=0)


def toy_data() -> tuple[TrafficData, np.ndarray]:
    values, labels, nb = toy_profiles()
    return TrafficData(values, nb, SERVICES, "daily_hourly"), labels


def test_small_fit_separates_obvious_clusters(tmp_path: Path) -> None:
    from urbansig.evaluation import clustering_agreement

    data, labels = toy_data()
    values = data.values
    model = small_model().fit(data)
    pred, conf = model.predict(data)
    assert clustering_agreement(labels, pred)["ari"] > 0.8
    assert conf.shape == (len(values),) and (conf <= 1).all() and (conf >= 1 / 3).all()
    assert model.transform(data).shape[0] == len(values)
    assert len(model.history.train_loss) == 12  # 9 representation + 3 refinement epochs
    assert model.training_summary["refinement_epochs"] == 3
    assert model.history.samples == 12 * (len(values) // 64 * 64)  # tiles, not tuples
    assert isinstance(model.net.cluster_head, PrototypeHead)
    assert model.history.train_loss[-1] < model.history.train_loss[0]
    # save / load gives identical assignments and probabilities
    path = model.save(tmp_path / "m.pt", metrics={"ari": 1.0})
    loaded = TrafficClusterer.load(path, device="cpu")
    p1 = model.infer(data)[1]
    p2 = loaded.infer(data)[1]
    assert np.array_equal(p1.argmax(1), p2.argmax(1)) and np.allclose(p1, p2, atol=1e-6)
    assert loaded.services == SERVICES and loaded.layout == "daily_hourly"
    assert loaded.check_compatible(SERVICES[::-1], "daily_hourly") == [2, 1, 0]
    with pytest.raises(BadInput, match="MODEL.*layout"):
        loaded.check_compatible(SERVICES, "weekly_hourly")
    with pytest.raises(BadInput, match="MODEL.*services"):
        loaded.check_compatible(["Netflix", "Teams"], "daily_hourly")
    with pytest.raises(BadInput, match="MODEL"):
        loaded.check_layout(3, 168)


def test_load_refuses_other_methods(tmp_path: Path) -> None:
    from urbansig.models.serialization import save_model

    other = save_model(tmp_path / "o.pt", "musecl", {}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="MODEL.*musecl"):
        TrafficClusterer.load(other)
    old = save_model(tmp_path / "v1.pt", METHOD, {"version": 1}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="MODEL.*earlier version.*train a new model"):
        TrafficClusterer.load(old)


@pytest.mark.parametrize(
    "options",
    [
        {"refine_fraction": 0.0, "neighbour_pairs": False},
        {"encoder": "small", "neighbour_context": True},
    ],
)
def test_other_configurations_fit_and_reload(tmp_path: Path, options: dict) -> None:
    """Without refinement (MLP head kept), without neighbour pairs, CNN encoder with
    neighbour context: all train, separate the toy classes and reload identically."""
    from urbansig.evaluation import clustering_agreement

    data, labels = toy_data()
    model = small_model(**options).fit(data)
    pred = model.predict(data)[0]
    assert clustering_agreement(labels, pred)["ari"] > 0.6
    loaded = TrafficClusterer.load(model.save(tmp_path / "m.pt"), device="cpu")
    assert np.allclose(model.infer(data)[1], loaded.infer(data)[1], atol=1e-6)


# ------------------------------------------------------------------ evaluation helpers
def test_join_count_and_latent_quality() -> None:
    from urbansig.evaluation import join_count_test, latent_cluster_quality

    _, labels, nb = toy_profiles(side=10)
    test = join_count_test(labels, nb, permutations=49)
    assert test["observed"] > test["random_mean"] + 5 * test["random_std"]
    assert test["p_value"] == pytest.approx(1 / 50)
    shuffled = np.random.default_rng(0).permutation(labels)
    assert join_count_test(shuffled, nb, permutations=49)["p_value"] > 0.05
    feats = np.eye(3)[labels] + np.random.default_rng(0).normal(0, 0.05, (len(labels), 3))
    q = latent_cluster_quality(feats, labels, sample_size=50)
    assert q["silhouette"] > 0.8 and q["davies_bouldin"] < 0.3


def test_polygon_neighbours_on_square_tiles() -> None:
    geopandas = pytest.importorskip("geopandas")
    from shapely.geometry import box

    from urbansig.grids import polygon_neighbours

    tiles = geopandas.GeoSeries([box(x, y, x + 1, y + 1) for y in range(4) for x in range(4)])
    assert polygon_neighbours(tiles) == grid_neighbours(4)


# ------------------------------------------------------------------ job
def write_tile_layer(path: Path, seed: int = 0, side: int = 12, steps: int = 24) -> np.ndarray:
    """A tile layer whose fields hold daily profiles (p_<service>_<step>) and a land use."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    values, labels, _ = toy_profiles(side=side, steps=steps, seed=seed)
    n = side * side
    fields = {f"p_{s}_{t}": values[:, i, t] for i, s in enumerate(SERVICES) for t in range(steps)}
    frame = pd.DataFrame({"tile_id": np.arange(n) + 1000, "land_use": labels, **fields})
    geoms = [box(x * 100, y * 100, x * 100 + 100, y * 100 + 100) for y, x in np.ndindex(side, side)]
    gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:27572").to_file(path, engine="pyogrio")
    return labels


def job_spec(tmp_path: Path, tiles: Path, **params) -> JobSpec:
    base = {
        "profile_prefix": "p_",
        "layout": "daily_hourly",
        "n_clusters": "3",
        "epochs": 10,
        "batch_size": 64,
        "lr": 3e-3,
        "label_field": "land_use",
    }
    base.update(params)
    return JobSpec(
        task="clustertraffictiles",
        inputs={"tiles": str(tiles)},
        params=base,
        outputs={
            "output": str(tmp_path / "out.gpkg"),
            "report": str(tmp_path / "report.html"),
            "model_output": str(tmp_path / "model.pt"),
        },
        device="cpu",
        seed=0,
    )


def run_job(spec: JobSpec) -> tuple[dict, list[dict]]:
    import io

    from urbansig.runtime import run_spec

    stream = io.StringIO()
    result = run_spec(spec, Events(stream, min_interval=0.0))
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


BASELINES = ["kmeans", "pca_kmeans", "smoothed_kmeans", "spatial_kmeans"]


@pytest.mark.parametrize(
    "method, row", [("spatial_kmeans", "spatial_kmeans"), ("contrastive", METHOD)]
)
def test_job_end_to_end_and_transfer(tmp_path: Path, method: str, row: str) -> None:
    import geopandas as gpd

    tiles = tmp_path / "tiles.gpkg"
    labels = write_tile_layer(tiles)
    result, events = run_job(job_spec(tmp_path, tiles, method=method))
    out = gpd.read_file(tmp_path / "out.gpkg")
    assert {"cluster", "confidence", "volume", "tile_id"} <= set(out.columns)
    assert out["cluster"].between(0, 2).all() and out["confidence"].between(0, 1).all()
    metrics = result["metrics"]
    assert metrics["ari"] > 0.7
    assert metrics["coherence"] > metrics["coherence_random"]
    assert {"kmeans_ari", "pca_kmeans_ari", "smoothed_kmeans_ari", "silhouette"} <= set(metrics)
    assert metrics["method"] == row
    assert [r["method"] for r in metrics["comparison"]] == [row] + [
        name for name in BASELINES if name != row
    ]
    assert (tmp_path / "report_files" / "tsne.png").is_file()
    assert (tmp_path / "report_files" / "profiles.png").is_file()
    assert any(e["event"] == "progress" and e["fraction"] == 1.0 for e in events)
    # transfer: the saved model labels another city without training
    other = tmp_path / "b"
    other.mkdir()
    labels_b = write_tile_layer(other / "tiles.gpkg", seed=1)
    spec = job_spec(other, other / "tiles.gpkg")
    spec.inputs["model"] = str(tmp_path / "model.pt")
    spec.outputs.pop("model_output")
    result_b, _ = run_job(spec)
    assert result_b["metrics"]["ari"] > 0.7
    assert result_b["metrics"]["method"] == row  # the model's method, whatever METHOD says
    assert len(gpd.read_file(other / "out.gpkg")) == len(labels_b) == len(labels)
    # a model of another layout is a clear error and writes nothing
    bad = tmp_path / "c"
    bad.mkdir()
    write_tile_layer(bad / "tiles.gpkg", steps=168)
    spec = job_spec(bad, bad / "tiles.gpkg", layout="weekly_hourly")
    spec.inputs["model"] = str(tmp_path / "model.pt")
    with pytest.raises(BadInput, match="MODEL.*layout"):
        run_job(spec)
    assert not (bad / "out.gpkg").exists() and not (bad / "report.html").exists()


@pytest.mark.parametrize("method", ["spatial_kmeans", "contrastive"])
def test_job_auto_k_and_embeddings(tmp_path: Path, method: str) -> None:
    import geopandas as gpd

    tiles = tmp_path / "tiles.gpkg"
    write_tile_layer(tiles, side=8)
    spec = job_spec(
        tmp_path,
        tiles,
        method=method,
        n_clusters="auto",
        k_min=2,
        k_max=6,
        epochs=3,
        write_embeddings=True,
    )
    result, _ = run_job(spec)
    assert result["metrics"]["n_clusters"] == 3  # the toy city's three land uses
    out = gpd.read_file(tmp_path / "out.gpkg")
    assert "emb_000" in out.columns
    assert "Choice of K" in (tmp_path / "report.html").read_text()


def _edit_layer(src: Path, dst: Path, edit) -> None:
    import geopandas as gpd

    edit(gpd.read_file(src)).to_file(dst, engine="pyogrio")


@pytest.mark.parametrize(
    ("params", "edit", "message"),
    [
        ({"n_clusters": "500"}, None, "N_CLUSTERS"),
        ({"n_clusters": "x"}, None, "N_CLUSTERS"),
        ({"services": "Netflix,Snapchat"}, None, "SERVICES.*Snapchat"),
        ({"profile_prefix": "q_"}, None, "PROFILE_PREFIX"),
        ({"layout": "weekly_hourly"}, None, "PROFILE_PREFIX.*LAYOUT"),
        ({"label_field": "nope"}, None, "LABEL_FIELD"),
        ({}, lambda f: f.assign(p_Teams_3=np.nan), "INPUT.*NaN"),
        (
            {},
            lambda f: f.assign(**{c: 0.0 for c in f.columns if c.startswith("p_")}),
            "TILES.*no traffic",
        ),
        ({}, lambda f: f.rename(columns={"tile_id": "id"}), "TILES.*tile_id"),
    ],
)
def test_job_bad_inputs_write_nothing(tmp_path: Path, params, edit, message) -> None:
    tiles = tmp_path / "tiles.gpkg"
    write_tile_layer(tiles, side=6)
    if edit is not None:
        _edit_layer(tiles, tiles, edit)
    with pytest.raises(BadInput, match=message):
        run_job(job_spec(tmp_path, tiles, **params))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.gpkg"]


def test_job_tiles_without_traffic(tmp_path: Path) -> None:
    """Few tiles without traffic: warning and an empty cluster; many: BadInput."""
    import geopandas as gpd
    import pandas as pd

    from urbansig.runtime import run_spec

    tiles = tmp_path / "tiles.gpkg"
    write_tile_layer(tiles, side=10)
    frame = gpd.read_file(tiles)
    table = frame.drop(columns="geometry").melt(["tile_id", "land_use"], var_name="f")
    parts = table["f"].str.extract(r"p_(\w+?)_(\d+)$")
    long = pd.DataFrame(
        {
            "tile_id": table["tile_id"],
            "timestamp": pd.Timestamp("2019-03-25")
            + pd.to_timedelta(parts[1].astype(int), unit="h"),
            "service": parts[0],
            "value": table["value"],
        }
    )
    layer = tmp_path / "layer.gpkg"
    frame[["tile_id", "land_use", "geometry"]].to_file(layer, engine="pyogrio")
    few = tmp_path / "few.csv"
    long[~long["tile_id"].isin(frame["tile_id"][:5])].to_csv(few, index=False)
    spec = job_spec(tmp_path, layer, profile_prefix=None, epochs=3)
    spec.inputs["input"] = str(few)
    events_io = __import__("io").StringIO()
    run_spec(spec, Events(events_io, min_interval=0.0))
    out = gpd.read_file(tmp_path / "out.gpkg")
    assert int(out["cluster"].isna().sum()) == 5
    assert "5 of 100 tiles of TILES have no traffic" in events_io.getvalue()
    many = tmp_path / "many.csv"
    long[~long["tile_id"].isin(frame["tile_id"][:30])].to_csv(many, index=False)
    spec = job_spec(tmp_path / "x", layer, profile_prefix=None)
    (tmp_path / "x").mkdir()
    spec.inputs["input"] = str(many)
    with pytest.raises(BadInput, match="TILES: 30 of 100 tiles have no traffic"):
        run_job(spec)
    assert not any((tmp_path / "x").iterdir())


@pytest.mark.slow
def test_job_on_generated_city(tmp_path: Path) -> None:
    """End to end on the tiny synthetic city through its NetMob folder (generous floor)."""
    synth = pytest.importorskip("urbansig.synth")
    city = tmp_path / "city"
    synth.generate_city(city, seed=0, size="tiny")
    spec = JobSpec(
        task="clustertraffictiles",
        inputs={"input": str(city / "netmob"), "tiles": str(city / "tiles.gpkg")},
        params={"n_clusters": "7", "epochs": 15, "label_field": "land_use"},
        outputs={"output": str(tmp_path / "out.gpkg"), "report": str(tmp_path / "r.html")},
        device="cpu",
    )
    result, _ = run_job(spec)
    assert result["metrics"]["ari"] > 0.2
    assert result["metrics"]["coherence"] > result["metrics"]["coherence_random"]


def test_weight_decay_reaches_training() -> None:
    """The weight decay the model is given (and saves) is the one its optimiser uses."""
    data, _ = toy_data()
    norms = {}
    for decay in (0.0, 0.5):
        model = small_model(weight_decay=decay, epochs=6).fit(data)
        assert model._fit_config(6, 1e-3).weight_decay == decay
        norms[decay] = sum(float(p.norm()) for p in model.net.parameters())
    assert norms[0.5] < norms[0.0]  # decoupled decay shrinks the weights
