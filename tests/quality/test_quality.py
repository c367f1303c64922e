"""Each method above its simplest baseline on the tiny demo city, for every fixed seed."""

from __future__ import annotations

import pytest

from .conftest import SEEDS, run_job

# Predicted population density from the regions' flow and trip counts: the model's test R2
# must beat the mean predictor's (about 0) by this much on every seed.
PREDICTOR_MARGIN = 0.2
# Clustering with the job's defaults (spatial k-means, automatic K): ARI with the true land use
# above the plain k-means the job runs beside it at the same K, by this much, on every seed.
CLUSTERING_MARGIN = 0.03
# The automatic K within this distance of the tiny city's 7 land uses.
CLUSTERING_K_TOLERANCE = 1
# Deep contrastive clustering (METHOD contrastive, K = 7) does NOT beat k-means on this city
# (measured 2026-12-05: ARI 0.49 / 0.53 / 0.65 for seeds 0-2, k-means 0.66): a floor only.
DEEP_ARI_FLOOR = 0.4


@pytest.mark.parametrize("seed", SEEDS)
def test_predictor_beats_the_mean(tiny_city, tmp_path, seed):
    result = run_job(
        "predictindicator",
        {"input": str(tiny_city / "regions.gpkg")},
        {
            "target_field": "population_density",
            "feature_fields": "in_flow,out_flow,trip_count,station_ridership",
        },
        {"output": str(tmp_path / "predicted.gpkg")},
        seed,
    )
    rows = {row["model"]: row for row in result["metrics"]["models"]}
    model, mean = rows["mlp"]["r2_mean"], rows["mean"]["r2_mean"]
    assert model >= mean + PREDICTOR_MARGIN, (seed, model, mean)


@pytest.mark.parametrize("seed", SEEDS)
def test_default_clustering_beats_kmeans(tiny_city, tmp_path, seed):
    metrics = _cluster(tiny_city, tmp_path, seed, {})
    assert metrics["method"] == "spatial_kmeans"
    assert abs(metrics["n_clusters"] - 7) <= CLUSTERING_K_TOLERANCE, metrics["n_clusters"]
    assert metrics["ari"] >= metrics["kmeans_ari"] + CLUSTERING_MARGIN, (seed, metrics)
    assert metrics["coherence"] > metrics["coherence_random"]


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_clustering_floor_and_baselines(tiny_city, tmp_path, seed):
    metrics = _cluster(tiny_city, tmp_path, seed, {"method": "contrastive", "n_clusters": "7"})
    assert metrics["ari"] >= DEEP_ARI_FLOOR, (seed, metrics["ari"])
    names = {"kmeans_ari", "pca_kmeans_ari", "smoothed_kmeans_ari", "spatial_kmeans_ari"}
    assert names <= set(metrics)  # the baselines beside it


def _cluster(city, tmp_path, seed: int, params: dict) -> dict:
    result = run_job(
        "clustertraffictiles",
        {"input": str(city / "netmob"), "tiles": str(city / "tiles.gpkg")},
        {"label_field": "land_use", **params},
        {"output": str(tmp_path / "clusters.gpkg")},
        seed,
    )
    return result["metrics"]
