"""Evaluation of a clustering and of the baselines users would otherwise pick.

Each method is scored with the shared metrics of :mod:`urbansig.evaluation`: silhouette and
Davies-Bouldin in the method's own feature space (silhouette on a sample), spatial
coherence with a join-count permutation test, and ARI / NMI / accuracy against known labels.
Baselines: k-means on the normalised profiles, PCA + k-means and, when the tiles'
neighbours are known, the spatial ones: k-means on neighbour-smoothed principal components
(each tile averaged with its neighbours' mean) and spatial k-means (k-means on the canonical
correlations between a tile and its neighbourhood, :mod:`urbansig.models.spatial_kmeans`).
On large inputs they are fitted on a random sample of ``fit_sample`` tiles, then assign
every tile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from urbansig.models.contrastive_clustering.normalise import normalise_profiles


def kmeans_baselines(
    values: np.ndarray,
    n_clusters: int,
    normalisation: str = "service_shape",
    pca_components: int = 20,
    seed: int = 0,
    fit_sample: int = 20_000,
    neighbours: list[list[int]] | None = None,
    skip: tuple[str, ...] = (),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (labels, features)}`` on raw profiles ``(n, services, steps)``, normalised as
    the methods do: ``kmeans``, ``pca_kmeans`` and, with ``neighbours``, ``smoothed_kmeans``
    and ``spatial_kmeans``; names in ``skip`` are left out (the method being run)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    x = normalise_profiles(values, normalisation).reshape(len(values), -1)
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(x), min(fit_sample, len(x)), replace=False)
    km = KMeans(n_clusters, n_init=3, random_state=seed).fit(x[fit_rows])
    out = {"kmeans": (km.predict(x), x)}
    components = max(1, min(pca_components, x.shape[1], len(fit_rows) - 1))
    pca = PCA(components, random_state=seed, svd_solver="randomized").fit(x[fit_rows])
    z = pca.transform(x).astype(np.float32)
    km2 = KMeans(n_clusters, n_init=3, random_state=seed).fit(z[fit_rows])
    out["pca_kmeans"] = (km2.predict(z), z)
    if neighbours is None:
        return {k: v for k, v in out.items() if k not in skip}
    from urbansig.models.contrastive_clustering.normalise import neighbour_mean, to_csr

    indptr, indices = to_csr(neighbours, len(z))
    smooth = (z + neighbour_mean(z, indptr, indices)) / 2
    km3 = KMeans(n_clusters, n_init=3, random_state=seed).fit(smooth[fit_rows])
    out["smoothed_kmeans"] = (km3.predict(smooth), smooth)
    if "spatial_kmeans" not in skip:
        from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings
        from urbansig.models.traffic import TrafficData

        data = TrafficData(values, neighbours)
        settings = SpatialSettings(n_clusters=n_clusters, normalisation=normalisation)
        spatial = SpatialKMeans(settings, seed=seed).fit(data)
        features, probs = spatial.infer(data)
        out["spatial_kmeans"] = (probs.argmax(axis=1), features)
    return {k: v for k, v in out.items() if k not in skip}


def evaluate_assignment(
    labels: np.ndarray,
    features: np.ndarray,
    neighbours: list[list[int]] | None,
    truth: np.ndarray | None = None,
    permutations: int = 99,
    sample_size: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Latent quality, spatial coherence (with its random-permutation reference) and, when
    ``truth`` is given (-1 = unknown), agreement with the known labels."""
    from urbansig.evaluation import (
        clustering_agreement,
        join_count_test,
        latent_cluster_quality,
    )

    labels = np.asarray(labels)
    row: dict[str, float] = {"n_clusters_used": float(len(np.unique(labels)))}
    row.update(latent_cluster_quality(features, labels, sample_size, seed))
    if neighbours is not None:
        test = join_count_test(labels, neighbours, permutations, seed)
        row.update(
            {
                "coherence": test["observed"],
                "coherence_random": test["random_mean"],
                "coherence_z": test["z"],
                "coherence_p": test["p_value"],
            }
        )
    if truth is not None:
        known = np.asarray(truth) >= 0
        if known.sum() >= 2:
            row.update(clustering_agreement(np.asarray(truth)[known], labels[known]))
    return row


def compare_methods(
    chosen: tuple[str, np.ndarray, np.ndarray],
    values: np.ndarray,
    neighbours: list[list[int]] | None,
    truth: np.ndarray | None,
    n_clusters: int,
    normalisation: str = "service_shape",
    seed: int = 0,
    permutations: int = 99,
) -> list[dict[str, Any]]:
    """One row per method, same metrics: first ``chosen`` = (name, labels, features), the
    method whose result is written, then every baseline of :func:`kmeans_baselines`."""
    name, labels, features = chosen
    methods = {name: (labels, features)}
    methods.update(
        kmeans_baselines(
            values, n_clusters, normalisation, seed=seed, neighbours=neighbours, skip=(name,)
        )
    )
    rows = []
    for name, (labels, features) in methods.items():
        metrics = evaluate_assignment(labels, features, neighbours, truth, permutations, seed=seed)
        rows.append({"method": name, **metrics})
    return rows
