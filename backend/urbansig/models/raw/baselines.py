"""Next-point baselines on fixed-step sequences: persistence and a first-order Markov chain
on a square grid (most likely next cell from training transitions). Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.models.raw import MARKOV_CELL_M
from urbansig.models.raw.sequences import Resampled


def persistence(x: np.ndarray, y: np.ndarray, horizon: int) -> np.ndarray:
    """Stay where you are: (n, horizon, 2) copies of the last position."""
    xy = np.stack([x, y], -1)
    return np.repeat(xy[:, None, :], horizon, axis=1)


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
    """First-order Markov chain over grid cells, fitted on consecutive observed steps.

    Cells left fewer than ``min_support`` times in training keep their position (too little
    evidence for a move).
    """

    def __init__(self, cell_size: float = MARKOV_CELL_M, min_support: int = 3) -> None:
        self.cell_size = float(cell_size)
        self.min_support = int(min_support)
        self.grid: GridCells | None = None
        self._from = np.zeros(0, np.int64)
        self._to = np.zeros(0, np.int64)

    def fit(self, seq: Resampled) -> MarkovGrid:
        self.grid = GridCells(float(seq.x.min()), float(seq.y.min()), self.cell_size)
        cells = self.grid.cell(seq.x, seq.y)
        pair = (seq.user[1:] == seq.user[:-1]) & ~seq.gap[1:] & ~seq.gap[:-1]
        src, dst = cells[:-1][pair], cells[1:][pair]
        pairs, counts = np.unique(np.stack([src, dst], 1), axis=0, return_counts=True)
        # most frequent destination per source (ties: the source itself, then the lowest key)
        stay = (pairs[:, 0] == pairs[:, 1]).astype(np.int64)
        order = np.lexsort((-stay, -counts, pairs[:, 0]))
        pairs = pairs[order]
        first = np.ones(len(pairs), dtype=bool)
        first[1:] = pairs[1:, 0] != pairs[:-1, 0]
        support = np.add.reduceat(counts[order], np.flatnonzero(first)) if len(pairs) else counts
        ok = support >= self.min_support
        self._from, self._to = pairs[first, 0][ok], pairs[first, 1][ok]
        return self

    def next_cell(self, cells: np.ndarray) -> np.ndarray:
        """Most likely next cell of each cell; an unseen cell stays where it is."""
        cells = np.asarray(cells, dtype=np.int64)
        if not len(self._from):
            return cells.copy()
        pos = np.minimum(np.searchsorted(self._from, cells), len(self._from) - 1)
        return np.where(self._from[pos] == cells, self._to[pos], cells)

    def rollout(self, x: np.ndarray, y: np.ndarray, horizon: int) -> np.ndarray:
        """(n, horizon, 2) predictions; staying in the current cell keeps the exact position."""
        if self.grid is None:
            raise RuntimeError("fit the Markov baseline first")
        current = self.grid.cell(x, y)
        px, py = np.asarray(x, dtype=float).copy(), np.asarray(y, dtype=float).copy()
        out = np.empty((len(px), horizon, 2))
        for h in range(horizon):
            nxt = self.next_cell(current)
            moved = nxt != current
            cx, cy = self.grid.centre(nxt)
            px, py = np.where(moved, cx, px), np.where(moved, cy, py)
            out[:, h, 0], out[:, h, 1] = px, py
            current = nxt
        return out
