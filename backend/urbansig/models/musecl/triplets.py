"""Contrastive pairs from region similarity (paper Eq. 1-4) and the cosine triplet loss (Eq. 6).

Similarity is the inverse Euclidean distance between per-region vectors (POI category counts,
or in/out flows), so the most similar regions are the nearest and the least similar the
farthest. Distances are computed in blocks of anchors and only O(n k) candidates are kept
(negatives are drawn against a per-region distance threshold), so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Candidates:
    """Each region's contrastive candidates in O(n k) memory.

    ``nearest`` (n, k): the most similar valid regions (positives). Negatives are the
    valid regions at least ``threshold`` (n,) away (squared distance): the least similar
    ``negative_fraction`` of the pool, drawn uniformly by rejection against ``features``;
    ``farthest`` (n, k) holds each region's most distant ones as the fallback.
    """

    nearest: np.ndarray
    farthest: np.ndarray
    threshold: np.ndarray
    features: np.ndarray  # (n, d) float64, every region
    pool: np.ndarray  # valid region positions


EXACT_THRESHOLD_POOL = 8192  # above: negatives' threshold and fallback from a sample
THRESHOLD_SAMPLE = 4096


def rank_candidates(
    features: np.ndarray,
    k: int,
    valid: np.ndarray | None = None,
    block: int = 256,
    negative_fraction: float = 0.25,
) -> Candidates:
    """For each region, the ``k`` most similar valid regions and the distance beyond which a
    valid region is among its least similar ``negative_fraction``.

    The region itself is never a candidate; invalid regions are never candidates (their own
    rows are still filled). Needs at least 2 valid regions; ``k`` is capped at
    ``n_valid - 1``. Distances are computed in blocks of ``block`` anchors: memory is
    O(n k + block n). The nearest are exact; with more than EXACT_THRESHOLD_POOL valid
    regions the threshold (a quantile of each region's distances) and the fallback
    negatives come from THRESHOLD_SAMPLE valid regions drawn once (seed 0).
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    pool = np.flatnonzero(valid)
    if len(pool) < 2:
        raise ValueError("need at least two regions with data to form pairs")
    k = max(1, min(int(k), len(pool) - 1))
    # the negatives of a region: its n_far most distant others (as many as the old n x n_far)
    n_far = max(k, min(int((len(pool) - 1) * negative_fraction), len(pool) - 1))
    columns = np.arange(len(pool))
    if len(pool) > EXACT_THRESHOLD_POOL:
        columns = np.sort(np.random.default_rng(0).choice(len(pool), THRESHOLD_SAMPLE, False))
        n_far = max(k, int(round(n_far * THRESHOLD_SAMPLE / len(pool))))
    xp = x[pool]
    sq_pool = (xp**2).sum(1)
    nearest = np.empty((n, k), dtype=np.int64)
    farthest = np.empty((n, k), dtype=np.int64)
    threshold = np.empty(n, dtype=np.float64)
    for start in range(0, n, block):
        rows = x[start : start + block]
        d2 = (rows**2).sum(1)[:, None] + sq_pool[None, :] - 2.0 * rows @ xp.T
        d2 = np.maximum(d2, 0.0)
        own = np.arange(start, start + len(rows))
        is_self = pool[None, :] == own[:, None]
        near = np.where(is_self, np.inf, d2)
        idx_n = np.argpartition(near, k - 1, axis=1)[:, :k]
        order_n = np.argsort(np.take_along_axis(near, idx_n, 1), axis=1, kind="stable")
        nearest[start : start + len(rows)] = pool[np.take_along_axis(idx_n, order_n, 1)]
        far = np.where(is_self[:, columns], -np.inf, d2[:, columns])
        idx_f = np.argpartition(-far, k - 1, axis=1)[:, :k]
        farthest[start : start + len(rows)] = pool[columns[idx_f]]
        # the n_far-th largest distance: every region at least this far is a negative
        threshold[start : start + len(rows)] = -np.partition(-far, n_far - 1, axis=1)[:, n_far - 1]
    return Candidates(nearest, farthest, threshold, x, pool)


def sample_negatives(
    anchors: np.ndarray, candidates: Candidates, rng: np.random.Generator, tries: int = 16
) -> np.ndarray:
    """One negative per anchor, uniform over the valid regions at least its threshold away
    (rejection sampling in ``tries`` rounds; an anchor still without one takes a random
    region among its stored farthest)."""
    c = candidates
    negative = c.farthest[anchors, rng.integers(0, c.farthest.shape[1], len(anchors))]
    todo = np.arange(len(anchors))
    for _ in range(tries):
        if not len(todo):
            break
        draw = c.pool[rng.integers(0, len(c.pool), len(todo))]
        a = anchors[todo]
        d2 = ((c.features[a] - c.features[draw]) ** 2).sum(1)
        ok = (d2 >= c.threshold[a]) & (draw != a)
        negative[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return negative


def sample_triplets(
    anchors: np.ndarray, candidates: Candidates, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One positive among the nearest and one negative among the least similar per anchor."""
    anchors = np.asarray(anchors, dtype=np.int64)
    nearest = candidates.nearest
    pos = nearest[anchors, rng.integers(0, nearest.shape[1], len(anchors))]
    return anchors, pos, sample_negatives(anchors, candidates, rng)


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
