"""Honest forecast evaluation: origins and truths are observed GPS fixes, never carried
positions; errors (km, mean and median) for RAW and every baseline on the same cases;
paired bootstrap intervals that resample users (or user-days), not windows.

Numpy only (the model's forecasts are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.evaluation import euclidean_km
from urbansig.models.raw.sequences import SECONDS_PER_DAY, Resampled

BOOTSTRAP_ROUNDS = 2000
MAX_CASES = 4000


@dataclass
class Fixes:
    """Raw fixes sorted by (user, time); ``user`` indexes the sequences' users."""

    user: np.ndarray  # int64 (n,)
    t: np.ndarray  # int64 (n,) seconds since epoch (UTC)
    x: np.ndarray  # float64 (n,) metres
    y: np.ndarray  # float64 (n,) metres

    def nearest(
        self, user: np.ndarray, t: np.ndarray, tolerance_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position of each (user, t)'s nearest fix within ``tolerance_s``: x, y, found."""
        user = np.asarray(user, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        x, y = np.full(t.shape, np.nan), np.full(t.shape, np.nan)
        found = np.zeros(t.shape, dtype=bool)
        if not len(self.t) or not t.size:
            return x, y, found
        base = int(min(self.t.min(), t.min()))
        span = int(max(self.t.max(), t.max()) - base) + 1
        keys = self.user * span + (self.t - base)
        query = user * span + (t - base)
        right = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
        left = np.clip(right - 1, 0, len(keys) - 1)
        best = np.full(t.shape, -1, dtype=np.int64)
        best_gap = np.full(t.shape, np.inf)
        for cand in (left, right):
            gap = np.abs(self.t[cand] - t).astype(float)
            ok = (self.user[cand] == user) & (gap <= tolerance_s) & (gap < best_gap)
            best = np.where(ok, cand, best)
            best_gap = np.where(ok, gap, best_gap)
        found = best >= 0
        x[found], y[found] = self.x[best[found]], self.y[best[found]]
        return x, y, found

    def last_time_by(self, user: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Time of each (user, t)'s last fix at or before t (the user's first fix if none)."""
        base = int(min(self.t.min(), np.min(t)))
        span = int(max(self.t.max(), np.max(t)) - base) + 1
        keys = self.user * span + (self.t - base)
        idx = np.searchsorted(keys, np.asarray(user) * span + (np.asarray(t) - base), "right") - 1
        return self.t[np.clip(idx, 0, len(self.t) - 1)]


@dataclass
class ForecastCases:
    """Forecast origins (fresh steps of held-out users), their contexts and observed truths."""

    user: np.ndarray  # (n,) index into the sequences' users
    day: np.ndarray  # (n,) local day number of the origin
    origin: np.ndarray  # (n,) index of the origin step in the sequences
    origin_t: np.ndarray  # (n,) time of the origin's fix
    context: np.ndarray  # (n, C) step indices, -1 = padding (a gap)
    truth: np.ndarray  # (n, H, 2) metres
    truth_ok: np.ndarray  # (n, H) an observed fix within the tolerance of the target time

    def subset(self, keep: np.ndarray) -> ForecastCases:
        return ForecastCases(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


def forecast_cases(
    seq: Resampled,
    fixes: Fixes,
    context_len: int,
    horizon: int,
    tolerance_s: float,
    utc_offset_s: int = 0,
    max_cases: int = MAX_CASES,
    seed: int = 0,
) -> ForecastCases:
    """Every fresh step with a truth at some horizon (at most ``max_cases``, drawn at random).

    Target time of horizon h = the origin fix's time + h steps; truth = the user's fix
    nearest that time within ``tolerance_s`` (none: the horizon is not scored for that case).
    """
    origin = np.flatnonzero(seq.fresh & ~seq.gap)
    user = seq.user[origin]
    origin_t = fixes.last_time_by(user, seq.time[origin] + seq.step_s - 1)
    steps = np.arange(1, horizon + 1)
    target_t = origin_t[:, None] + steps[None, :] * seq.step_s
    tx, ty, ok = fixes.nearest(np.repeat(user[:, None], horizon, 1), target_t, tolerance_s)
    keep = np.asarray(ok.any(1), dtype=np.bool_)
    if keep.sum() > max_cases:
        pick = np.random.default_rng(seed).choice(np.flatnonzero(keep), max_cases, replace=False)
        keep = np.zeros(keep.shape, dtype=np.bool_)
        keep[pick] = True
    origin, user, origin_t = origin[keep], user[keep], origin_t[keep]
    first = seq.offsets[user]
    context = origin[:, None] - np.arange(context_len)[::-1][None, :]
    context = np.where(context >= first[:, None], context, -1)
    day = (origin_t + int(utc_offset_s)) // SECONDS_PER_DAY
    truth = np.stack([tx[keep], ty[keep]], -1)
    return ForecastCases(user, day, origin, origin_t, context, truth, ok[keep])


def context_arrays(
    seq: Resampled, cases: ForecastCases
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y, gap, fresh and time (n, C) of the cases' contexts; padding is a gap."""
    pad = cases.context < 0
    idx = np.where(pad, 0, cases.context)
    back = cases.context.shape[1] - 1 - np.arange(cases.context.shape[1])
    time = np.where(
        pad, seq.time[cases.origin][:, None] - back[None, :] * seq.step_s, seq.time[idx]
    )
    x = np.where(pad, seq.x[cases.origin][:, None], seq.x[idx])
    y = np.where(pad, seq.y[cases.origin][:, None], seq.y[idx])
    return x, y, seq.gap[idx] | pad, seq.fresh[idx] & ~pad, time


def paired_bootstrap(
    diff: np.ndarray, units: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``diff`` and its 95% interval, resampling whole ``units`` with replacement
    (each round: the pooled mean over the drawn units' cases)."""
    names, inverse = np.unique(units, return_inverse=True)
    sums = np.bincount(inverse, weights=diff, minlength=len(names))
    counts = np.bincount(inverse, minlength=len(names)).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(names), np.full(len(names), 1.0 / len(names)), size=rounds)
    means = (draws @ sums) / np.maximum(draws @ counts, 1.0)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def error_rows(
    cases: ForecastCases,
    predictions: dict[str, np.ndarray],
    step_s: int,
    reference: str = "raw",
    unit: str = "user",
    seed: int = 0,
) -> list[dict]:
    """Per horizon: cases, mean and median km of every method, and the reference's paired
    difference from each other method (negative = the reference is closer) with a 95%
    bootstrap interval over ``unit`` (``user`` or ``user-day``)."""
    units = cases.user if unit == "user" else cases.user * 100_000 + (cases.day - cases.day.min())
    rows = []
    for h in range(cases.truth.shape[1]):
        ok = cases.truth_ok[:, h]
        row: dict = {
            "horizon_min": (h + 1) * step_s / 60.0,
            "cases": int(ok.sum()),
            "users": int(len(np.unique(cases.user[ok]))),
        }
        if not ok.any():
            rows.append(row)
            continue
        errors = {
            name: euclidean_km(cases.truth[ok, h], pred[ok, h])
            for name, pred in predictions.items()
        }
        for name, err in errors.items():
            row[f"{name}_km"] = float(err.mean())
            row[f"{name}_median_km"] = float(np.median(err))
        for name, err in errors.items():
            if name == reference or reference not in errors:
                continue
            mean, low, high = paired_bootstrap(errors[reference] - err, units[ok], seed=seed)
            row[f"{reference}_minus_{name}_km"] = mean
            row[f"{reference}_minus_{name}_low"] = low
            row[f"{reference}_minus_{name}_high"] = high
        rows.append(row)
    return rows
