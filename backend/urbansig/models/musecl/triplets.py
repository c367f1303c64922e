"""Contrastive pairs from region similarity (paper Eq. 1-4) and the cosine triplet loss (Eq. 6).

Similarity is the inverse Euclidean distance between per-region vectors (POI category counts,
or in/out flows), so the most similar regions are the nearest and the least similar the
farthest. Distances are computed in blocks of anchors, so memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def rank_candidates(
    features: np.ndarray,
    k: int,
    valid: np.ndarray | None = None,
    block: int = 1024,
    k_far: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each region, the ``k`` most similar and the ``k_far`` (default ``k``) least
    similar valid regions.

    Returns ``(n, k)`` and ``(n, k_far)`` int64 arrays (most similar first / least similar
    first); the region itself is never a candidate. Invalid regions are never candidates
    (their own rows are still filled). Needs at least 2 valid regions; both counts are
    capped at ``n_valid - 1``.
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    pool = np.flatnonzero(valid)
    if len(pool) < 2:
        raise ValueError("need at least two regions with data to form pairs")
    k = max(1, min(int(k), len(pool) - 1))
    k_far = max(1, min(int(k if k_far is None else k_far), len(pool) - 1))
    xp = x[pool]
    sq_pool = (xp**2).sum(1)
    nearest = np.empty((n, k), dtype=np.int64)
    farthest = np.empty((n, k_far), dtype=np.int64)
    for start in range(0, n, block):
        rows = x[start : start + block]
        d2 = (rows**2).sum(1)[:, None] + sq_pool[None, :] - 2.0 * rows @ xp.T
        d2 = np.maximum(d2, 0.0)
        own = np.arange(start, start + len(rows))
        is_self = pool[None, :] == own[:, None]
        near = np.where(is_self, np.inf, d2)
        far = np.where(is_self, -np.inf, d2)
        idx_n = np.argpartition(near, k - 1, axis=1)[:, :k]
        idx_f = np.argpartition(-far, k_far - 1, axis=1)[:, :k_far]
        order_n = np.argsort(np.take_along_axis(near, idx_n, 1), axis=1, kind="stable")
        order_f = np.argsort(-np.take_along_axis(far, idx_f, 1), axis=1, kind="stable")
        nearest[start : start + len(rows)] = pool[np.take_along_axis(idx_n, order_n, 1)]
        farthest[start : start + len(rows)] = pool[np.take_along_axis(idx_f, order_f, 1)]
    return nearest, farthest


def sample_triplets(
    anchors: np.ndarray, nearest: np.ndarray, farthest: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One positive among the nearest and one negative among the farthest per anchor region."""
    anchors = np.asarray(anchors, dtype=np.int64)
    k_pos, k_neg = nearest.shape[1], farthest.shape[1]
    pos = nearest[anchors, rng.integers(0, k_pos, len(anchors))]
    neg = farthest[anchors, rng.integers(0, k_neg, len(anchors))]
    return anchors, pos, neg


def triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float
) -> torch.Tensor:
    """Mean of ``[margin - sim(a, p) + sim(a, n)]_+`` with cosine similarity.

    The paper prints Eq. 5-6 with the signs of a distance; with a similarity the hinge that
    pulls positives closer than negatives by ``margin`` is this one.
    """
    sim_pos = F.cosine_similarity(anchor, positive, dim=-1)
    sim_neg = F.cosine_similarity(anchor, negative, dim=-1)
    return F.relu(margin - sim_pos + sim_neg).mean()
