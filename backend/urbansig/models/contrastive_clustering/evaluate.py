"""Evaluation of a clustering and of the baselines users would otherwise pick.

Each method is scored with the shared metrics of :mod:`urbansig.evaluation`: silhouette and
Davies-Bouldin in the method's own feature space (silhouette on a sample), spatial
coherence with a join-count permutation test, and ARI / NMI / accuracy against known labels.
Baselines: k-means on the normalised profiles, and PCA + k-means. On large inputs both are
fitted on a random sample of ``fit_sample`` tiles, then assign every tile.
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
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"kmeans": (labels, features), "pca_kmeans": (labels, features)}`` on raw profiles
    ``(n, services, steps)``, normalised as the deep model does."""
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
    return out


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
    deep: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
    neighbours: list[list[int]] | None,
    truth: np.ndarray | None,
    n_clusters: int,
    normalisation: str = "service_shape",
    seed: int = 0,
    permutations: int = 99,
) -> list[dict[str, Any]]:
    """One row per method (contrastive clustering, k-means, PCA + k-means), same metrics."""
    methods = {"contrastive_clustering": deep}
    methods.update(kmeans_baselines(values, n_clusters, normalisation, seed=seed))
    rows = []
    for name, (labels, features) in methods.items():
        metrics = evaluate_assignment(labels, features, neighbours, truth, permutations, seed=seed)
        rows.append({"method": name, **metrics})
    return rows
