"""The geo side of the RAW jobs: projecting trajectories and fixed-step sequences. Files are
read and written in urbansig.io (trajectories, regions, users); pyproj is imported inside.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from urbansig.models.raw.sequences import (
    CleanReport,
    Normaliser,
    Resampled,
    drop_short_users,
    resample,
    solar_utc_offset_s,
    sort_and_dedupe,
    utm_crs,
)
from urbansig.protocol import BadInput

if TYPE_CHECKING:
    from urbansig.io.trajectories import Points
    from urbansig.models.raw.evaluate import Fixes


def choose_crs(lon: np.ndarray, lat: np.ndarray) -> str:
    """The UTM zone of the points' median: metres true on the ground, so every distance is
    the same whatever CRS the regions come in (Web Mercator's metres are not)."""
    return utm_crs(float(np.median(lon)), float(np.median(lat)))


def project(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def utc_offset(value: str, lon: np.ndarray) -> int:
    """UTC_OFFSET 'auto' (whole hours from the data's longitude) or hours, in seconds."""
    if str(value).strip().lower() == "auto":
        return solar_utc_offset_s(float(np.median(lon)))
    try:
        hours = float(value)
    except ValueError as exc:
        message = f"UTC_OFFSET must be 'auto' or hours (e.g. 8 or -5), not {value!r}."
        raise BadInput(message) from exc
    if not -14 <= hours <= 14:
        raise BadInput(f"UTC_OFFSET must be between -14 and 14 hours, not {hours}.")
    return int(round(hours * 3600))


def sequences(
    points: Points, x: np.ndarray, y: np.ndarray, step_s: int, max_gap_s: int, min_steps: int
) -> tuple[Resampled, CleanReport, np.ndarray]:
    """Sorted, de-duplicated, resampled sequences of users with at least ``min_steps`` steps."""
    user, t, sx, sy, clean = sort_and_dedupe(points.user, points.t, x, y)
    seq = resample(user, t, sx, sy, points.user_ids, step_s, max_gap_s)
    seq, dropped = drop_short_users(seq, min_steps)
    if len(seq.user_ids) == 0:
        raise BadInput(
            f"MIN_STEPS: no user has {min_steps} observed {step_s // 60}-minute steps; "
            "lower MIN_STEPS or MAX_GAP_MINUTES, or give longer trajectories."
        )
    return seq, clean, dropped


def skip_outside(
    points: Points, x: np.ndarray, y: np.ndarray, normaliser: Normaliser, events, source: str
) -> tuple[Points, np.ndarray, np.ndarray]:
    """The points within the model's area (its extent plus margin); the others are skipped
    with one warning naming their users. BadInput (MODEL) when no point is within."""
    distance = normaliser.distance_outside(x, y)
    outside = distance > normaliser.margin_m()
    if not outside.any():
        return points, x, y
    if outside.all():
        normaliser.check_fits(x, y, "MODEL")  # raises: the run has nothing within the area
    users, counts = np.unique(points.user[outside], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    named = ", ".join(f"{points.user_ids[users[i]]} ({counts[i]:,})" for i in order[:10])
    more = f" and {len(users) - 10} more users" if len(users) > 10 else ""
    events.warning(
        f"{source}: {int(outside.sum()):,} points of {len(users)} "
        f"user{'s' if len(users) != 1 else ''} lie more than "
        f"{normaliser.margin_m() / 1000:.0f} km outside the area MODEL was trained on (up to "
        f"{float(distance.max()) / 1000:,.0f} km) and are skipped: {named}{more}."
    )
    keep = ~outside
    kept = replace(
        points, user=points.user[keep], t=points.t[keep], lon=points.lon[keep], lat=points.lat[keep]
    )
    return kept, x[keep], y[keep]


def fixes(points: Points, x: np.ndarray, y: np.ndarray, seq: Resampled) -> Fixes:
    """The raw fixes of the users kept in ``seq`` (user = index into ``seq.user_ids``),
    sorted and de-duplicated as for resampling: the truths of the forecast evaluation."""
    from urbansig.models.raw.evaluate import Fixes

    user, t, fx, fy, _ = sort_and_dedupe(points.user, points.t, x, y)
    kept = np.searchsorted(points.user_ids, seq.user_ids)  # points.user_ids are sorted
    remap = np.full(len(points.user_ids), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    keep = remap[user] >= 0
    return Fixes(remap[user[keep]], t[keep], fx[keep], fy[keep])
