"""GPS trajectories from CSV, GeoLife ``.plt`` folders or GeoPackage points, cleaned:
sorted per user and time, exact duplicates and repeated timestamps removed, and points
implying an impossible speed from the previous kept point dropped."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from urbansig.io.report import ReadReport
from urbansig.protocol import BadInput

LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
PLT_HEADER_LINES = 6
PLT_COLUMNS = ["lat", "lon", "zero", "alt", "days", "date", "clock"]
EARTH_RADIUS_KM = 6371.0088
TABLE_SUFFIXES = (".csv", ".txt", ".tsv")


def trajectory_parameter(path: str | Path) -> str:
    """The parameter that gives trajectories like ``path``: a folder is GEOLIFE_FOLDER, a
    table TRAJECTORIES, anything else TRAJECTORY_LAYER."""
    path = Path(path)
    if path.is_dir() or not (path.suffix or path.exists()):
        return "GEOLIFE_FOLDER"
    return "TRAJECTORIES" if path.suffix.lower() in TABLE_SUFFIXES else "TRAJECTORY_LAYER"


def read_trajectories(
    path: Path,
    user_field: str = "user_id",
    time_field: str = "timestamp",
    max_speed_kmh: float = 300.0,
    assume_tz: str = "UTC",
) -> tuple[pd.DataFrame, ReadReport]:
    """Points (user_id str, time UTC, lon, lat WGS 84) sorted by user then time, cleaned.

    ``path`` is a CSV, a GeoLife root (``<user>/Trajectory/*.plt``, user = folder name) or
    a GeoPackage of points. Timestamps without a time zone are read in ``assume_tz``.
    Messages name the parameter of :func:`trajectory_parameter`.
    """
    path = Path(path)
    name = trajectory_parameter(path)
    if max_speed_kmh is not None and not max_speed_kmh > 0:
        raise BadInput(f"MAX_SPEED must be positive (km/h), not {max_speed_kmh!r}.")
    report = ReadReport()
    if path.is_dir():
        raw = _read_geolife(path, report, name)
        report.notes.append(
            f"GeoLife times have no time zone; read as {assume_tz} (GeoLife states GMT)"
        )
    elif not path.is_file():
        raise BadInput(f"{name}: {path} does not exist.")
    elif name == "TRAJECTORIES":
        raw = _read_csv(path, user_field, time_field, report)
    else:
        raw = _read_points(path, user_field, time_field, report)
    frame = _finish(raw, assume_tz, report, name)
    frame = clean_trajectories(frame, max_speed_kmh, report)
    report.count("points", len(frame))
    report.count("users", frame["user_id"].nunique())
    return frame, report


def _find(columns: list[str], names: tuple[str, ...], path: Path, what: str) -> str:
    lower = {c.lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    raise BadInput(
        f"TRAJECTORIES: {path} has no {what} column (looked for {', '.join(names)}); columns are "
        f"{', '.join(columns)}."
    )


def _read_csv(path: Path, user_field: str, time_field: str, report: ReadReport) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        header = list(pd.read_csv(path, sep=sep, nrows=0).columns)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BadInput(f"TRAJECTORIES: cannot read the header of {path} ({exc}).") from exc
    for field, label in ((user_field, "USER_FIELD"), (time_field, "TIME_FIELD")):
        if field not in header:
            raise BadInput(
                f"{label}: {path} has no column {field!r}; columns are {', '.join(header)}. "
                f"Name the column in {label}, or check {trajectory_parameter(path)}."
            )
    lon = _find(header, LON_NAMES, path, "longitude")
    lat = _find(header, LAT_NAMES, path, "latitude")
    try:
        frame = pd.read_csv(
            path, sep=sep, usecols=[user_field, time_field, lon, lat], dtype={user_field: str}
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise BadInput(f"TRAJECTORIES: cannot read {path} ({exc}).") from exc
    report.files_read = 1
    report.bytes_read = path.stat().st_size
    report.lines_read = len(frame)
    out = pd.DataFrame(
        {
            "user_id": frame[user_field],
            "time": frame[time_field],
            "lon": frame[lon],
            "lat": frame[lat],
            "_where": np.arange(2, len(frame) + 2),
        }
    )
    out.attrs["source"] = str(path)
    return out


def _read_plt(path: Path) -> tuple[pd.DataFrame, int]:
    """One GeoLife file (slow path): (lat, lon, ..., date, clock columns, bad lines)."""
    bad: list[list[str]] = []
    try:
        frame = pd.read_csv(
            path,
            skiprows=PLT_HEADER_LINES,
            header=None,
            names=PLT_COLUMNS,
            engine="python",
            skip_blank_lines=False,
            on_bad_lines=lambda line: bad.append(line),
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=PLT_COLUMNS)
    return frame, len(bad)


def _plt_body(path: Path, name: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name}: cannot read {path} ({exc.strerror or exc}).") from exc
    if not data[:40].lower().startswith(b"geolife trajectory"):
        raise BadInput(
            f"{name}: {path} is not a GeoLife .plt file (its first line should be 'Geolife "
            "trajectory', then 5 more header lines and lat,lon,0,altitude,days,date,time)."
        )
    parts = data.split(b"\n", PLT_HEADER_LINES)
    body = parts[PLT_HEADER_LINES] if len(parts) > PLT_HEADER_LINES else b""
    body = body.rstrip(b"\r\n")
    return body + b"\n" if body else b""


def _plt_files(root: Path) -> list[Path]:
    """The .plt files under ``root``, sorted, through linked folders too (each folder once)."""
    seen: set[str] = set()
    files: list[Path] = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree, or a second link to one folder
            subfolders.clear()
            continue
        seen.add(real)
        files += [Path(folder, n) for n in names if n.endswith(".plt")]
    return sorted(files)


def _read_geolife(root: Path, report: ReadReport, name: str) -> pd.DataFrame:
    """All .plt files under ``root`` parsed as one table (one C parse), or file by file
    when some line has a wrong number of fields."""
    files = _plt_files(root)
    if not files:
        raise BadInput(
            f"{name}: {root} holds no .plt files (a GeoLife folder has <user>/Trajectory/*.plt)."
        )
    bodies = [_plt_body(path, name) for path in files]
    counts = np.array([b.count(b"\n") for b in bodies])
    report.files_read = len(files)
    report.bytes_read = sum(path.stat().st_size for path in files)
    try:
        frame = pd.read_csv(
            io.BytesIO(b"".join(bodies)), header=None, names=PLT_COLUMNS, skip_blank_lines=False
        )
        if len(frame) != counts.sum():
            raise ValueError("line count mismatch")
    except (ValueError, pd.errors.ParserError):
        parts = []
        counts = np.zeros(len(files), dtype=np.int64)
        for k, path in enumerate(files):
            part, bad = _read_plt(path)
            if bad:
                report.malformed_lines += bad
                report.lines_read += bad
                report.problem(f"{path}: {bad} lines with a wrong number of fields (skipped)")
            counts[k] = len(part)
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
    report.lines_read += len(frame)
    users = [
        p.parent.parent.name if p.parent.name == "Trajectory" else p.parent.name for p in files
    ]
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    stamp = frame["date"].astype(str) + " " + frame["clock"].astype(str)
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.array(users, dtype=object), counts),
            "time": stamp.where(frame["date"].notna() & frame["clock"].notna()),
            "lon": frame["lon"],
            "lat": frame["lat"],
            "_where": np.arange(len(frame)) - offsets + PLT_HEADER_LINES + 1,
            "_file": np.repeat(np.array([str(p) for p in files], dtype=object), counts),
        }
    )


def _read_points(path: Path, user_field: str, time_field: str, report: ReadReport) -> pd.DataFrame:
    from urbansig.io.vector import read_layer

    layer = read_layer(path, name="TRAJECTORY_LAYER")
    for field, label in ((user_field, "USER_FIELD"), (time_field, "TIME_FIELD")):
        if field not in layer.columns:
            raise BadInput(
                f"{label}: {path} has no field {field!r}; fields are "
                f"{', '.join(c for c in layer.columns if c != 'geometry')}."
            )
    kinds = set(layer.geom_type.dropna().unique())
    if kinds - {"Point"}:
        raise BadInput(
            f"TRAJECTORY_LAYER: {path} must hold points, not {', '.join(sorted(kinds))}."
        )
    layer = layer.to_crs("EPSG:4326")
    report.files_read = 1
    report.bytes_read = path.stat().st_size
    report.lines_read = len(layer)
    empty = layer.geometry.isna() | layer.geometry.is_empty
    return pd.DataFrame(
        {
            "user_id": layer[user_field].astype(str),
            "time": layer[time_field],
            "lon": np.where(empty, np.nan, layer.geometry.x.where(~empty)),
            "lat": np.where(empty, np.nan, layer.geometry.y.where(~empty)),
            "_where": np.arange(1, len(layer) + 1),
        }
    )


def _to_utc(values: pd.Series, assume_tz: str, report: ReadReport) -> pd.Series:
    """Timestamps as datetime64[ns, UTC]: aware ones converted, naive ones in assume_tz,
    numbers as Unix seconds (or milliseconds when above 1e11)."""
    if pd.api.types.is_numeric_dtype(values):
        unit: Literal["ms", "s"] = "ms" if values.abs().max() > 1e11 else "s"
        report.notes.append(f"numeric times read as Unix epoch {unit} (UTC)")
        return pd.to_datetime(values, unit=unit, utc=True, errors="coerce")
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601", errors="coerce")
        except (ValueError, TypeError):
            report.notes.append(
                "times with mixed UTC offsets were converted to UTC (any time without an "
                "offset among them was read as UTC)"
            )
            return pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
    if values.dt.tz is not None:
        return values.dt.tz_convert("UTC")
    try:
        local = values.dt.tz_localize(assume_tz, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:  # noqa: BLE001 - unknown zone names raise several types
        raise BadInput(f"ASSUME_TZ: {assume_tz!r} is not a time zone name ({exc}).") from exc
    report.notes.append(f"timestamps without a time zone were read as {assume_tz}")
    return local.dt.tz_convert("UTC")


def _finish(raw: pd.DataFrame, assume_tz: str, report: ReadReport, name: str) -> pd.DataFrame:
    """Typed columns; rows with a bad time or position counted, named and dropped."""
    times = _to_utc(raw["time"], assume_tz, report)
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(dtype=np.float64)
    user = raw["user_id"]
    bad = times.isna().to_numpy() | ~(np.abs(lon) <= 180) | ~(np.abs(lat) <= 90)
    bad |= user.isna().to_numpy()
    if bad.any():
        report.malformed_lines += int(bad.sum())
        source = (
            raw["_file"]
            if "_file" in raw
            else pd.Series(raw.attrs.get("source", "input"), index=raw.index)
        )
        for i in np.flatnonzero(bad)[:20]:
            report.problem(
                f"{source.iloc[i]}, line {raw['_where'].iloc[i]}: bad time, longitude or "
                "latitude (point skipped)"
            )
    if not (~bad).any():
        raise BadInput(f"{name}: no valid point (every row has a bad time or position).")
    keep = ~bad
    return pd.DataFrame(
        {
            "user_id": user[keep].astype(str).to_numpy(),
            "time": times[keep].astype("datetime64[ns, UTC]").reset_index(drop=True),
            "lon": lon[keep],
            "lat": lat[keep],
        }
    )


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km (arrays in degrees)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _haversine_scalar(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def clean_trajectories(
    frame: pd.DataFrame, max_speed_kmh: float | None, report: ReadReport
) -> pd.DataFrame:
    """Sort by user then time; drop exact duplicates, then repeated (user, time) keeping the
    first; then drop points implying more than ``max_speed_kmh`` from the previous kept one."""
    frame = frame.sort_values(["user_id", "time"], kind="mergesort").reset_index(drop=True)
    dup = frame.duplicated(["user_id", "time", "lon", "lat"])
    report.count("duplicates_removed", int(dup.sum()))
    frame = frame[~dup.to_numpy()]
    same_time = frame.duplicated(["user_id", "time"])
    report.count("repeated_timestamps_removed", int(same_time.sum()))
    if same_time.any():
        report.notes.append("points repeating a user's timestamp at another position: first kept")
    frame = frame[~same_time.to_numpy()].reset_index(drop=True)
    if max_speed_kmh is None or len(frame) < 2:
        report.count("speed_outliers_removed", 0)
        return frame
    keep = _speed_filter(frame, float(max_speed_kmh))
    report.count("speed_outliers_removed", int((~keep).sum()))
    if not keep.all():
        share = pd.Series(~keep).groupby(frame["user_id"].to_numpy()).mean()
        for user, fraction in share[share > 0.5].items():
            report.problem(
                f"user {user}: {fraction:.0%} of the points exceed MAX_SPEED from the previous "
                "kept point (is the first point an outlier, or MAX_SPEED too low?)"
            )
    return frame[keep].reset_index(drop=True)


def _speed_filter(frame: pd.DataFrame, max_speed_kmh: float) -> np.ndarray:
    """Keep mask: a point is dropped if its speed from the previous kept point is too high."""
    users = frame["user_id"].to_numpy()
    seconds = (frame["time"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    lon, lat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    hours = np.diff(seconds) / 3600.0
    speed = haversine_km(lon[:-1], lat[:-1], lon[1:], lat[1:]) / np.maximum(hours, 1e-12)
    same_user = users[1:] == users[:-1]
    fast = np.zeros(len(frame), dtype=bool)
    fast[1:] = same_user & (speed > max_speed_kmh)
    keep = np.ones(len(frame), dtype=bool)
    if not fast.any():
        return keep
    # Exact sequential pass; between suspicious steps whose predecessor is kept every point
    # is kept, so the loop jumps from one suspicious step to the next.
    flagged = np.flatnonzero(fast)
    user_end = np.r_[np.flatnonzero(~same_user) + 1, len(frame)]
    k = 0
    while k < flagged.size:
        i = int(flagged[k])
        end = int(user_end[np.searchsorted(user_end, i, side="right")])
        last = i - 1
        while i < end:
            dist = _haversine_scalar(lon[last], lat[last], lon[i], lat[i])
            if dist / max((seconds[i] - seconds[last]) / 3600.0, 1e-12) > max_speed_kmh:
                keep[i] = False
            else:
                last = i
                nxt = np.searchsorted(flagged, i + 1)
                if nxt >= flagged.size or flagged[nxt] >= end:
                    break
                i = int(flagged[nxt])
                if i - 1 > last:
                    last = i - 1
                continue
            i += 1
        k = int(np.searchsorted(flagged, end))
    return keep


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
    frame, report = read_trajectories(
        Path(path), user_field=user_field, time_field=time_field, assume_tz=assume_tz
    )
    name = trajectory_parameter(path)
    for problem in report.problems[:20]:
        events.warning(f"{name}: {problem}")
    for note in report.notes:  # the reader's assumptions, e.g. the time zone of naive times
        events.warning(f"{name}: {note}")
    events.log(f"{name}: {report.summary()}")
    if frame.empty:
        raise BadInput(f"{name}: {path} holds no usable trajectory points.")
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
