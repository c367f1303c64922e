"""The latent land-use map: warped, weighted Voronoi zones with soft borders.

Zone seeds are scattered over the city; each gets a class drawn from probabilities that
depend on its distance to the centre (business and nightlife in the core, suburbs outside).
Transport hubs are small zones seeded at subway stations. Distances are measured on
coordinates warped by a smooth noise field, so borders are irregular, and each tile's
*membership* is a softmin over the seeds, so tiles near a border mix their neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.synth.grid import CityGrid, smooth_field
from urbansig.synth.network import Network

LAND_USES = (
    "dense_residential",
    "business_district",
    "commercial_nightlife",
    "university",
    "park_green",
    "suburban_residential",
    "transport_hub",
)
DENSE, BUSINESS, COMMERCIAL, UNIVERSITY, PARK, SUBURBAN, HUB = range(len(LAND_USES))

# Class probabilities of a seed at radial positions 0 (centre), 0.5 and 1.0 (edge).
_RADIAL_ANCHORS = np.array([0.0, 0.5, 1.0])
_CLASS_PROB = np.array(
    [
        # dense business commercial university park suburban
        [0.28, 0.30, 0.27, 0.05, 0.10, 0.00],
        [0.40, 0.10, 0.10, 0.10, 0.15, 0.15],
        [0.12, 0.02, 0.06, 0.05, 0.22, 0.53],
    ]
)
# Voronoi weights: larger zones have larger weights (hubs are small).
_ZONE_WEIGHT = np.array([1.0, 0.9, 0.85, 0.95, 0.9, 1.1, 0.7])
SOFTNESS = 1.3  # tiles: width of the soft border
# Classes kept when a city has fewer land uses: the first n of this order.
KEEP_ORDER = (DENSE, BUSINESS, SUBURBAN, PARK, COMMERCIAL, HUB, UNIVERSITY)


@dataclass(frozen=True)
class LandUse:
    """Truth label per tile and the soft membership used to mix signatures."""

    label: np.ndarray  # (n_tiles,) int land-use class, tile-id order
    membership: np.ndarray  # (n_tiles, K) float, rows sum to 1

    @property
    def names(self) -> tuple[str, ...]:
        return LAND_USES


def make_land_use(
    grid: CityGrid,
    network: Network,
    rng: np.random.Generator,
    n_land_uses: int = len(LAND_USES),
    imbalance: float = 0.0,
) -> LandUse:
    """Draw zone seeds and classes, then soft memberships on warped coordinates.

    ``n_land_uses`` keeps the first classes of ``KEEP_ORDER``; ``imbalance`` > 0 raises the
    seeds' class probabilities to the power ``1 + imbalance`` (frequent classes grow, rare
    ones shrink). The defaults draw the standard city.
    """
    if not 3 <= n_land_uses <= len(LAND_USES):
        raise ValueError(f"n_land_uses must be in 3..{len(LAND_USES)}, not {n_land_uses}")
    kept = np.zeros(len(LAND_USES), dtype=bool)
    kept[list(KEEP_ORDER[:n_land_uses])] = True
    n_rows, n_cols = grid.n_rows, grid.n_cols
    n_seeds = max(36, grid.n_tiles // 85)
    sy = rng.uniform(0, n_rows, n_seeds)
    sx = rng.uniform(0, n_cols, n_seeds)
    r = np.hypot((sx - n_cols / 2) / (n_cols / 2), (sy - n_rows / 2) / (n_rows / 2))
    prob = np.stack([np.interp(r, _RADIAL_ANCHORS, _CLASS_PROB[:, k]) for k in range(HUB)], axis=1)
    prob = (prob * kept[:HUB]) ** (1.0 + imbalance)
    prob /= prob.sum(axis=1, keepdims=True)
    cls = (prob.cumsum(axis=1) > rng.uniform(size=(n_seeds, 1))).argmax(axis=1)
    _ensure_every_class(cls, prob)
    # Transport hubs at a share of the stations (always the most central one of each line).
    hx = (network.x - grid.x0) / grid.cell
    hy = (network.y - grid.y0) / grid.cell
    hub = rng.uniform(size=len(hx)) < 0.4
    for line in range(network.n_lines):
        idx = network.line_stations(line)
        d = np.hypot(hx[idx] - n_cols / 2, hy[idx] - n_rows / 2)
        hub[idx[np.argmin(d)]] = True
    hub &= kept[HUB]
    sx = np.concatenate([sx, hx[hub]])
    sy = np.concatenate([sy, hy[hub]])
    cls = np.concatenate([cls, np.full(int(hub.sum()), HUB)])
    weight = _ZONE_WEIGHT[cls] * rng.uniform(0.8, 1.25, len(cls))
    weight[cls == HUB] = _ZONE_WEIGHT[HUB] * rng.uniform(0.8, 1.1, int(hub.sum()))

    # Warped tile coordinates (in tile units).
    amp = 2.5
    sigma = max(4.0, min(n_rows, n_cols) / 12)
    wx = smooth_field(rng, (n_rows, n_cols), sigma) * amp
    wy = smooth_field(rng, (n_rows, n_cols), sigma) * amp
    rows, cols = np.mgrid[0:n_rows, 0:n_cols].astype(np.float64)
    tx = (cols + 0.5 + wx).ravel()
    ty = (rows + 0.5 + wy).ravel()
    membership = np.zeros((grid.n_tiles, len(LAND_USES)))
    one_hot = np.eye(len(LAND_USES))[cls]
    for start in range(0, grid.n_tiles, 4096):
        px, py = tx[start : start + 4096, None], ty[start : start + 4096, None]
        d = np.hypot(px - sx[None, :], py - sy[None, :]) / weight[None, :]
        d -= d.min(axis=1, keepdims=True)
        membership[start : start + 4096] = np.exp(-d / SOFTNESS) @ one_hot
    membership /= membership.sum(axis=1, keepdims=True)
    return LandUse(membership.argmax(axis=1).astype(np.int64), membership)


def _ensure_every_class(cls: np.ndarray, prob: np.ndarray) -> None:
    """Reassign seeds so that every non-hub class drawn at all has at least two (in place)."""
    for k in np.flatnonzero(prob.max(axis=0) > 0):
        while (cls == k).sum() < 2:
            counts = np.bincount(cls, minlength=prob.shape[1])
            donors = np.flatnonzero(counts[cls] > 2)
            best = donors[np.argmax(prob[donors, k])]
            cls[best] = k
