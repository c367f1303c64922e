"""Tables: origin-destination flows and long traffic tables (tile_id, timestamp, service,
value), from CSV (streamed in chunks) or Parquet (with pyarrow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from urbansig.io.profiles import (
    ProfileAccumulator,
    TrafficProfiles,
    check_layout,
    unobserved_problem,
)
from urbansig.io.report import ReadReport
from urbansig.protocol import BadInput

COUNT_CANDIDATES = ("count", "flow", "trips", "value")
TRAFFIC_COLUMNS = ("tile_id", "timestamp", "service", "value")
CHUNK_ROWS = 1_000_000


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _check_file(path: Path, name: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{name}: {path} does not exist or is not a file.")
    return path


def read_table(
    path: Path, name: str = "INPUT", columns: list[str] | None = None, dtype: dict | None = None
) -> pd.DataFrame:
    """Read a whole CSV/TSV/Parquet table; errors name the parameter and the file."""
    path = _check_file(path, name)
    try:
        if _is_parquet(path):
            frame = pd.read_parquet(path, columns=columns, engine="pyarrow")
            return frame.astype(dtype) if dtype else frame
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pd.read_csv(path, sep=sep, usecols=columns, dtype=dtype)
    except BadInput:
        raise
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise BadInput(f"{name}: cannot read {path} as a table ({exc}).") from exc


def _chunks(path: Path, columns: list[str], dtype: dict | None = None) -> Iterator[pd.DataFrame]:
    """Stream a table in chunks of CHUNK_ROWS rows (with a ``_line`` column for CSV)."""
    if _is_parquet(path):
        start = 0
        for batch in pq.ParquetFile(path).iter_batches(CHUNK_ROWS, columns=columns):
            frame = batch.to_pandas()
            frame["_line"] = np.arange(start, start + len(frame)) + 1
            start += len(frame)
            yield frame
        return
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    start = 2  # line 1 is the header
    reader = pd.read_csv(path, sep=sep, usecols=columns, dtype=dtype, chunksize=CHUNK_ROWS)
    for frame in reader:
        frame["_line"] = np.arange(start, start + len(frame))
        start += len(frame)
        yield frame


def _header(path: Path, name: str) -> list[str]:
    try:
        if _is_parquet(path):
            return list(pq.read_schema(path).names)
        return list(
            pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", nrows=0).columns
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise BadInput(f"{name}: cannot read the header of {path} ({exc}).") from exc


def read_od(
    path: Path, origin: str = "origin", destination: str = "destination", count: str | None = None
) -> pd.DataFrame:
    """Origin-destination flows: columns origin, destination (str) and count (float), plus
    ``time_slot`` when the table has one. ``count`` is found among count/flow/trips/value."""
    path = _check_file(path, "OD")
    header = _header(path, "OD")
    lower = {c.lower(): c for c in header}
    if count is None:
        count = next((lower[c] for c in COUNT_CANDIDATES if c in lower), None)
        if count is None:
            raise BadInput(
                f"OD: {path}: no count column (looked for {', '.join(COUNT_CANDIDATES)}); "
                f"columns are {', '.join(header)}. Name it with the COUNT parameter."
            )
    missing = [c for c in (origin, destination, count) if c not in header]
    if missing:
        raise BadInput(f"{path}: no column {', '.join(missing)}; columns are {', '.join(header)}.")
    extra = [c for c in ("time_slot",) if c in header and c not in (origin, destination, count)]
    frame = read_table(
        path, columns=[origin, destination, count, *extra], dtype={origin: str, destination: str}
    )
    lines = np.arange(len(frame)) + (1 if _is_parquet(path) else 2)
    for column in (origin, destination):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            raise BadInput(f"{path}, line {lines[empty.to_numpy()][0]}: empty {column}.")
    values = pd.to_numeric(frame[count], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(
            f"{path}, line {lines[i]}: {count} {frame[count].iloc[i]!r} is not a "
            "non-negative number."
        )
    out = pd.DataFrame(
        {
            "origin": frame[origin].astype(str).str.strip().to_numpy(),
            "destination": frame[destination].astype(str).str.strip().to_numpy(),
            "count": values.astype(np.float64).to_numpy(),
        }
    )
    for column in extra:
        out[column] = frame[column].to_numpy()
    return out


def _timestamps(values: pd.Series) -> tuple[pd.Series, bool]:
    """Parse ISO timestamps; aware ones become local wall time. (times, had_time_zone)."""
    try:
        times = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):
        times = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
    aware = getattr(times.dt, "tz", None) is not None
    if aware:
        times = times.dt.tz_localize(None)
    return times, aware


def read_traffic_table(
    path: Path, layout: str = "weekly_hourly", services: list[str] | None = None
) -> TrafficProfiles:
    """Per-tile profiles from a long table (tile_id, timestamp, service, value).

    Streamed in chunks. Each step is the sum of the values in that slot divided by the
    number of distinct days of the table that contain the slot's weekday (rows absent from
    a sparse table count as zero). Bad rows are counted and named (line numbers).
    """
    days_in_profile, per_day = check_layout(layout)
    path = _check_file(path, "TRAFFIC_TABLE")
    header = _header(path, "TRAFFIC_TABLE")
    missing = [c for c in TRAFFIC_COLUMNS if c not in header]
    if missing:
        raise BadInput(
            f"TRAFFIC_TABLE: {path}: a traffic table needs columns {', '.join(TRAFFIC_COLUMNS)}; missing "
            f"{', '.join(missing)} (columns are {', '.join(header)})."
        )
    columns = list(TRAFFIC_COLUMNS)
    dtype = {"service": str}
    if services:
        chosen = list(dict.fromkeys(services))
    else:
        seen: set[str] = set()
        for chunk in _chunks(path, ["service"], dtype):
            seen.update(chunk["service"].dropna().unique())
        chosen = sorted(seen)
        if not chosen:
            raise BadInput(f"{path} has no rows.")
    lookup = pd.Index(chosen)
    report = ReadReport(files_read=1, bytes_read=path.stat().st_size)
    acc = ProfileAccumulator(1, len(chosen), days_in_profile * per_day)
    dates: set[int] = set()
    aware_any = False
    used: set[int] = set()
    for chunk in _chunks(path, columns, dtype):
        report.lines_read += len(chunk)
        times, aware = _timestamps(chunk["timestamp"])
        aware_any |= aware
        tiles = pd.to_numeric(chunk["tile_id"], errors="coerce")
        values = pd.to_numeric(chunk["value"], errors="coerce")
        bad = np.array(times.isna() | tiles.isna() | values.isna() | (values < 0), dtype=bool)
        bad |= chunk["service"].isna().to_numpy()
        if tiles.notna().any():
            bad |= (tiles.fillna(0) % 1 != 0).to_numpy()
        if bad.any():
            report.malformed_lines += int(bad.sum())
            for line in chunk["_line"].to_numpy()[bad][:20]:
                report.problem(f"{path}, line {line}: bad tile_id, timestamp, service or value")
        service_idx = lookup.get_indexer(pd.Index(chunk["service"]))
        keep = ~bad & (service_idx >= 0)
        used.update(np.unique(service_idx[keep]).tolist())
        if not keep.any():
            continue
        t = times[keep]
        day = t.dt.normalize()
        dates.update((day.to_numpy().astype("datetime64[D]").astype(np.int64)).tolist())
        slot = (t.dt.hour * 4 + t.dt.minute // 15).to_numpy() // (96 // per_day)
        weekday = t.dt.day_of_week.to_numpy() if days_in_profile == 7 else 0
        steps = weekday * per_day + slot
        acc.add_points(
            0,
            service_idx[keep],
            tiles[keep].to_numpy(dtype=np.int64),
            steps,
            values[keep].to_numpy(dtype=np.float64),
        )
    for i, service in enumerate(chosen):
        if i not in used:
            report.problem(f"{path}: no rows for service {service!r} (its profiles are 0)")
    divisor = np.zeros(days_in_profile * per_day, dtype=np.float64)
    for day_number in dates:
        weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday
        base = weekday * per_day if days_in_profile == 7 else 0
        divisor[base : base + per_day] += 1
    if acc.n == 0:
        raise BadInput(f"{path}: no valid row for the selected services ({', '.join(chosen)}).")
    tile_ids, profile_values, unobserved = acc.result(divisor)
    if aware_any:
        report.notes.append("time zone-aware timestamps were read as local wall-clock time")
    else:
        report.notes.append("timestamps without a time zone were read as local wall-clock time")
    if unobserved.size:
        report.problem(unobserved_problem(layout, unobserved))
    return TrafficProfiles(tile_ids, chosen, profile_values, layout, report)
