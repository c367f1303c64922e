"""MuseCL: pair mining, losses, fusion, encoders, text vectors, save/load, the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from urbansig.models.musecl import MuseCL, MuseCLConfig, RegionData, encoders, text, triplets
from urbansig.models.musecl.fusion import AttentiveFusion, info_nce, neg_entropy
from urbansig.protocol import BadInput, Events, JobSpec

# ---------------------------------------------------------------- pair mining


def test_rank_candidates_picks_most_and_least_similar():
    x = np.array([[0.0], [1.0], [2.5], [10.0], [11.0], [50.0]])
    c = triplets.rank_candidates(x, k=2, block=4)
    assert c.nearest[0].tolist() == [1, 2]
    assert sorted(c.farthest[0].tolist()) == [4, 5]
    assert c.nearest[5].tolist() == [4, 3]
    assert sorted(c.farthest[5].tolist()) == [0, 1]
    assert not (c.nearest == np.arange(6)[:, None]).any()
    c = triplets.rank_candidates(x, k=1, negative_fraction=0.6)  # 3 of the 5 others
    assert c.nearest[:, 0].tolist() == [1, 0, 1, 4, 3, 4]
    assert c.threshold[3] == 9.0**2  # region 3 (at 10): its 3rd most distant other is 9 away
    valid = np.array([True, False, True, True, True, True])
    c = triplets.rank_candidates(x, k=1, valid=valid)
    assert c.nearest[0, 0] == 2 and c.nearest[2, 0] == 0  # region 1 has no data: never picked
    assert 1 not in c.nearest and 1 not in c.farthest
    assert c.nearest.nbytes + c.farthest.nbytes == 6 * 2 * 8  # O(n k), not O(n^2)


def test_large_pools_estimate_the_negatives_threshold_from_a_sample():
    """Above EXACT_THRESHOLD_POOL valid regions the threshold is the same quantile of a
    sample of distances: close to the exact one; the nearest stay exact."""
    n = triplets.EXACT_THRESHOLD_POOL + 2000
    x = np.random.default_rng(0).random((n, 1))
    c = triplets.rank_candidates(x, k=3, block=2048)
    rows = np.array([0, 17, 4000, n - 1])
    d2 = (x[rows] - x[:, 0][None, :]) ** 2
    d2[np.arange(len(rows)), rows] = -np.inf  # itself is never a negative
    exact = -np.partition(-d2, int((n - 1) * 0.25) - 1, axis=1)[:, int((n - 1) * 0.25) - 1]
    np.testing.assert_allclose(c.threshold[rows], exact, rtol=0.1)
    nearest = np.argsort(np.where(d2 < 0, np.inf, d2), axis=1)[:, :3]
    assert (np.sort(c.nearest[rows], 1) == np.sort(nearest, 1)).all()


def test_approximate_search_finds_nearly_all_true_nearest_and_repeats_itself():
    """The HNSW index (faiss) gives almost the exact positives, never the region itself nor
    a region without data, and the same pairs on every run; the negatives' threshold is the
    exact search's."""
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.gamma(1.0, 3.0, (3000, 1)), (3000, 26)).astype(float)
    valid = rng.random(3000) > 0.05
    exact = triplets.rank_candidates(x, k=5, valid=valid, search="exact")
    approx = triplets.rank_candidates(x, k=5, valid=valid, search="approximate")
    again = triplets.rank_candidates(x, k=5, valid=valid, search="approximate")
    assert np.array_equal(approx.nearest, again.nearest)
    assert not (approx.nearest == np.arange(3000)[:, None]).any()
    assert valid[approx.nearest].all()
    d_exact = ((x[:, None] - x[exact.nearest]) ** 2).sum(-1)
    d_approx = ((x[:, None] - x[approx.nearest]) ** 2).sum(-1)
    # recall by distance (ties make ids ambiguous): the k-th distance found is the true one
    assert (d_approx[:, -1] <= d_exact[:, -1] + 1e-9).mean() > 0.95
    np.testing.assert_allclose(approx.threshold, exact.threshold)
    with pytest.raises(ValueError, match="search must be one of"):
        triplets.rank_candidates(x, k=5, search="fast")


def test_negatives_are_uniform_over_the_least_similar_share():
    """Rejection sampling against the threshold draws every one of the least similar
    quarter about equally often, and nothing closer."""
    rng = np.random.default_rng(0)
    x = np.arange(41, dtype=float)[:, None]
    c = triplets.rank_candidates(x, k=3, negative_fraction=0.25)  # 10 of the 40 others
    _, pos, neg = triplets.sample_triplets(np.zeros(20_000, dtype=np.int64), c, rng)
    assert set(pos.tolist()) == {1, 2, 3}
    counts = np.bincount(neg, minlength=41)
    assert set(np.flatnonzero(counts).tolist()) == set(range(31, 41))
    assert counts[31:].min() > 0.8 * counts[31:].mean()


def test_triplet_loss_uses_cosine_similarity_and_margin():
    a = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[2.0, 0.0]])  # cosine 1
    n = torch.tensor([[0.0, 3.0]])  # cosine 0
    assert triplets.triplet_loss(a, p, n, 0.5).item() == pytest.approx(0.0)
    assert triplets.triplet_loss(a, n, p, 0.5).item() == pytest.approx(1.5)
    assert triplets.triplet_loss(a, p, n, 1.2).item() == pytest.approx(0.2, abs=1e-6)


# ------------------------------------------------------------- fusion / InfoNCE


def test_attention_betas_sum_to_one_and_respect_missing_modalities():
    torch.manual_seed(0)
    fusion = AttentiveFusion(8, 5)
    emb = torch.randn(6, 3, 8)
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0], [1, 1, 1]]).bool()
    fused, beta = fusion(emb, mask)
    sums = beta.sum(1)
    assert torch.allclose(sums[[0, 1, 2, 3, 5]], torch.ones(5), atol=1e-6)
    assert beta[4].abs().sum() == 0 and fused[4].abs().sum() == 0
    assert (beta[~mask] == 0).all()
    assert torch.allclose(fused[2], emb[2, 2], atol=1e-6)  # one modality: weight 1
    # Eq. 8-10 computed directly for row 0
    alpha = torch.stack([fusion.c @ torch.relu(fusion.M(emb[0, m])) for m in range(3)])
    expected = torch.softmax(alpha, 0)
    assert torch.allclose(beta[0], expected, atol=1e-6)
    assert torch.allclose(fused[0], (expected[:, None] * emb[0]).sum(0), atol=1e-6)


def test_modality_maps_start_as_identity_and_are_applied_per_modality():
    torch.manual_seed(0)
    plain, mapped = AttentiveFusion(8), AttentiveFusion(8, modality_maps=3)
    mapped.M.load_state_dict(plain.M.state_dict())
    mapped.c.data.copy_(plain.c.data)
    emb = torch.randn(5, 3, 8)
    assert torch.allclose(mapped(emb)[0], plain(emb)[0], atol=1e-6)  # identity at the start
    shift = torch.randn(8)
    with torch.no_grad():
        mapped.maps[1].net[2].bias.copy_(shift)
    fused, beta = mapped(emb)
    moved = emb.clone()
    moved[:, 1] += shift
    assert torch.allclose(fused, plain(moved)[0], atol=1e-5)
    assert torch.allclose(beta, plain(moved)[1], atol=1e-6)


def test_neg_entropy_is_lowest_for_uniform_weights():
    uniform = torch.full((2, 4), 0.25)
    onehot = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0]])
    assert neg_entropy(uniform).item() == pytest.approx(-np.log(4), rel=1e-6)
    assert neg_entropy(onehot).item() == pytest.approx(0.0, abs=1e-6)


def test_info_nce_equals_direct_computation():
    e = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, -2.0]])
    t = torch.tensor([[2.0, 0.1], [0.0, 1.0], [1.0, -1.0]])
    for tau in (1.0, 0.5):
        total = 0.0
        for i in range(3):
            sims = [float(e[i] @ t[j] / (e[i].norm() * t[j].norm())) / tau for j in range(3)]
            total += -np.log(np.exp(sims[i]) / np.sum(np.exp(sims)))
        assert info_nce(e, t, tau).item() == pytest.approx(total / 3, rel=1e-5)


# ----------------------------------------------------------------- encoders


def _torchvision_resnet18_keys() -> list[str]:
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight", *(f"bn1.{b}" for b in bn)]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}"
            keys += [f"{p}.conv1.weight", *(f"{p}.bn1.{b}" for b in bn)]
            keys += [f"{p}.conv2.weight", *(f"{p}.bn2.{b}" for b in bn)]
            if layer > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight", *(f"{p}.downsample.1.{b}" for b in bn)]
    return keys + ["fc.weight", "fc.bias"]


def test_resnet18_state_dict_uses_torchvision_names():
    with torch.device("meta"):
        model = encoders.ResNet18(3, 128, 64, encoders.RESNET_FULL_BLOCKS)
    state = model.state_dict()
    assert sorted(state) == sorted(_torchvision_resnet18_keys())
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer4.1.conv2.weight"].shape == (512, 512, 3, 3)
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    backbone = sum(v.numel() for k, v in model.named_parameters() if not k.startswith("fc."))
    assert backbone == 11_176_512  # torchvision resnet18 without its fc layer
    small = encoders.ResNet18(4, 128).state_dict()
    assert set(small) <= set(state) | {"fc.weight", "fc.bias"}


def test_inception_v3_state_dict_uses_torchvision_names():
    with torch.device("meta"):  # shapes only, no memory
        model = encoders.InceptionV3(3, 128, 1.0, encoders.INCEPTION_FULL)
    state = model.state_dict()
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in state
    backbone = sum(v.numel() for k, v in model.named_parameters() if not k.startswith("fc."))
    assert backbone == 21_785_568  # torchvision inception_v3 without AuxLogits and fc
    assert model.feature_dim == 2048
    small = encoders.InceptionV3(3, 64)
    assert small(torch.rand(2, 3, 75, 75)).shape == (2, 64)


def test_load_backbone_weights_adapts_bands_and_rejects_mismatches(tmp_path):
    source = encoders.ResNet18(3, 1000, 64, encoders.RESNET_FULL_BLOCKS)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    target = encoders.ResNet18(4, 128, 64, encoders.RESNET_FULL_BLOCKS)
    assert encoders.load_backbone_weights(target, path, "RS_WEIGHTS") == 120  # all but fc
    got = target.state_dict()
    assert torch.equal(got["layer3.1.conv2.weight"], source.state_dict()["layer3.1.conv2.weight"])
    assert got["conv1.weight"].shape == (64, 4, 7, 7)
    with pytest.raises(BadInput, match="RS_WEIGHTS"):
        encoders.load_backbone_weights(encoders.ResNet18(3, 128), path, "RS_WEIGHTS")
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    with pytest.raises(BadInput, match="SV_WEIGHTS"):
        encoders.load_backbone_weights(encoders.InceptionV3(), tmp_path / "junk.pth", "SV_WEIGHTS")


# ---------------------------------------------------------------------- text


def test_region_poi_vectors_are_category_means():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]], dtype=np.float32)
    codes = np.array([0, 1, 1, 2, -1, 0])
    region = np.array([0, 0, 0, 2, 2, -1])
    means, counts = text.region_means(codes, region, vectors, 3)
    assert counts.tolist() == [3, 0, 1]
    assert np.allclose(means[0], [1 / 3, 4 / 3])
    assert np.allclose(means[1], 0) and np.allclose(means[2], [4, 4])
    counts_matrix = text.category_counts(codes, region, 3, 3)
    assert counts_matrix.tolist() == [[1, 2, 0], [0, 0, 0], [0, 0, 1]]


def test_skipgram_hierarchical_softmax_groups_cooccurring_categories():
    rng = np.random.default_rng(0)
    cats, texts, region = [], [], []
    for r in range(60):
        group = (["cafe", "bar", "restaurant"], ["farm", "barn", "field"])[r % 2]
        for _ in range(8):
            c = group[rng.integers(0, 3)]
            cats.append(c)
            texts.append(f"{c} near the {'square' if r % 2 == 0 else 'meadow'}")
            region.append(r)
    sentences = text.build_sentences(cats, texts, np.array(region), rng)
    names = ["bar", "barn", "cafe", "farm", "field", "restaurant"]
    vec = text.train_category_vectors(sentences, names, 16, epochs=20, seed=0)
    vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    sim = vec @ vec.T
    assert (
        sim[names.index("cafe"), names.index("bar")] > sim[names.index("cafe"), names.index("farm")]
    )


# -------------------------------------------------------------- model level


def _region_data(n: int = 60, seed: int = 0, images: bool = True) -> tuple[RegionData, np.ndarray]:
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)
    coords = rng.random((n, 2)) * 1000
    cats_by_kind = (("shop", "cafe"), ("school", "park"), ("factory", "depot"))
    cats, texts, where = [], [], []
    for i in range(n):
        for _ in range(rng.integers(1, 6)):
            c = cats_by_kind[kind[i]][rng.integers(0, 2)]
            cats.append(c)
            texts.append(f"{c} {c}s")
            where.append(i)
    flows = np.stack([rng.poisson(100 * (kind + 1)), rng.poisson(60 * (3 - kind))], 1)
    data = RegionData(
        n=n,
        coords=coords,
        flows=flows.astype(float),
        poi_category=cats,
        poi_text=texts,
        poi_region=np.array(where),
    )
    if images:
        rs = rng.random((n, 3, 16, 16)) * 0.3 + kind[:, None, None, None] * 0.3
        data.rs, data.rs_valid = rs.astype(np.float32), np.ones(n, dtype=bool)
        data.rs_valid[0] = False
    return data, kind


FAST = {"epochs_image": 1, "epochs_tabular": 3, "epochs_fusion": 3, "epochs_text": 2}


def test_fit_transform_save_load_give_identical_embeddings(tmp_path):
    data, _ = _region_data()
    modalities = ("rs", "flow", "poi_counts", "poi_text")
    config = MuseCLConfig(dim=16, image_size=16, modalities=modalities, **FAST)
    model = MuseCL(config).fit(data)
    assert model.fused == ("rs", "flow", "poi_counts") and model.target == "poi_text"
    assert model.summary.criteria == {
        "rs": "poi_counts",
        "flow": "poi_counts",
        "poi_counts": "flow",
    }
    out = model.transform(data)
    assert out["embedding"].shape == (60, 16)
    betas = np.stack(list(out["betas"].values()), 1)
    assert np.allclose(betas.sum(1), 1.0, atol=1e-5)
    assert out["betas"]["rs"][0] == 0.0  # no raster data in region 0
    path = model.save(tmp_path / "musecl.pt")
    loaded = MuseCL.load(path)
    again = loaded.transform(data)
    assert np.array_equal(again["embedding"], out["embedding"])
    payload = torch.load(path, weights_only=True)
    config_json = json.loads(payload["config"])
    assert config_json["categories"] == sorted(set(data.poi_category))
    assert payload["state"]["poi.category_vectors"].shape == (6, 16)
    assert payload["state"]["projector.net.0.weight"].shape == (16, 16)  # default: g(h)
    assert payload["state"]["fusion.maps.2.net.0.weight"].shape == (16, 16)  # one per fused


def test_paper_literal_variant_has_no_projection_head_nor_maps(tmp_path):
    data, _ = _region_data(images=False)
    config = MuseCLConfig(
        dim=8, projection_head=False, modality_maps=False, beta_entropy=0.0, **FAST
    )
    model = MuseCL(config).fit(data)
    assert model.projector is None and len(model.fusion.maps) == 0
    assert not any("beta_neg_entropy" in p for p in model.summary.histories["fusion"].parts)
    path = model.save(tmp_path / "literal.pt")
    payload = torch.load(path, weights_only=True)
    assert not any(k.startswith(("projector.", "fusion.maps.")) for k in payload["state"])
    # a model saved before the maps existed has no modality_maps setting: loads without maps
    config_json = json.loads(payload["config"])
    del config_json["settings"]["modality_maps"], config_json["settings"]["beta_entropy"]
    payload["config"] = json.dumps(config_json)
    torch.save(payload, path)
    loaded = MuseCL.load(path)
    assert loaded.projector is None and len(loaded.fusion.maps) == 0
    assert not loaded.config.modality_maps
    assert np.array_equal(loaded.transform(data)["embedding"], model.transform(data)["embedding"])


def test_poi_and_flows_only_and_no_data_regions_are_flagged():
    data, kind = _region_data(images=False)
    data.poi_region = np.where(data.poi_region == 5, -1, data.poi_region)
    data.flow_valid = np.arange(data.n) != 5
    model = MuseCL(MuseCLConfig(dim=8, **FAST)).fit(data)
    assert model.fused == ("flow", "poi_counts")
    out = model.transform(data)
    assert out["no_data"].tolist() == [i == 5 for i in range(data.n)]
    assert np.all(out["embedding"][5] == 0)
    assert out["n_pois"][5] == 0 and out["n_pois"].sum() == (data.poi_region >= 0).sum()


def test_default_modalities_follow_the_paper():
    from urbansig.models.musecl.model import default_modalities

    everything = ["rs", "sv", "flow", "poi_counts", "poi_text"]
    assert default_modalities(everything) == ["rs", "sv", "flow", "poi_text"]
    assert default_modalities(["rs", "sv", "poi_counts", "poi_text"]) == ["rs", "sv", "poi_text"]
    assert default_modalities(["rs", "flow"]) == ["rs", "flow"]
    assert default_modalities(["flow", "poi_counts", "poi_text"]) == [
        "flow",
        "poi_counts",
        "poi_text",
    ]
    assert default_modalities(["poi_counts", "poi_text"]) == ["poi_counts", "poi_text"]


def test_model_rejects_fewer_than_two_modalities():
    data, _ = _region_data(images=False)
    data.poi_category = None
    with pytest.raises(BadInput, match="at least two modalities"):
        MuseCL(MuseCLConfig(**FAST)).fit(data)
    data, _ = _region_data(images=False)
    with pytest.raises(BadInput, match="MODALITIES"):
        MuseCL(MuseCLConfig(modalities=("flow",), **FAST)).fit(data)
    with pytest.raises(BadInput, match="MODALITIES"):
        MuseCL(MuseCLConfig(modalities=("rs", "flow"), **FAST)).fit(data)


# --------------------------------------------------------------------- job


def _write_city(root: Path, side: int = 6, seed: int = 0) -> dict[str, Path]:
    """A small city: square regions, a 3-band raster, street-view PNGs, POIs, OD flows
    (three destinations per region, volume by its kind)."""
    import geopandas as gpd
    import pandas as pd
    import rasterio
    from PIL import Image
    from rasterio.transform import from_origin
    from shapely.geometry import Point, box

    rng = np.random.default_rng(seed)
    crs, cell = "EPSG:3857", 100.0
    x0, y0 = 1_000_000.0, 6_000_000.0
    kind = rng.integers(0, 3, side * side)
    polys = [
        box(x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
        for r in range(side)
        for c in range(side)
    ]
    ids = [f"r{i:03d}" for i in range(side * side)]
    density = np.exp(2 + 2 * kind + rng.normal(0, 0.3, len(kind)))
    regions = gpd.GeoDataFrame(
        {"region_id": ids, "population_density": density}, geometry=polys, crs=crs
    )
    paths = {"regions": root / "regions.gpkg"}
    regions.to_file(paths["regions"])
    px = 10  # 10 m pixels
    n_px = side * int(cell / px)
    image = np.zeros((3, n_px, n_px), dtype=np.uint8)
    for i, k in enumerate(kind):
        r, c = divmod(i, side)
        rows = slice(n_px - (r + 1) * 10, n_px - r * 10)
        image[:, rows, c * 10 : (c + 1) * 10] = 40 + 80 * k + rng.integers(0, 30, (3, 10, 10))
    paths["raster"] = root / "rs.tif"
    with rasterio.open(
        paths["raster"], "w", driver="GTiff", width=n_px, height=n_px, count=3,
        dtype="uint8", crs=crs, transform=from_origin(x0, y0 + side * cell, px, px),
    ) as dst:  # fmt: skip
        dst.write(image)
    (root / "sv").mkdir()
    points, files = [], []
    for i, k in enumerate(kind):
        for j in range(2):
            rgb = np.full((24, 24, 3), 60 + 70 * k, dtype=np.uint8)
            rgb[:, :, j] = rng.integers(0, 255)
            name = f"sv/{i}_{j}.png"
            Image.fromarray(rgb).save(root / name)
            cx, cy = polys[i].centroid.coords[0]
            points.append(Point(cx + rng.uniform(-30, 30), cy + rng.uniform(-30, 30)))
            files.append(name)
    paths["streetview"] = root / "streetview.gpkg"
    gpd.GeoDataFrame({"path": files}, geometry=points, crs=crs).to_file(paths["streetview"])
    cats_by_kind = (("shop", "cafe"), ("school", "park"), ("factory", "depot"))
    rows = []
    for i, k in enumerate(kind):
        cx, cy = polys[i].centroid.coords[0]
        for _ in range(rng.integers(2, 6)):
            c = cats_by_kind[k][rng.integers(0, 2)]
            rows.append((c, f"the {c} place", Point(cx + rng.uniform(-40, 40), cy)))
    pois = gpd.GeoDataFrame(rows, columns=["category", "text", "geometry"], crs=crs)
    paths["pois"] = root / "pois.gpkg"
    pois.to_file(paths["pois"])
    od = [
        (ids[i], ids[j], int(rng.poisson(5 * (kind[i] + 1))))
        for i in range(len(ids))
        for j in rng.choice(len(ids), 3, replace=False)
    ]
    paths["od"] = root / "od.csv"
    pd.DataFrame(od, columns=["origin", "destination", "count"]).to_csv(paths["od"], index=False)
    return paths


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("urbansig.io.raster")
    pytest.importorskip("urbansig.io.images")
    pytest.importorskip("urbansig.io.poi")
    return _write_city(tmp_path_factory.mktemp("musecl_city"))


JOB_FAST = {
    "epochs_image": 1,
    "epochs_tabular": 5,
    "epochs_fusion": 10,
    "epochs_text": 3,
    "dim": 16,
    "image_size": 75,
}


def _run(inputs: dict, outputs: dict, params: dict | None = None):
    from urbansig.runtime import run_spec

    spec = JobSpec(
        task="embedregionsmusecl",
        inputs={k: str(v) for k, v in inputs.items()},
        params={**JOB_FAST, **(params or {})},
        outputs={k: str(v) for k, v in outputs.items()},
    )
    return run_spec(spec, Events(open("/dev/null", "w")))


def test_job_end_to_end_and_apply_saved_model(city, tmp_path):
    import geopandas as gpd

    from urbansig.columns import embedding_columns

    outputs = {
        "output": tmp_path / "emb.gpkg",
        "output_model": tmp_path / "musecl.pt",
        "output_report": tmp_path / "report.html",
    }
    inputs = {k: city[k] for k in ("regions", "raster", "streetview", "pois", "od")}
    # the paper's in/out totals: with three random destinations per region the OD structure
    # carries no land use and, fused, drags the embedding (bench/RESULTS.md, MuseCL notes)
    result = _run(
        inputs,
        outputs,
        {
            "ablation_field": "population_density",
            "ablation_repeats": 1,
            "ablation_models": "ridge",
            "flow_encoder": "totals",
        },
    )
    frame = gpd.read_file(outputs["output"])
    assert len(frame) == 36
    assert set(embedding_columns(16)) <= set(frame.columns)
    betas = frame[[c for c in frame.columns if c.startswith("beta_")]]
    assert sorted(betas.columns) == ["beta_flow", "beta_rs", "beta_sv"]
    # base_: the fused modalities' own (unit) embeddings side by side, the no-fusion baseline
    base = frame[[c for c in frame.columns if c.startswith("base_")]].to_numpy().reshape(36, 3, 16)
    np.testing.assert_allclose(np.linalg.norm(base, axis=2), 1.0, atol=1e-4)
    assert np.allclose(betas.sum(axis=1), 1.0, atol=1e-5)
    assert (frame["n_images"] == 2).all() and frame["n_pois"].min() >= 2
    assert frame["no_data"].sum() == 0
    assert frame["cluster"].between(0, 2).all()  # k-means of the PCA (report map, Figure 5)
    assert result["metrics"]["modalities"] == "rs,sv,flow,poi_text"
    assert "r2_musecl" in result["metrics"] and "r2_concat" in result["metrics"]
    assert result["metrics"]["r2_musecl"] > 0.3  # generous: density follows the land use
    page = outputs["output_report"].read_text()
    assert "Ablation" in page and "cluster_map.png" in page
    # apply the saved model to the same regions: identical embeddings, no training
    applied = {"output": tmp_path / "applied.gpkg"}
    _run({**inputs, "model": outputs["output_model"]}, applied)
    again = gpd.read_file(applied["output"])
    cols = embedding_columns(16)
    assert np.allclose(again[cols].to_numpy(), frame[cols].to_numpy(), atol=1e-5)


def test_job_bad_inputs_write_nothing(city, tmp_path):
    import geopandas as gpd
    from PIL import Image  # noqa: F401 - the fixture wrote PNGs with it

    out = {"output": tmp_path / "emb.gpkg"}
    with pytest.raises(BadInput, match="at least two modalities"):
        _run({"regions": city["regions"], "raster": city["raster"]}, out)
    # a raster elsewhere (other CRS, no overlap)
    import rasterio
    from rasterio.transform import from_origin

    far = tmp_path / "far.tif"
    with rasterio.open(
        far, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8",
        crs="EPSG:4326", transform=from_origin(100.0, -40.0, 0.01, 0.01),
    ) as dst:  # fmt: skip
        dst.write(np.ones((1, 8, 8), dtype=np.uint8))
    with pytest.raises(BadInput, match="RASTER"):
        _run({"regions": city["regions"], "raster": far, "pois": city["pois"]}, out)
    # unreadable street-view image
    sv = gpd.read_file(city["streetview"])
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "broken.png").write_bytes(b"no image here")
    sv.loc[0, "path"] = "sv/broken.png"
    for name in sv["path"].iloc[1:]:
        target = tmp_path / name
        target.write_bytes((city["streetview"].parent / name).read_bytes())
    sv.to_file(tmp_path / "sv.gpkg")
    with pytest.raises(BadInput, match="STREETVIEW.*broken.png"):
        _run(
            {"regions": city["regions"], "streetview": tmp_path / "sv.gpkg", "od": city["od"]}, out
        )
    # POIs without categories
    pois = gpd.read_file(city["pois"])
    pois["category"] = None
    pois.to_file(tmp_path / "nocat.gpkg")
    with pytest.raises(BadInput, match="POIS"):
        _run({"regions": city["regions"], "pois": tmp_path / "nocat.gpkg", "od": city["od"]}, out)
    with pytest.raises(BadInput, match="TEMPERATURE"):
        _run({"regions": city["regions"], "pois": city["pois"]}, out, {"temperature": 0})
    assert list(tmp_path.glob("emb*")) == [] and not list(tmp_path.glob(".emb*"))


def _plain_city(root: Path, n: int = 30, seed: int = 0) -> dict[str, object]:
    """Regions as a plain CSV of ids, a long OD table and two count tables keyed by id."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)
    ids = np.arange(100, 100 + n)
    pd.DataFrame({"region_id": ids, "crime": rng.poisson(10 * (kind + 1))}).to_csv(
        root / "regions.csv", index=False
    )
    rows = [
        (ids[i], ids[j], int(rng.poisson(20 if kind[i] == kind[j] else 2)))
        for i in range(n)
        for j in range(n)
    ]
    pd.DataFrame(rows, columns=["origin", "destination", "count"]).to_csv(
        root / "od.csv", index=False
    )
    for name, width in (("poi", 5), ("landuse", 3)):
        table = pd.DataFrame(
            rng.poisson(3 * (kind[:, None] + 1), (n, width)),
            columns=[f"{name}_{k}" for k in range(width)],
        )
        table.insert(0, "region_id", ids)
        table.to_csv(root / f"{name}.csv", index=False)
    return {
        "regions": root / "regions.csv",
        "od": root / "od.csv",
        "views": [str(root / "poi.csv"), str(root / "landuse.csv")],
    }


def _run_plain(inputs: dict, outputs: dict, params: dict | None = None):
    from urbansig.runtime import run_spec

    spec = JobSpec(
        task="embedregionsmusecl",
        inputs={k: v if isinstance(v, list) else str(v) for k, v in inputs.items()},
        params={**JOB_FAST, **(params or {})},
        outputs={k: str(v) for k, v in outputs.items()},
    )
    return run_spec(spec, Events(open("/dev/null", "w")))


def test_plain_region_table_with_od_structure_and_count_tables(tmp_path):
    """A plain table of region ids, an OD table and two count tables: each table is a
    modality, the flows are encoded from the OD structure, the output is a plain table,
    and the saved model embeds the same regions again identically."""
    import pandas as pd

    from urbansig.io.vector import has_geometry, read_table
    from urbansig.models.musecl import MuseCL

    inputs = _plain_city(tmp_path)
    outputs = {
        "output": tmp_path / "emb.csv",
        "output_model": tmp_path / "m.pt",
        "output_report": tmp_path / "r.html",
    }
    result = _run_plain(inputs, outputs)
    assert result["metrics"]["modalities"] == "poi,landuse,flow"
    frame = read_table(outputs["output"])
    assert not has_geometry(frame) and len(frame) == 30
    assert frame["region_id"].tolist() == list(range(100, 130))
    emb = frame[[c for c in frame.columns if c.startswith("emb_")]].to_numpy(float)
    assert emb.shape == (30, 16) and np.isfinite(emb).all() and emb.std(0).min() > 0
    assert {"beta_poi", "beta_landuse"} <= set(frame.columns)
    page = outputs["output_report"].read_text()
    assert "OD structure" in page and "cluster_map.png" not in page
    model = MuseCL.load(outputs["output_model"])
    assert model.flow_structure is not None and model.table_dims == {"poi": 5, "landuse": 3}
    again = tmp_path / "again.csv"
    _run_plain({**inputs, "model": outputs["output_model"]}, {"output": again})
    np.testing.assert_allclose(
        pd.read_csv(again)[[f"emb_{k:03d}" for k in range(16)]].to_numpy(), emb, atol=1e-5
    )
    # the paper's in/out totals instead: no OD-structure encoder in the model
    totals = tmp_path / "totals.pt"
    _run_plain(
        inputs, {"output": tmp_path / "t.csv", "output_model": totals}, {"flow_encoder": "totals"}
    )
    assert MuseCL.load(totals).flow_structure is None


def test_plain_region_table_refuses_inputs_placed_by_geometry(tmp_path, city):
    inputs = _plain_city(tmp_path)
    with pytest.raises(BadInput, match="POIS: placed by its geometry.*plain table"):
        _run_plain({**inputs, "pois": city["pois"]}, {"output": tmp_path / "o.csv"})
    assert not (tmp_path / "o.csv").exists()


def test_a_count_table_named_like_a_modality_is_refused(tmp_path):
    inputs = _plain_city(tmp_path)
    (tmp_path / "poi.csv").rename(tmp_path / "flow.csv")
    inputs["views"] = [str(tmp_path / "flow.csv"), str(tmp_path / "landuse.csv")]
    with pytest.raises(BadInput, match="VIEWS: a table may not be named like a modality"):
        _run_plain(inputs, {"output": tmp_path / "o.csv"})


def test_text_fields_are_optional(city, tmp_path):
    """POIs without any text field: the default TEXT_FIELDS and an empty one both train
    the POI vectors from the categories alone."""
    import geopandas as gpd

    pois = gpd.read_file(city["pois"]).drop(columns="text")
    bare = tmp_path / "pois_bare.gpkg"
    pois.to_file(bare)
    inputs = {"regions": city["regions"], "pois": bare, "od": city["od"]}
    for text_fields in (None, ""):
        params = {} if text_fields is None else {"text_fields": text_fields}
        out = tmp_path / f"emb_{text_fields!r}.gpkg"
        result = _run(inputs, {"output": out}, params)
        assert result["metrics"]["modalities"] == "flow,poi_counts,poi_text"
        assert len(gpd.read_file(out)) == 36


def test_od_structure_training_reports_progress_and_can_be_cancelled(tmp_path):
    """The OD-structure encoder trains inside MuseCL's fit with progress, and a cancel
    during it stops the fit."""
    from urbansig.protocol import Cancelled

    inputs = _plain_city(tmp_path)
    from urbansig.io.musecl_inputs import read_modalities, read_numbered_regions
    from urbansig.models.musecl import MuseCL, MuseCLConfig

    regions = read_numbered_regions(str(inputs["regions"]), "region_id")
    params = {"id_field": "region_id", "od_origin": "origin", "od_destination": "destination",
              "od_count": "", "flow_encoder": "structure"}  # fmt: skip
    inputs = {"od": str(inputs["od"]), "views": inputs["views"]}
    data, _ = read_modalities(regions, inputs, params, (), Events(open("/dev/null", "w")))

    class Sink:
        def __init__(self, stop_after: int) -> None:
            self.calls, self.stop_after = 0, stop_after

        def progress(self, fraction, message="") -> None:
            self.calls += 1

        def log(self, message) -> None: ...

        def metric(self, name, value, **extra) -> None: ...

        def check_cancelled(self) -> None:
            if self.calls >= self.stop_after:
                raise Cancelled("stop")

        def stage(self, start, end):
            return self

    model = MuseCL(MuseCLConfig(**FAST, dim=8))
    with pytest.raises(Cancelled):
        model.fit(data, Sink(stop_after=5))
    assert model.flow_structure is None  # stopped inside the OD-structure training
    sink = Sink(stop_after=10**9)
    model.fit(data, sink)
    assert model.flow_structure is not None and sink.calls > 5
