"""Per-tile traffic profiles: layouts (weekly hourly, weekly 15 min, daily hourly) and a
streaming accumulator of per-tile sums and counts that grows with the tiles it meets."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from urbansig.io.report import ReadReport
from urbansig.protocol import BadInput

# layout -> (days in the profile: 7 weekly or 1 daily, steps per day)
LAYOUTS: dict[str, tuple[int, int]] = {
    "weekly_hourly": (7, 24),
    "weekly_15min": (7, 96),
    "daily_hourly": (1, 24),
}


@dataclass
class TrafficProfiles:
    """Per-tile profiles: ``values[i, s, t]`` is the mean traffic of tile ``tile_ids[i]``,
    service ``services[s]``, step ``t`` of ``layout`` over the days read."""

    tile_ids: np.ndarray
    services: list[str]
    values: np.ndarray
    layout: str
    report: ReadReport


def check_layout(layout: str) -> tuple[int, int]:
    """(days, steps per day) of ``layout``; BadInput naming the valid layouts otherwise."""
    if layout not in LAYOUTS:
        raise BadInput(f"LAYOUT must be one of {', '.join(LAYOUTS)}, not {layout!r}.")
    return LAYOUTS[layout]


def n_steps(layout: str) -> int:
    """Number of steps of ``layout`` (168, 672 or 24)."""
    days, per_day = check_layout(layout)
    return days * per_day


def day_offset(layout: str, day: dt.date) -> int:
    """First step of ``day`` in ``layout`` (weekday * steps per day, Monday first)."""
    days, per_day = check_layout(layout)
    return (day.weekday() if days == 7 else 0) * per_day


RESULT_CHUNK = 8192


def _run(rows: np.ndarray) -> np.ndarray | slice:
    """A slice for consecutive rows (the usual case: files list the same tiles in the same
    order), so that numpy adds in place instead of gathering and scattering; else ``rows``."""
    if rows.size and rows[-1] - rows[0] == rows.size - 1 and (np.diff(rows) == 1).all():
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def memory_limit() -> int:
    """Bytes the accumulators may take: half the physical memory (8 GiB if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_steps(layout: str, steps: np.ndarray, limit: int = 6) -> str:
    """'Sun 02:00, ...' for step indices of ``layout`` (at most ``limit`` named)."""
    days, per_day = check_layout(layout)
    minutes = 24 * 60 // per_day
    names = []
    for step in steps[:limit]:
        day, slot = divmod(int(step), per_day)
        clock = f"{slot * minutes // 60:02d}:{slot * minutes % 60:02d}"
        names.append(f"{_WEEKDAYS[day]} {clock}" if days == 7 else clock)
    more = f" and {len(steps) - limit} more" if len(steps) > limit else ""
    return ", ".join(names) + more


def unobserved_problem(layout: str, steps: np.ndarray) -> str:
    """The report line for steps of ``layout`` that no day read contains."""
    return (
        f"{len(steps)} of {n_steps(layout)} {layout} steps have no data in the days read "
        f"({describe_steps(layout, steps)}); their values are 0. A weekly layout needs every "
        "weekday; 02:00-02:45 is missing on the spring daylight-saving day."
    )


class ProfileAccumulator:
    """Sums and counts of shape (directions, services, steps, tiles), float64 and uint16.

    Tiles are added as they appear (union over files), along the last axis, so that a block
    (one direction, service and day) adds to, and first touches, only its own contiguous
    part of memory. The profile of a tile is, per direction, the sum divided by the number
    of observations of each step, then summed over directions (so "both" = mean DL + mean
    UL, robust to a missing file of one side).
    """

    def __init__(self, n_dirs: int, n_services: int, steps: int, capacity: int = 0) -> None:
        self.shape = (n_dirs, n_services, steps)
        self.n = 0
        self.index = pd.Index(np.empty(0, dtype=np.int64))
        self.sums = np.zeros((*self.shape, capacity), dtype=np.float64)
        self.counts = np.zeros((*self.shape, capacity), dtype=np.uint16)
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def rows(self, tile_ids: np.ndarray) -> np.ndarray:
        """Row of each (unique) tile id, adding unseen ones."""
        if self._last is not None and np.array_equal(self._last[0], tile_ids):
            return self._last[1]  # the same tiles as the previous file
        idx = self.index.get_indexer(pd.Index(tile_ids))
        new = idx < 0
        if new.any():
            fresh = tile_ids[new]
            idx[new] = np.arange(self.n, self.n + fresh.size)
            self.index = self.index.append(pd.Index(fresh))
            self._grow(self.n + fresh.size)
            self.n += fresh.size
        self._last = (tile_ids, idx)
        return idx

    def _grow(self, needed: int) -> None:
        capacity = self.sums.shape[-1]
        if needed <= capacity:
            return
        capacity = max(needed, capacity + capacity // 4)  # the first file brings most tiles
        per_tile = int(np.prod(self.shape)) * (8 + 2)
        if capacity * per_tile > memory_limit():
            raise BadInput(
                f"{needed} tiles x {self.shape[1]} services x {self.shape[2]} steps x "
                f"{self.shape[0]} directions need {needed * per_tile / 2**30:.1f} GiB of "
                f"accumulators, more than half of this machine's memory: select fewer "
                "SERVICES, a single DIRECTION or a shorter LAYOUT (daily_hourly)."
            )
        for name in ("sums", "counts"):
            old = getattr(self, name)
            new = np.zeros((*self.shape, capacity), dtype=old.dtype)
            new[..., : self.n] = old[..., : self.n]
            setattr(self, name, new)

    def add_block(
        self,
        direction: int,
        service: int,
        tile_ids: np.ndarray,
        values: np.ndarray,
        first_step: int,
        observed: np.ndarray,
    ) -> None:
        """Add (n, k) ``values`` of unique ``tile_ids`` to steps first_step..first_step+k;
        ``observed`` (k,) bool says which steps count as one observation."""
        if tile_ids.size == 0:
            return
        rows = _run(self.rows(tile_ids))
        stop = first_step + values.shape[1]
        sums = self.sums[direction, service, first_step:stop]  # (k, capacity) views
        counts = self.counts[direction, service, first_step:stop]
        sums[:, rows] += values.T
        counts[:, rows] += observed.astype(np.uint16)[:, None]

    def add_points(
        self,
        direction: int,
        service: np.ndarray,
        tile_ids: np.ndarray,
        steps: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Add scattered values (any tile ids, repeats summed); counts are not touched."""
        if tile_ids.size == 0:
            return
        uniq, inverse = np.unique(tile_ids, return_inverse=True)
        rows = self.rows(uniq)[inverse]
        np.add.at(self.sums[direction], (service, steps, rows), values)  # a view: in place

    def result(
        self, divisor: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sorted tile ids, float32 values (n, services, steps), steps never observed).

        With ``divisor`` (steps,), sums are divided by it instead of the per-tile counts.
        """
        n = self.n
        ids = self.index.to_numpy(dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        out = np.zeros((n, self.shape[1], self.shape[2]), dtype=np.float32)
        seen = np.zeros(self.shape[2], dtype=bool)
        if divisor is not None:
            seen |= divisor > 0
        # Chunks of tiles, temporaries allocated once: no full-size copies, few page faults.
        mean_buffer = np.empty((*self.shape[1:], min(n, RESULT_CHUNK)), dtype=np.float32)
        valid_buffer = np.empty(mean_buffer.shape, dtype=bool)
        for first in range(0, n, RESULT_CHUNK):
            rows = _run(order[first : first + RESULT_CHUNK])
            target = out[first : first + RESULT_CHUNK]
            mean, valid = mean_buffer[..., : len(target)], valid_buffer[..., : len(target)]
            for d in range(self.shape[0]):
                sums = self.sums[d][..., rows]  # (services, steps, chunk)
                if divisor is None:
                    counts = self.counts[d][..., rows]
                    np.greater(counts, 0, out=valid)
                    seen |= valid.any(axis=(0, 2))
                else:
                    counts = np.broadcast_to(divisor[:, None], sums.shape)
                    np.greater(counts, 0, out=valid)
                mean.fill(0)
                np.divide(sums, counts, out=mean, where=valid, casting="same_kind")
                target += mean.transpose(2, 0, 1)
        return ids[order], out, np.flatnonzero(~seen)
