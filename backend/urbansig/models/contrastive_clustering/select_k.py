"""Choosing the number of clusters: stability across seeds plus latent silhouette.

Criterion: for each K in the range, fit the model with two (or more) seeds; ``stability``
is the mean adjusted Rand index between the seeds' assignments, ``silhouette`` the mean
silhouette of each run's assignment in its own latent space (on a sample). The score is
their mean; the K with the highest score wins (the smaller K on ties within 0.005).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, Callable

import numpy as np

from urbansig.models.contrastive_clustering.model import TrafficClusterer
from urbansig.models.traffic import TrafficData

TIE = 0.005


def select_k(
    data: TrafficData,
    k_values: Sequence[int],
    make_model: Callable[[int, int], TrafficClusterer],
    seeds: Sequence[int] = (0, 1),
    sample_size: int = 3000,
    events: Any = None,
) -> tuple[int, list[dict[str, float]]]:
    """Best K and the curve (one row per K: k, stability, silhouette, score, used clusters).

    ``make_model(k, seed)`` returns an unfitted model (typically with fewer epochs than the
    final one). Assignments are compared on all tiles; silhouettes on ``sample_size`` tiles.
    """
    from sklearn.metrics import adjusted_rand_score

    from urbansig.evaluation import latent_cluster_quality

    k_values = sorted(set(int(k) for k in k_values))
    runs = len(k_values) * len(seeds)
    curve: list[dict[str, float]] = []
    done = 0
    for k in k_values:
        assignments, silhouettes, used = [], [], []
        for seed in seeds:
            stage = events.stage(done / runs, (done + 1) / runs) if events is not None else None
            model = make_model(k, seed).fit(data, events=stage)
            reps, probs = model.infer(data)
            labels = probs.argmax(axis=1)
            assignments.append(labels)
            used.append(len(np.unique(labels)))
            quality = latent_cluster_quality(reps, labels, sample_size, seed)
            silhouettes.append(quality["silhouette"])
            done += 1
        pairs = [adjusted_rand_score(a, b) for a, b in combinations(assignments, 2)]
        stability = float(np.mean(pairs)) if pairs else float("nan")
        silhouette = float(np.nanmean(silhouettes)) if np.isfinite(silhouettes).any() else 0.0
        curve.append(
            {
                "k": k,
                "stability": stability,
                "silhouette": silhouette,
                "score": (stability + silhouette) / 2,
                "used_clusters": float(np.mean(used)),
            }
        )
    best = max(curve, key=lambda row: row["score"])
    chosen = min(row["k"] for row in curve if row["score"] >= best["score"] - TIE)
    return int(chosen), curve
