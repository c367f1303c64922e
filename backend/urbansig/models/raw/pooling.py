"""Region embeddings as pools of the embeddings of the users who visit each region.

Vectorised: (user, region) visit counts -> a sparse region x user incidence matrix ->
one sparse-dense product. Every region gets its own row of a freshly allocated array
(no shared buffers between regions or with the user embeddings).
"""

from __future__ import annotations

import numpy as np

from urbansig.models.raw import default

POOLINGS = ("sum", "mean")
POOLING, MIN_VISITS = default("pooling"), int(default("min_visits"))


def visit_counts(
    point_user: np.ndarray,
    point_region: np.ndarray,
    n_users: int,
    n_regions: int,
    point_step: np.ndarray | None = None,
):
    """Sparse (n_regions, n_users) visit counts; points outside every region (-1) are ignored.

    With ``point_step`` (a time-step index per point), a visit is a distinct (user, region,
    step), so densely sampled trackers do not count more than sparse ones.
    """
    from scipy import sparse

    point_user = np.asarray(point_user, dtype=np.int64)
    point_region = np.asarray(point_region, dtype=np.int64)
    inside = point_region >= 0
    users, regions = point_user[inside], point_region[inside]
    if point_step is not None:
        steps = np.asarray(point_step, dtype=np.int64)[inside]
        if len(steps):
            steps = steps - steps.min()
            span = int(steps.max()) + 1
            if float(n_regions) * n_users * span < 2**62:  # one int64 key: a fast 1-D unique
                keys = np.unique((regions * n_users + users) * span + steps) // span
                regions, users = keys // n_users, keys % n_users
            else:
                keys = np.unique(np.stack([regions, users, steps], 1), axis=0)
                regions, users = keys[:, 0], keys[:, 1]
    ones = np.ones(len(users), dtype=np.float64)
    counts = sparse.coo_matrix((ones, (regions, users)), shape=(n_regions, n_users)).tocsr()
    counts.sum_duplicates()
    return counts


def pool_regions(
    counts,
    user_embeddings: np.ndarray,
    how: str = POOLING,
    min_visits: int = MIN_VISITS,
) -> tuple[np.ndarray, np.ndarray]:
    """Region embeddings (n_regions, dim) and visitor counts ``n_users`` (n_regions,).

    A user counts in a region with at least ``min_visits`` visits there; ``sum`` adds their
    embeddings (the paper's default), ``mean`` averages them; regions without visitors get zeros.
    """
    if how not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {how!r}")
    member = counts.copy()
    member.data = (member.data >= min_visits).astype(np.float64)
    member.eliminate_zeros()
    n_users = np.asarray(member.sum(axis=1)).ravel().astype(np.int64)
    pooled = np.array(member @ np.asarray(user_embeddings, dtype=np.float64), dtype=np.float64)
    if how == "mean":
        pooled /= np.maximum(n_users, 1)[:, None]
    return pooled, n_users


def assign_regions(x: np.ndarray, y: np.ndarray, regions) -> np.ndarray:
    """Index of the region (row of the GeoDataFrame ``regions``) holding each point, -1 if none.

    Points and regions share the regions' CRS. Uses the regions' STR-tree spatial index; a
    point on a shared border goes to the first region found.
    """
    import shapely

    points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    point_idx, region_idx = regions.sindex.query(points, predicate="intersects")
    out = np.full(np.asarray(x).size, -1, dtype=np.int64)
    order = np.lexsort((region_idx, point_idx))
    point_idx, region_idx = point_idx[order], region_idx[order]
    first = np.ones(len(point_idx), dtype=bool)
    first[1:] = point_idx[1:] != point_idx[:-1]
    out[point_idx[first]] = region_idx[first]
    return out
