"""Metrics shared by every method: clustering, spatial coherence, regression, distances.

Importable with numpy alone except where a function says it needs scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R2, RMSE and MAE (R2 is 1 - SSE/SST, so it can be negative)."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError("y_true and y_pred must be non-empty and of the same shape")
    residual = y_true - y_pred
    sst = float(((y_true - y_true.mean()) ** 2).sum())
    sse = float((residual**2).sum())
    return {
        "r2": 1.0 - sse / sst if sst > 0 else float("nan"),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
    }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def cluster_accuracy(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Best one-to-one matching accuracy between clusters and classes (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    true_ids, t = np.unique(labels_true, return_inverse=True)
    pred_ids, p = np.unique(labels_pred, return_inverse=True)
    counts = np.zeros((len(pred_ids), len(true_ids)), dtype=np.int64)
    np.add.at(counts, (p, t), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels_true))


def clustering_agreement(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """ARI, NMI and accuracy of predicted clusters against known labels (scikit-learn)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "acc": cluster_accuracy(labels_true, labels_pred),
    }


def spatial_coherence(labels: np.ndarray, neighbours: Sequence[Sequence[int]]) -> float:
    """Share of neighbour pairs that fall in the same cluster (1 = perfectly patchy)."""
    labels = np.asarray(labels)
    same = total = 0
    for i, adjacent in enumerate(neighbours):
        if len(adjacent):
            matches = labels[np.asarray(adjacent)] == labels[i]
            same += int(matches.sum())
            total += len(adjacent)
    return same / total if total else float("nan")


def expected_coherence(labels: np.ndarray) -> float:
    """Coherence expected by chance for these cluster sizes (sum of squared shares)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    shares = counts / counts.sum()
    return float((shares**2).sum())


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between arrays of WGS 84 points."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def euclidean_km(xy_true: np.ndarray, xy_pred: np.ndarray) -> np.ndarray:
    """Distance in km between points in a projected CRS in metres (arrays of shape (n, 2))."""
    diff = np.asarray(xy_true, dtype=float) - np.asarray(xy_pred, dtype=float)
    return np.hypot(diff[..., 0], diff[..., 1]) / 1000.0


def join_count_test(
    labels: np.ndarray,
    neighbours: Sequence[Sequence[int]],
    permutations: int = 199,
    seed: int = 0,
) -> dict[str, float]:
    """Same-cluster join count of neighbour pairs against random relabellings of the tiles.

    Returns the observed share of same-cluster neighbour pairs (as :func:`spatial_coherence`),
    the mean and standard deviation of that share over ``permutations`` random permutations
    of the labels over the tiles, the z-score and the one-sided permutation p-value
    ``(1 + #{permuted >= observed}) / (1 + permutations)``.
    """
    labels = np.asarray(labels)
    counts = np.fromiter((len(a) for a in neighbours), dtype=np.int64, count=len(neighbours))
    if counts.sum() == 0:
        nan = float("nan")
        return {"observed": nan, "random_mean": nan, "random_std": nan, "z": nan, "p_value": nan}
    src = np.repeat(np.arange(len(labels)), counts)
    dst = np.concatenate([np.asarray(a, dtype=np.int64) for a in neighbours if len(a)])
    observed = float(np.mean(labels[src] == labels[dst]))
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    for i in range(permutations):
        shuffled = labels[rng.permutation(len(labels))]
        null[i] = np.mean(shuffled[src] == shuffled[dst])
    std = float(null.std())
    return {
        "observed": observed,
        "random_mean": float(null.mean()),
        "random_std": std,
        "z": (observed - float(null.mean())) / std if std > 0 else float("inf"),
        "p_value": float((1 + np.sum(null >= observed)) / (1 + permutations)),
    }


def latent_cluster_quality(
    features: np.ndarray, labels: np.ndarray, sample_size: int = 5000, seed: int = 0
) -> dict[str, float]:
    """Silhouette (on a random sample of at most ``sample_size`` points) and Davies-Bouldin
    of ``labels`` in a feature space (scikit-learn); NaN with fewer than two clusters."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    n_labels = len(np.unique(labels))
    if n_labels < 2 or n_labels >= len(labels):
        return {"silhouette": float("nan"), "davies_bouldin": float("nan")}
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(labels), min(sample_size, len(labels)), replace=False)
    if len(np.unique(labels[pick])) < 2:
        pick = np.arange(len(labels))
    return {
        "silhouette": float(silhouette_score(features[pick], labels[pick])),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
    }
