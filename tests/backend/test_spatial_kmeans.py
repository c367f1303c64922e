"""Spatial k-means (canonical neighbourhood features): fit, choice of K, files, transfer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings
from urbansig.models.traffic import TrafficData
from urbansig.protocol import BadInput

from .test_clustering import SERVICES, toy_profiles


def toy(seed: int = 0, side: int = 12) -> tuple[TrafficData, np.ndarray]:
    values, labels, nb = toy_profiles(side=side, seed=seed)
    return TrafficData(values, nb, SERVICES, "daily_hourly"), labels


def test_separates_the_toy_bands_and_reloads(tmp_path: Path) -> None:
    from urbansig.evaluation import clustering_agreement

    data, labels = toy()
    model = SpatialKMeans(SpatialSettings(n_clusters=3)).fit(data)
    pred, confidence = model.predict(data)
    assert clustering_agreement(labels, pred)["ari"] > 0.9
    assert ((confidence >= 1 / 3) & (confidence <= 1)).all()
    features = model.transform(data)
    assert features.shape[0] == len(labels) and np.isfinite(features).all()
    loaded = SpatialKMeans.load(model.save(tmp_path / "m.pt", metrics={"ari": 1.0}))
    assert np.array_equal(loaded.predict(data)[0], pred)
    assert np.allclose(loaded.infer(data)[1], model.infer(data)[1], atol=1e-6)
    assert loaded.saved_metrics == {"ari": 1.0} and loaded.services == SERVICES
    with pytest.raises(BadInput, match="MODEL.*3 services x 24 steps"):
        loaded.infer(TrafficData(np.ones((5, 3, 168)), None))


def test_automatic_k_finds_the_three_bands() -> None:
    data, _ = toy(side=12)
    model = SpatialKMeans(SpatialSettings(n_clusters=0, k_min=2, k_max=6)).fit(data)
    assert model.n_clusters == 3
    assert [row["k"] for row in model.k_curve] == [2, 3, 4, 5, 6]
    best = max(model.k_curve, key=lambda row: row["score"])
    assert best["k"] == 3


def test_a_model_labels_another_city(tmp_path: Path) -> None:
    from urbansig.evaluation import clustering_agreement

    a, _ = toy(seed=0)
    b, labels_b = toy(seed=1)
    model = SpatialKMeans.load(
        SpatialKMeans(SpatialSettings(n_clusters=3)).fit(a).save(tmp_path / "a.pt")
    )
    assert clustering_agreement(labels_b, model.predict(b)[0])["ari"] > 0.9


def test_deterministic_for_a_seed() -> None:
    data, _ = toy()
    first = SpatialKMeans(SpatialSettings(n_clusters=3), seed=4).fit(data).infer(data)[1]
    again = SpatialKMeans(SpatialSettings(n_clusters=3), seed=4).fit(data).infer(data)[1]
    assert np.array_equal(first, again)


def test_other_files_are_refused(tmp_path: Path) -> None:
    from urbansig.models.serialization import save_model

    other = save_model(tmp_path / "o.pt", "musecl", {}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="MODEL.*musecl"):
        SpatialKMeans.load(other)
    old = save_model(tmp_path / "v0.pt", "spatial_kmeans", {"version": 0}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="MODEL.*another version"):
        SpatialKMeans.load(old)


def test_settings_come_from_the_parameter_table() -> None:
    from urbansig import parameters

    settings = SpatialSettings()
    for key in ("k_min", "k_max", "canonical_components", "normalisation"):
        assert getattr(settings, key) == parameters.default("clustertraffictiles", key)
