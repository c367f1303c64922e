"""Forecast baselines on fixed-step sequences: persistence, last displacement, a Markov
chain over grid cells fitted on training users (most likely cell h steps later), and each
user's routine (their usual place at that time of day, from their own earlier days).
Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.models.raw import MARKOV_CELL_M
from urbansig.models.raw.sequences import SECONDS_PER_DAY, Resampled


def persistence(x: np.ndarray, y: np.ndarray, horizon: int) -> np.ndarray:
    """Stay where you are: (n, horizon, 2) copies of the last position."""
    xy = np.stack([x, y], -1)
    return np.repeat(xy[:, None, :], horizon, axis=1)


def last_displacement(
    x: np.ndarray, y: np.ndarray, prev_x: np.ndarray, prev_y: np.ndarray, prev_ok: np.ndarray,
    horizon: int,
) -> np.ndarray:  # fmt: skip
    """Keep moving as in the last step: origin + h x (origin - previous step), (n, H, 2);
    persistence where the previous step has no fix."""
    dx = np.where(prev_ok, np.asarray(x) - prev_x, 0.0)
    dy = np.where(prev_ok, np.asarray(y) - prev_y, 0.0)
    h = np.arange(1, horizon + 1)[None, :]
    return np.stack([x[:, None] + h * dx[:, None], y[:, None] + h * dy[:, None]], -1)


@dataclass
class GridCells:
    """A square grid of ``size`` metres anchored at ``(x0, y0)``."""

    x0: float
    y0: float
    size: float

    def cell(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell key of each point: (ix << 32) + iy, both offset to stay non-negative."""
        ix = np.floor((np.asarray(x) - self.x0) / self.size).astype(np.int64) + (1 << 30)
        iy = np.floor((np.asarray(y) - self.y0) / self.size).astype(np.int64) + (1 << 30)
        return (ix << 32) + iy

    def centre(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.asarray(key, dtype=np.int64)
        ix = (key >> 32) - (1 << 30)
        iy = (key & 0xFFFFFFFF) - (1 << 30)
        return self.x0 + (ix + 0.5) * self.size, self.y0 + (iy + 0.5) * self.size


class MarkovGrid:
    """Markov chains over grid cells, one per horizon h: the most frequent cell h steps after
    each cell, counted on training users' pairs of fresh steps (fixes) h steps apart.

    Cells left fewer than ``min_support`` times in training keep their position (too little
    evidence for a move); staying in the cell keeps the exact position.
    """

    def __init__(self, cell_size: float = MARKOV_CELL_M, min_support: int = 3) -> None:
        self.cell_size = float(cell_size)
        self.min_support = int(min_support)
        self.grid: GridCells | None = None
        self._tables: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, seq: Resampled, horizon: int = 1) -> MarkovGrid:
        self.grid = GridCells(float(seq.x.min()), float(seq.y.min()), self.cell_size)
        cells = self.grid.cell(seq.x, seq.y)
        fresh = seq.fresh & ~seq.gap
        self._tables = []
        for h in range(1, horizon + 1):
            pair = (seq.user[h:] == seq.user[:-h]) & fresh[h:] & fresh[:-h]
            self._tables.append(self._most_frequent(cells[:-h][pair], cells[h:][pair]))
        return self

    def _most_frequent(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(src):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pairs, counts = np.unique(np.stack([src, dst], 1), axis=0, return_counts=True)
        # most frequent destination per source (ties: the source itself, then the lowest key)
        stay = (pairs[:, 0] == pairs[:, 1]).astype(np.int64)
        order = np.lexsort((-stay, -counts, pairs[:, 0]))
        pairs = pairs[order]
        first = np.ones(len(pairs), dtype=bool)
        first[1:] = pairs[1:, 0] != pairs[:-1, 0]
        support = np.add.reduceat(counts[order], np.flatnonzero(first))
        ok = support >= self.min_support
        return pairs[first, 0][ok], pairs[first, 1][ok]

    def cell_after(self, cells: np.ndarray, h: int) -> np.ndarray:
        """Most likely cell ``h`` steps after each cell; an unseen cell stays where it is."""
        cells = np.asarray(cells, dtype=np.int64)
        src, dst = self._tables[h - 1]
        if not len(src):
            return cells.copy()
        pos = np.minimum(np.searchsorted(src, cells), len(src) - 1)
        return np.where(src[pos] == cells, dst[pos], cells)

    def rollout(self, x: np.ndarray, y: np.ndarray, horizon: int) -> np.ndarray:
        """(n, horizon, 2) predictions, one direct chain per horizon."""
        if self.grid is None:
            raise RuntimeError("fit the Markov baseline first")
        if horizon > len(self._tables):
            raise ValueError(f"fitted for {len(self._tables)} horizons, not {horizon}")
        current = self.grid.cell(x, y)
        out = np.empty((len(current), horizon, 2))
        for h in range(1, horizon + 1):
            nxt = self.cell_after(current, h)
            moved = nxt != current
            cx, cy = self.grid.centre(nxt)
            out[:, h - 1, 0] = np.where(moved, cx, x)
            out[:, h - 1, 1] = np.where(moved, cy, y)
        return out


def routine(
    seq: Resampled,
    user: np.ndarray,
    day: np.ndarray,
    target_t: np.ndarray,
    origin_xy: np.ndarray,
    utc_offset_s: int = 0,
    cell_m: float = MARKOV_CELL_M,
) -> np.ndarray:
    """Each user's usual place at the target time, from their own fixes on earlier days.

    For a case of ``user`` on local ``day`` and each target time (n, H): the user's fresh
    steps on days before ``day`` within one step of the target's time of day, on the same
    kind of day (weekday / weekend; any day when there is none); the most frequent grid
    cell among them, at the mean position of those steps. Persistence (``origin_xy``, (n, 2))
    where the user has no such earlier step. Returns (n, H, 2).
    """
    out = np.repeat(np.asarray(origin_xy, dtype=float)[:, None, :], target_t.shape[1], 1)
    if not len(user):
        return out
    grid = GridCells(float(seq.x.min()), float(seq.y.min()), cell_m)
    offsets = seq.offsets
    slots = int(np.ceil(SECONDS_PER_DAY / seq.step_s))
    for u in np.unique(user):
        steps = np.arange(offsets[u], offsets[u + 1])
        steps = steps[seq.fresh[steps] & ~seq.gap[steps]]
        if not len(steps):
            continue
        local = seq.time[steps] + int(utc_offset_s)
        s_day = local // SECONDS_PER_DAY
        s_slot = (local % SECONDS_PER_DAY) // seq.step_s
        s_weekend = (s_day + 3) % 7 >= 5
        s_cell = grid.cell(seq.x[steps], seq.y[steps])
        for i in np.flatnonzero(user == u):
            earlier = s_day < day[i]
            if not earlier.any():
                continue
            t_local = target_t[i] + int(utc_offset_s)
            t_slot = (t_local % SECONDS_PER_DAY) // seq.step_s
            t_weekend = (t_local // SECONDS_PER_DAY + 3) % 7 >= 5
            for h in range(target_t.shape[1]):
                near = np.abs(s_slot - t_slot[h])
                near = earlier & (np.minimum(near, slots - near) <= 1)
                same = near & (s_weekend == t_weekend[h])
                pick = same if same.any() else near
                if not pick.any():
                    continue
                cells, counts = np.unique(s_cell[pick], return_counts=True)
                top = pick & (s_cell == cells[np.argmax(counts)])
                out[i, h] = seq.x[steps][top].mean(), seq.y[steps][top].mean()
    return out
