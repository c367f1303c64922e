"""The geo side of the RAW jobs: reading and projecting trajectories, fixed-step sequences,
regions, user tables and labels. Geo libraries are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from urbansig.models.raw.sequences import (
    CleanReport,
    Resampled,
    drop_short_users,
    resample,
    solar_utc_offset_s,
    sort_and_dedupe,
    utm_crs,
)
from urbansig.protocol import BadInput


@dataclass
class Points:
    """Trajectory points of the kept users, sorted by user then time."""

    user: np.ndarray  # int64 index into user_ids
    user_ids: np.ndarray  # object
    t: np.ndarray  # int64 seconds since epoch (UTC)
    lon: np.ndarray
    lat: np.ndarray


def read_points(
    path: str, user_field: str, time_field: str, assume_tz: str, events
) -> tuple[Points, int]:
    """Trajectory points through the shared reader; returns them and the raw point count."""
    from urbansig.io.trajectories import read_trajectories

    frame, report = read_trajectories(
        Path(path), user_field=user_field, time_field=time_field, assume_tz=assume_tz
    )
    for problem in report.problems[:20]:
        events.warning(f"TRAJECTORIES: {problem}")
    for note in report.notes:  # the reader's assumptions, e.g. the time zone of naive times
        events.warning(f"TRAJECTORIES: {note}")
    events.log(f"TRAJECTORIES: {report.summary()}")
    if frame.empty:
        raise BadInput(f"TRAJECTORIES: {path} holds no usable trajectory points.")
    codes, ids = np.unique(frame["user_id"].astype(str).to_numpy(), return_inverse=True)
    naive_utc = frame["time"].dt.tz_convert("UTC").dt.tz_localize(None)
    t = naive_utc.to_numpy().astype("datetime64[s]").astype(np.int64)
    points = Points(
        ids.astype(np.int64).ravel(),
        codes.astype(object),
        t,
        frame["lon"].to_numpy(np.float64),
        frame["lat"].to_numpy(np.float64),
    )
    return points, len(frame)


def choose_crs(regions_crs, lon: np.ndarray, lat: np.ndarray) -> str:
    """The regions' CRS when projected in metres, else the UTM zone of the data's centre."""
    if regions_crs is not None and regions_crs.is_projected:
        units = {a.unit_name for a in regions_crs.axis_info}
        if units <= {"metre", "meter"}:
            return regions_crs.to_string()
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


def read_labels(path: str, field: str, user_ids: np.ndarray) -> np.ndarray:
    """Labels (as strings, '' where unknown) of ``user_ids`` from a table with user_id + field."""
    import pandas as pd

    if not field:
        raise BadInput("LABEL_FIELD: give the field of USER_LABELS that holds the user labels.")
    if str(path).lower().endswith((".csv", ".txt")):
        try:
            table = pd.read_csv(path, dtype={"user_id": str})
        except Exception as exc:  # noqa: BLE001 - any unreadable table
            raise BadInput(f"USER_LABELS: cannot read {path} ({exc}).") from exc
    else:
        from urbansig.io.vector import read_layer

        table = read_layer(path, "USER_LABELS")
    if "user_id" not in table.columns:
        raise BadInput(f"USER_LABELS: {path} has no user_id column.")
    if field not in table.columns:
        raise BadInput(
            f"LABEL_FIELD: {field!r} is not a field of USER_LABELS "
            f"(fields: {', '.join(map(str, table.columns))})."
        )
    mapping = dict(zip(table["user_id"].astype(str), table[field].astype(str)))
    return np.array([mapping.get(str(u), "") for u in user_ids], dtype=object)


def write_table(frame, path: str) -> Path:
    """A user table: CSV, or a GeoPackage table without geometry, written atomically."""
    from urbansig.io.atomic import atomic_path

    target = Path(path)
    suffix = target.suffix.lower()
    with atomic_path(target) as tmp:
        if suffix == ".gpkg":
            import pyogrio

            pyogrio.write_dataframe(frame, tmp, layer=target.stem, driver="GPKG")
        else:
            frame.to_csv(tmp, index=False)
    return target


def read_regions(path: str):
    from urbansig.io.vector import read_layer

    regions = read_layer(path, "REGIONS")
    if regions.empty:
        raise BadInput(f"REGIONS: {path} has no features.")
    kinds = set(regions.geometry.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise BadInput(f"REGIONS must be a polygon layer; {path} holds {sorted(kinds)}.")
    return regions.reset_index(drop=True)
