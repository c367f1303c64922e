"""A subway-like network: a few gently curved lines crossing the city, stations every ~700 m."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.synth.grid import CityGrid

STATION_SPACING = 700.0  # metres along a line


@dataclass(frozen=True)
class Network:
    """Stations (EPSG:27572) and the lines they belong to, in order along each line."""

    x: np.ndarray
    y: np.ndarray
    line: np.ndarray  # int line index per station
    order: np.ndarray  # position along its line
    names: list[str]  # station ids, e.g. "L1-03"

    @property
    def n_lines(self) -> int:
        return int(self.line.max()) + 1 if len(self.line) else 0

    def line_stations(self, line: int) -> np.ndarray:
        """Indices of the stations of ``line`` in travel order."""
        idx = np.flatnonzero(self.line == line)
        return idx[np.argsort(self.order[idx])]


def make_network(grid: CityGrid, rng: np.random.Generator) -> Network:
    """Lines through (near) the centre at spread angles, each a sinuous polyline."""
    xmin, ymin, xmax, ymax = grid.bounds
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    half = min(xmax - xmin, ymax - ymin) / 2
    n_lines = int(np.clip(round(half / 1500.0), 2, 6))
    base = rng.uniform(0, np.pi / n_lines)
    xs, ys, lines, orders = [], [], [], []
    for k in range(n_lines):
        angle = base + k * np.pi / n_lines + rng.normal(0, 0.08)
        offset = rng.normal(0, 0.08 * half)
        t = np.linspace(-0.92 * half, 0.92 * half, 400)
        bend = 0.12 * half * np.sin(np.pi * t / half * rng.uniform(0.6, 1.2) + rng.uniform(0, 6))
        px = cx + t * np.cos(angle) - (offset + bend) * np.sin(angle)
        py = cy + t * np.sin(angle) + (offset + bend) * np.cos(angle)
        seg = np.hypot(np.diff(px), np.diff(py))
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        n_st = max(int(arc[-1] // STATION_SPACING) + 1, 3)
        jitter = rng.uniform(-0.15, 0.15, n_st) * STATION_SPACING
        at = np.clip(np.linspace(0, arc[-1], n_st) + jitter, 0, arc[-1])
        at.sort()
        xs.append(np.interp(at, arc, px))
        ys.append(np.interp(at, arc, py))
        lines.append(np.full(n_st, k))
        orders.append(np.arange(n_st))
    line = np.concatenate(lines)
    order = np.concatenate(orders)
    names = [f"L{int(li) + 1}-{int(o) + 1:02d}" for li, o in zip(line, order)]
    return Network(np.concatenate(xs), np.concatenate(ys), line, order, names)
