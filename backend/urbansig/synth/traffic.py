"""Mobile traffic per tile, service, day and direction, written in the NetMob 2023 layout.

Expected traffic = tile activity x (land-use membership @ class signatures) x per-tile service
taste x per-day factor; observed traffic adds log-normal noise whose relative spread grows for
small volumes (count-like), a few outliers, and tiles missing from some files. Each file is
drawn from its own random stream keyed by (seed, service, day, direction), so the bytes do
not depend on the order of generation.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from urbansig.synth.grid import CITY
from urbansig.synth.rhythms import SERVICES, UPLINK, signature_table
from urbansig.synth.textformat import write_rows

DST_DAY = dt.date(2019, 3, 31)
DST_MISSING = slice(8, 12)  # 02:00 .. 02:45 do not exist on the daylight-saving day
SCALE = 25.0  # traffic units per unit of expected activity
NOISE_CV = 0.3  # relative spread of the multiplicative noise
COUNT_UNIT = 0.5  # volume at which count noise equals the multiplicative noise
MISSING_PER_FILE = 0.003  # share of (covered) tiles absent from any one file
UNCOVERED = 0.006  # share of tiles absent from every file


@dataclass(frozen=True)
class TrafficModel:
    """Everything that makes a traffic file, except the per-file random stream."""

    seed: int
    weights: np.ndarray  # (n, K) activity x (perturbed) land-use membership
    taste: np.ndarray  # (n, S) per-tile service preference (log-normal)
    uplink: np.ndarray  # (n, S) per-tile uplink/downlink ratio
    covered: np.ndarray  # (n,) bool: tiles that ever appear in a file
    table: np.ndarray  # (K, S, 7, 96) class signatures
    noise_cv: float = NOISE_CV  # relative spread of the multiplicative observation noise

    @property
    def n_tiles(self) -> int:
        return len(self.weights)

    def day_factor(self, day: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 7001, day])
        return np.exp(0.15 * rng.standard_normal(self.n_tiles))

    def expected(self, service: int, day: int, dow: int) -> np.ndarray:
        """Expected downlink traffic (n, 96) of ``service`` on day index ``day``."""
        base = self.weights @ self.table[:, service, dow, :]
        return base * (SCALE * self.taste[:, service] * self.day_factor(day))[:, None]

    def sample(
        self, service: int, day: int, dow: int, direction: str, mean: np.ndarray | None = None
    ) -> np.ndarray:
        """Observed traffic (n, 96) with noise and outliers; NaN rows are missing tiles.

        ``mean`` is the expected downlink (``expected``), computed here when not given.
        """
        if mean is None:
            mean = self.expected(service, day, dow)
        if direction == "UL":
            mean = mean * self.uplink[:, service, None]
        rng = np.random.default_rng([self.seed, 7002, service, day, direction == "UL"])
        # Log-normal noise with a relative spread of noise_cv plus count-like noise.
        sigma2 = np.log1p(self.noise_cv**2 + COUNT_UNIT / np.maximum(mean, 1e-6))
        noise = rng.standard_normal(mean.shape)
        values = mean * np.exp(np.sqrt(sigma2) * noise - sigma2 / 2)
        n_out = rng.poisson(1 + values.size * 2e-5)
        rows = rng.integers(0, len(values), n_out)
        cols = rng.integers(0, values.shape[1], n_out)
        values[rows, cols] *= rng.uniform(20, 80, n_out)
        keep = self.covered & (rng.uniform(size=len(values)) >= MISSING_PER_FILE)
        values[~keep] = np.nan
        return values


def make_traffic_model(
    seed: int,
    membership: np.ndarray,
    activity: np.ndarray,
    rng: np.random.Generator,
    noise: float = 1.0,
) -> TrafficModel:
    """Perturb memberships and tastes per tile, choose uncovered tiles.

    ``noise`` scales every per-tile variation (membership, service taste) and the
    observation noise; 1 is the standard city, 2 a harder one.
    """
    n, k = membership.shape
    m = membership * np.exp(0.2 * noise * rng.standard_normal((n, k)))
    m /= m.sum(axis=1, keepdims=True)
    taste = np.exp(0.28 * noise * rng.standard_normal((n, len(SERVICES))))
    uplink = UPLINK[None, :] * np.exp(0.2 * rng.standard_normal((n, len(SERVICES))))
    covered = np.asarray(rng.uniform(size=n) >= UNCOVERED)
    table = signature_table(k)
    return TrafficModel(
        seed, m * activity[:, None], taste, uplink, covered, table, NOISE_CV * noise
    )


def netmob_file(root: Path, service: str, day: dt.date, direction: str) -> Path:
    """``{root}/{City}/{Service}/{YYYYMMDD}/{City}_{Service}_{YYYYMMDD}_{DL|UL}.txt``."""
    stamp = day.strftime("%Y%m%d")
    return root / CITY / service / stamp / f"{CITY}_{service}_{stamp}_{direction}.txt"


def write_traffic(
    model: TrafficModel,
    root: Path,
    start: dt.date,
    days: int,
    progress: Callable[[float, str], None],
    check_cancelled: Callable[[], None],
    workers: int | None = None,
) -> int:
    """Write every (service, day, direction) file under ``root``; returns the bytes written.

    Files are independent (own random stream), so they are made by a small thread pool (numpy
    releases the GIL in the heavy parts); the bytes do not depend on the number of workers.
    """
    jobs = [(si, d) for si in range(len(SERVICES)) for d in range(days)]
    workers = workers or min(2, os.cpu_count() or 1)
    written = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit(k: int) -> Future:
            return pool.submit(_write_day, model, root, jobs[k][0], start, jobs[k][1])

        # At most ``workers`` files in flight: bounded memory, prompt cancellation.
        pending = [submit(k) for k in range(min(workers, len(jobs)))]
        for done, (si, d) in enumerate(jobs):
            try:
                check_cancelled()
                written += pending[done].result()
            except BaseException:
                for future in pending[done:]:
                    future.cancel()
                raise
            if done + workers < len(jobs):
                pending.append(submit(done + workers))
            day = start + dt.timedelta(days=d)
            progress((done + 1) / len(jobs), f"Traffic {SERVICES[si]} {day.isoformat()}")
    return written


def _write_day(model: TrafficModel, root: Path, si: int, start: dt.date, d: int) -> int:
    """Write the DL and UL files of one service and day; returns their size in bytes."""
    day = start + dt.timedelta(days=d)
    mean = model.expected(si, d, day.weekday())
    tile_ids = np.arange(model.n_tiles, dtype=np.int64)
    size = 0
    for direction in ("DL", "UL"):
        values = model.sample(si, d, day.weekday(), direction, mean)
        if day == DST_DAY:
            values = np.delete(values, np.r_[DST_MISSING], axis=1)
        keep = ~np.isnan(values[:, 0])
        path = netmob_file(root, SERVICES[si], day, direction)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            write_rows(handle, tile_ids[keep], values[keep], decimals=1)
        size += path.stat().st_size
    return size
