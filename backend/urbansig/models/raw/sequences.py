"""Per-user trajectories as fixed-step sequences: resampling with gap marks, normalisation, windows.

Numpy only (projection helpers import pyproj inside the function). Times are int64 seconds
since the Unix epoch (UTC); positions are metres in a projected CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.models.raw import MAX_GAP_S, STEP_S
from urbansig.protocol import BadInput

SECONDS_PER_DAY = 86_400


@dataclass
class Resampled:
    """Fixed-step sequences of all users, concatenated (users in order, steps in time order).

    ``x``/``y`` hold the last known position (carried forward within the maximum gap);
    ``gap`` marks steps with no position known recently enough (position carried, not used);
    ``fresh`` marks steps whose position is a fix taken within the step itself (the only
    steps that serve as forecast origins and targets: a carried position is not a truth).
    """

    user: np.ndarray  # int64 (n,) index into ``user_ids``
    time: np.ndarray  # int64 (n,) step start, seconds since epoch (UTC)
    x: np.ndarray  # float64 (n,)
    y: np.ndarray  # float64 (n,)
    gap: np.ndarray  # bool (n,)
    fresh: np.ndarray  # bool (n,) a fix within the step
    user_ids: np.ndarray  # object (n_users,) original ids
    step_s: int

    @property
    def offsets(self) -> np.ndarray:
        """Start of each user's steps in the concatenated arrays, plus the end (n_users + 1)."""
        counts = np.bincount(self.user, minlength=len(self.user_ids))
        return np.concatenate([[0], np.cumsum(counts)])

    def select(self, users: np.ndarray) -> Resampled:
        """The steps of the users whose indices are in ``users`` (renumbered 0..k-1)."""
        users = np.asarray(users, dtype=np.int64)
        remap = np.full(len(self.user_ids), -1, dtype=np.int64)
        remap[users] = np.arange(len(users))
        keep = remap[self.user] >= 0
        order = np.argsort(remap[self.user[keep]], kind="stable")
        idx = np.flatnonzero(keep)[order]
        return Resampled(
            remap[self.user[idx]],
            self.time[idx],
            self.x[idx],
            self.y[idx],
            self.gap[idx],
            self.fresh[idx],
            self.user_ids[users],
            self.step_s,
        )


@dataclass
class CleanReport:
    """What :func:`sort_and_dedupe` changed."""

    unsorted_rows: int
    duplicate_times: int


def sort_and_dedupe(
    user: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, CleanReport]:
    """Sort points by (user, time) and keep the last point of each repeated (user, time)."""
    user = np.asarray(user, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    order = np.lexsort((t, user))
    unsorted = int(np.count_nonzero(order != np.arange(len(order))))
    user, t, x, y = user[order], t[order], np.asarray(x)[order], np.asarray(y)[order]
    repeat = np.zeros(len(t), dtype=bool)
    if len(t) > 1:
        repeat[:-1] = (user[1:] == user[:-1]) & (t[1:] == t[:-1])
    keep = ~repeat
    report = CleanReport(unsorted, int(repeat.sum()))
    return user[keep], t[keep], x[keep], y[keep], report


def resample(
    user: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    user_ids: np.ndarray,
    step_s: int = STEP_S,
    max_gap_s: int = MAX_GAP_S,
) -> Resampled:
    """Resample sorted points (see :func:`sort_and_dedupe`) to steps of ``step_s`` seconds.

    Each user's steps run from the step holding their first point to the step holding their
    last. A step takes the last point observed up to its end; when that point is older than
    ``max_gap_s`` before the step's end, the step is a gap (position carried, ``gap`` True).
    """
    if step_s <= 0 or max_gap_s < 0:
        raise ValueError("step_s must be positive and max_gap_s non-negative")
    user = np.asarray(user, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    n_users = len(user_ids)
    if len(t) == 0:
        empty = np.zeros(0)
        return Resampled(
            np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty,
            np.zeros(0, bool), np.zeros(0, bool), np.asarray(user_ids, dtype=object), step_s,
        )  # fmt: skip
    counts = np.bincount(user, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    present = counts > 0
    first_step = np.zeros(n_users, dtype=np.int64)
    last_step = np.zeros(n_users, dtype=np.int64)
    first_step[present] = t[starts[present]] // step_s
    last_step[present] = t[starts[present] + counts[present] - 1] // step_s
    n_steps = np.where(present, last_step - first_step + 1, 0)
    step_user = np.repeat(np.arange(n_users), n_steps)
    step_offsets = np.concatenate([[0], np.cumsum(n_steps)[:-1]])
    within = np.arange(len(step_user)) - step_offsets[step_user]
    step_time = (first_step[step_user] + within) * step_s
    # last point at or before the end of each step, found on a (user, time) key
    base = t.min()
    span = int(max(t.max(), step_time.max() + step_s) - base) + 1
    point_key = user * span + (t - base)
    step_key = step_user * span + (step_time + step_s - 1 - base)
    idx = np.searchsorted(point_key, step_key, side="right") - 1
    age = step_time + step_s - 1 - t[idx]
    gap = age > max_gap_s
    return Resampled(
        step_user,
        step_time,
        np.asarray(x, dtype=np.float64)[idx],
        np.asarray(y, dtype=np.float64)[idx],
        gap,
        age < step_s,
        np.asarray(user_ids, dtype=object),
        step_s,
    )


def drop_short_users(seq: Resampled, min_steps: int) -> tuple[Resampled, np.ndarray]:
    """Keep users with at least ``min_steps`` non-gap steps; returns them and the dropped ids."""
    observed = np.bincount(seq.user[~seq.gap], minlength=len(seq.user_ids))
    keep = np.flatnonzero(observed >= min_steps)
    dropped = seq.user_ids[observed < min_steps]
    return seq.select(keep), dropped


def time_features(
    time_s: np.ndarray, step_s: int, utc_offset_s: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Local time-of-day slot (0..slots_per_day-1) and day of week (0 = Monday) of each step."""
    local = np.asarray(time_s, dtype=np.int64) + int(utc_offset_s)
    slot = (local % SECONDS_PER_DAY) // step_s
    dow = (local // SECONDS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday
    return slot.astype(np.int64), dow.astype(np.int64)


def slots_per_day(step_s: int) -> int:
    return int(np.ceil(SECONDS_PER_DAY / step_s))


@dataclass
class Normaliser:
    """Coordinates to model space: ``(xy - mean) / scale``; remembers the training extent."""

    mean_x: float
    mean_y: float
    scale: float
    extent: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax of the training data
    crs: str

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, crs: str, scale_m: float | None = None
    ) -> Normaliser:
        """Median centre; ``scale_m`` metres per unit, or (None) a robust spread (1.4826 x
        the median absolute deviation of x and y together), so that a few far trips do not
        squash the city into a point. A fixed scale keeps a model's distances the same in
        every city (RAW fixes it, so that a model trained in one city goes on in another)."""
        cx, cy = float(np.median(x)), float(np.median(y))
        extent = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        if scale_m is not None:
            return cls(cx, cy, float(scale_m), extent, crs)
        mad = float(np.median(np.concatenate([np.abs(x - cx), np.abs(y - cy)])))
        scale = 1.4826 * mad if mad > 0 else float(np.sqrt((np.var(x) + np.var(y)) / 2.0))
        return cls(cx, cy, max(scale, 1.0), extent, crs)

    def transform(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([(x - self.mean_x) / self.scale, (y - self.mean_y) / self.scale], -1)

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack(
            [xy[..., 0] * self.scale + self.mean_x, xy[..., 1] * self.scale + self.mean_y], -1
        )

    def margin_m(self) -> float:
        """How far new data may reach outside the training extent (1/4 of its size, >= 10 km)."""
        xmin, ymin, xmax, ymax = self.extent
        return max(10_000.0, 0.25 * max(xmax - xmin, ymax - ymin))

    def distance_outside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Metres from each point to the extent the model was trained on (0 inside)."""
        xmin, ymin, xmax, ymax = self.extent
        dx = np.maximum(np.maximum(xmin - x, x - xmax), 0.0)
        dy = np.maximum(np.maximum(ymin - y, y - ymax), 0.0)
        return np.hypot(dx, dy)

    def check_fits(
        self, x: np.ndarray, y: np.ndarray, parameter: str = "MODEL", max_share: float = 0.01
    ) -> None:
        """BadInput when more than ``max_share`` of points lie beyond the margin of the extent."""
        distance = self.distance_outside(x, y)
        outside = distance > self.margin_m()
        share = float(outside.mean()) if len(x) else 0.0
        if share > max_share:
            far = float(distance.max()) / 1000.0
            raise BadInput(
                f"{parameter}: the model's coordinate normalisation does not fit these "
                f"trajectories: {share:.0%} of their points lie more than "
                f"{self.margin_m() / 1000:.0f} km outside the area the model was trained on "
                f"(up to {far:.0f} km); train a new model on this area instead."
            )

    def to_config(self) -> dict:
        return {
            "mean_x": self.mean_x,
            "mean_y": self.mean_y,
            "scale": self.scale,
            "extent": list(self.extent),
            "crs": self.crs,
        }

    @classmethod
    def from_config(cls, cfg: dict) -> Normaliser:
        return cls(
            float(cfg["mean_x"]),
            float(cfg["mean_y"]),
            float(cfg["scale"]),
            tuple(float(v) for v in cfg["extent"]),  # type: ignore[arg-type]
            str(cfg["crs"]),
        )


@dataclass
class Windows:
    """Model inputs cut from resampled sequences: arrays of shape (n_windows, length)."""

    xy: np.ndarray  # float32 (n, L, 2) normalised
    gap: np.ndarray  # bool (n, L); padding is a gap too
    fresh: np.ndarray  # bool (n, L) a fix within the step (padding: False)
    slot: np.ndarray  # int64 (n, L)
    dow: np.ndarray  # int64 (n, L)
    user: np.ndarray  # int64 (n,) user index of each window
    time: np.ndarray  # int64 (n, L) step times (padding: -1)


def make_windows(
    seq: Resampled,
    norm: Normaliser,
    length: int,
    stride: int | None = None,
    utc_offset_s: int = 0,
    min_observed: int = 2,
) -> Windows:
    """Cut each user's steps into windows of ``length`` (every ``stride`` steps), padded as gaps.

    Windows with fewer than ``min_observed`` non-gap steps are dropped.
    """
    stride = stride or length
    offsets = seq.offsets
    n_steps = np.diff(offsets)
    per_user = np.where(n_steps > 0, np.maximum(0, -(-(n_steps - length) // stride)) + 1, 0)
    w_user = np.repeat(np.arange(len(n_steps)), per_user)
    w_first = np.arange(len(w_user)) - np.repeat(np.cumsum(per_user) - per_user, per_user)
    start = offsets[w_user] + w_first * stride
    pos = start[:, None] + np.arange(length)[None, :]
    valid = pos < offsets[w_user + 1][:, None]
    pos = np.where(valid, pos, 0)
    xy = norm.transform(seq.x[pos], seq.y[pos]).astype(np.float32)
    gap = seq.gap[pos] | ~valid
    slot, dow = time_features(seq.time[pos], seq.step_s, utc_offset_s)
    keep = (~gap).sum(1) >= min_observed
    xy[~valid] = 0.0
    return Windows(
        xy[keep],
        gap[keep],
        (seq.fresh[pos] & valid)[keep],
        np.where(valid, slot, 0)[keep],
        np.where(valid, dow, 0)[keep],
        w_user[keep],
        np.where(valid, seq.time[pos], -1)[keep],
    )


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone (WGS 84) holding a point, as an EPSG code."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def solar_utc_offset_s(lon: float) -> int:
    """A time zone guess from longitude: whole hours, 15 degrees each."""
    return int(round(lon / 15.0)) * 3600
