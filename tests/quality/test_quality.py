"""Each method above its simplest baseline on the tiny demo city, for every fixed seed."""

from __future__ import annotations

import pytest

from .conftest import SEEDS, run_job

# Predicted population density from the regions' flow and trip counts: the model's test R2
# must beat the mean predictor's (about 0) by this much on every seed.
PREDICTOR_MARGIN = 0.2
# Deep contrastive clustering, ARI with the true land use, on every seed. It does NOT beat
# k-means on this city today (measured 2026-12-05: ARI 0.49 / 0.53 / 0.65 for seeds 0-2
# against k-means 0.66 on the same profiles; issue "Traffic clustering: beat the strongest
# baseline"), so the tier holds a floor and checks that the job reports the comparison;
# "above k-means" joins the tier when that issue lands (a failing check keeps CI red).
CLUSTERING_ARI_FLOOR = 0.4


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
def test_clustering_floor_and_baselines(tiny_city, tmp_path, seed):
    result = run_job(
        "clustertraffictiles",
        {"input": str(tiny_city / "netmob"), "tiles": str(tiny_city / "tiles.gpkg")},
        {"n_clusters": "7", "label_field": "land_use"},
        {"output": str(tmp_path / "clusters.gpkg")},
        seed,
    )
    metrics = result["metrics"]
    assert metrics["ari"] >= CLUSTERING_ARI_FLOOR, (seed, metrics["ari"])
    assert {"kmeans_ari", "pca_kmeans_ari"} <= set(metrics)  # the baselines beside it
    assert metrics["coherence"] > metrics["coherence_random"]
