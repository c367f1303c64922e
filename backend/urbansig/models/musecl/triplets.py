"""Contrastive pairs from region similarity (paper Eq. 1-4) and the cosine triplet loss (Eq. 6).

Similarity is the inverse Euclidean distance between per-region vectors (POI category counts,
or in/out flows), so the most similar regions are the nearest and the least similar the
farthest. Distances are computed in blocks of anchors and only O(n k) candidates are kept
(negatives are drawn against a per-region distance threshold), so memory stays bounded.
"""

from __future__ import annotations

import math
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
APPROXIMATE_ABOVE = 50_000  # valid regions; search "auto": above, approximate positives
SEARCHES = ("auto", "exact", "approximate")
HNSW_LINKS = 32  # faiss HNSW: links per node, and the search breadth (at least 4 k)
HNSW_BREADTH = 128


def rank_candidates(
    features: np.ndarray,
    k: int,
    valid: np.ndarray | None = None,
    block: int = 256,
    negative_fraction: float = 0.25,
    search: str = "auto",
) -> Candidates:
    """For each region, the ``k`` most similar valid regions and the distance beyond which a
    valid region is among its least similar ``negative_fraction``.

    ``search``: ``exact`` (every distance, O(n^2 d) time), ``approximate`` (an HNSW graph
    index, faiss: about O(n log n) time, the positives are nearly always among the true
    nearest) or ``auto`` (approximate above APPROXIMATE_ABOVE valid regions).

    The region itself is never a candidate; invalid regions are never candidates (their own
    rows are still filled). Needs at least 2 valid regions; ``k`` is capped at
    ``n_valid - 1``. Distances are computed in blocks of ``block`` anchors: memory is
    O(n k + block n). With more than EXACT_THRESHOLD_POOL valid
    regions the threshold (a quantile of each region's distances) and the fallback
    negatives come from THRESHOLD_SAMPLE valid regions drawn once (seed 0).
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, not {search!r}")
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
    xt = torch.from_numpy(x)
    xp = xt[torch.from_numpy(pool)]
    columns_t = torch.from_numpy(columns)
    # each row's own column in the pool and in the sampled columns (-1: none)
    own_col = torch.full((n,), -1, dtype=torch.int64)
    own_col[torch.from_numpy(pool)] = torch.arange(len(pool))
    sampled_col = torch.full((len(pool),), -1, dtype=torch.int64)
    sampled_col[columns_t] = torch.arange(len(columns))
    nearest = np.empty((n, k), dtype=np.int64)
    farthest = np.empty((n, k), dtype=np.int64)
    threshold = np.empty(n, dtype=np.float64)
    approximate = search == "approximate" or (search == "auto" and len(pool) > APPROXIMATE_ABOVE)
    if approximate:
        nearest[:] = _approximate_nearest(x, pool, k)
    targets = xp[columns_t] if approximate else xp
    for start in range(0, n, block):
        rows = xt[start : start + block]
        d2 = _squared_distances(rows, targets)
        mine = own_col[start : start + len(rows)]
        has = (mine >= 0).nonzero().squeeze(1)
        far = d2 if approximate else d2[:, columns_t]
        in_sample = sampled_col[mine[has]]
        far[has[in_sample >= 0], in_sample[in_sample >= 0]] = -math.inf
        if not approximate:
            d2[has, mine[has]] = math.inf  # a region is not its own neighbour
            idx_n = torch.topk(d2, k, dim=1, largest=False, sorted=True).indices
            nearest[start : start + len(rows)] = pool[idx_n.numpy()]
        top_far = torch.topk(far, n_far, dim=1, largest=True, sorted=True)
        farthest[start : start + len(rows)] = pool[columns[top_far.indices[:, :k].numpy()]]
        # the n_far-th largest distance: every region at least this far is a negative
        threshold[start : start + len(rows)] = top_far.values[:, n_far - 1].numpy()
    return Candidates(nearest, farthest, threshold, x, pool)


def _squared_distances(rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    sq = (rows**2).sum(1)[:, None] + (targets**2).sum(1)[None, :]
    return (sq - 2.0 * rows @ targets.T).clamp_min_(0.0)


def _approximate_nearest(x: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` nearest valid regions of every region from a faiss HNSW index of the pool
    (built in one thread: the same graph, so the same pairs, on every run)."""
    import faiss

    xp = np.ascontiguousarray(x[pool], dtype=np.float32)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index = faiss.IndexHNSWFlat(xp.shape[1], HNSW_LINKS)
        index.add(xp)
    finally:
        faiss.omp_set_num_threads(threads)
    index.hnsw.efSearch = max(HNSW_BREADTH, 4 * (k + 1))
    _, found = index.search(np.ascontiguousarray(x, dtype=np.float32), k + 1)
    own = np.full(len(x), -1, dtype=np.int64)
    own[pool] = np.arange(len(pool))
    usable = (found >= 0) & (found != own[:, None])
    # the first k usable of each row, in distance order; a row short of k repeats its last
    order = np.argsort(~usable, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(found, order, 1)
    short = ~np.take_along_axis(usable, order, 1)
    if short.any():
        first = np.where(usable.any(1), picked[:, 0], (own + 1) % len(pool))
        picked = np.where(short, first[:, None], picked)
    return pool[picked]


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
