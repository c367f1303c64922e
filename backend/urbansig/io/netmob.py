"""NetMob 2023 traffic folders: catalog, streaming parallel reader, tile geometry.

Layout (../shared/NETMOB23-FORMAT.md): ``{root}/{City}/{Service}/{YYYYMMDD}/
{City}_{Service}_{YYYYMMDD}_{DL|UL}.txt``, space separated, no header, ``tile_id`` then 96
quarter-hour values (92 on the spring daylight-saving day, 02:00-02:45 missing). Files are
parsed in threads, one file per thread (pyarrow's CSV reader, which releases the GIL), each
reduced to per-tile steps of the requested layout, and summed into per-tile accumulators:
memory does not grow with days.

A file cut short (a copy or download that stopped) is reported, named, with the number of
tiles it lacks compared with the tile set of its sibling files; the read goes on and those
tiles count as absent from that file, like any tile a file does not list.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from urbansig.io.profiles import (
    LAYOUTS,
    ProfileAccumulator,
    TrafficProfiles,
    check_layout,
    day_offset,
    unobserved_problem,
)
from urbansig.io.report import MAX_PROBLEMS, ReadReport
from urbansig.protocol import BadInput

__all__ = [
    "ReadReport",
    "TrafficProfiles",
    "LAYOUTS",
    "netmob_catalog",
    "read_netmob_profiles",
    "read_netmob_tiles",
    "read_traffic_table",
    "dst_day",
]

DIRECTIONS = ("DL", "UL")
_DAY = re.compile(r"^\d{8}$")
_FIRST_LINE = re.compile(rb"\s*([^\r\n]*)")
_MISSING_DST = np.arange(8, 12)  # 02:00, 02:15, 02:30, 02:45
# A file lacking more than this share of the tile set (and at least CUT_SHORT_MIN tiles)
# is reported as cut short; files normally lack a few tiles here and there.
CUT_SHORT_SHARE = 0.01
CUT_SHORT_MIN = 10


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def idle_cpus() -> int:
    """CPUs not busy with other work: CPU count + 1 - the 1-minute load average, within
    1..CPU count (on a saturated machine more threads only take CPU from the others)."""
    cpus = _cpu_count()
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return cpus
    return max(1, min(cpus, cpus + 1 - int(load)))


def dst_day(day: dt.date) -> bool:
    """True on the spring daylight-saving day in France (last Sunday of March)."""
    return day.month == 3 and day.weekday() == 6 and day.day + 7 > 31


def _city_dir(root: Path, city: str) -> Path:
    root = Path(root)
    if (root / city).is_dir():
        return root / city
    if root.name == city and root.is_dir():
        return root
    raise BadInput(
        f"TRAFFIC_FOLDER: no folder {root / city}: a NetMob root holds one folder per city "
        f"({root}/{city}/<Service>/<YYYYMMDD>/...). Check the folder and the CITY name."
    )


def _visible(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if not p.name.startswith("."))


def netmob_catalog(root: Path, city: str) -> tuple[list[str], list[dt.date]]:
    """Services (sub-folders of the city) and days (union of their day folders), sorted."""
    city_dir = _city_dir(root, city)
    services: list[str] = []
    days: set[dt.date] = set()
    for service_dir in _visible(city_dir):
        if not service_dir.is_dir():
            continue
        services.append(service_dir.name)
        for day_dir in _visible(service_dir):
            days.add(_parse_day(day_dir))
    if not services:
        raise BadInput(f"{city_dir} holds no service folders (expected <Service>/<YYYYMMDD>/).")
    return services, sorted(days)


def _parse_day(day_dir: Path) -> dt.date:
    if not _DAY.match(day_dir.name) or not day_dir.is_dir():
        raise BadInput(
            f"{day_dir} is not a day folder: NetMob service folders hold only YYYYMMDD "
            "folders. Move it out of the dataset."
        )
    try:
        return dt.datetime.strptime(day_dir.name, "%Y%m%d").date()
    except ValueError as exc:
        raise BadInput(f"{day_dir}: {day_dir.name} is not a valid date ({exc}).") from exc


def _as_date(value: Any, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadInput(f"{name} must be a date (YYYY-MM-DD), not {value!r}.") from exc


def _check_day_folder(day_dir: Path, city: str, service: str, day: str) -> None:
    """BadInput for any file in a day folder whose name is not a NetMob file name."""
    expected = {f"{city}_{service}_{day}_{d}.txt" for d in DIRECTIONS}
    for path in _visible(day_dir):
        if path.name not in expected:
            raise BadInput(
                f"{path}: unexpected file name; NetMob files are named "
                f"{city}_{service}_{day}_DL.txt or _UL.txt. Move it out of the dataset."
            )


def _plan(
    root: Path,
    city: str,
    services: list[str] | None,
    direction: str,
    start: Any,
    end: Any,
    report: ReadReport,
) -> tuple[list[str], list[str], list[tuple[Path, int, int, dt.date]]]:
    """Selected services, directions and the files to read (path, dir, service, day)."""
    all_services, all_days = netmob_catalog(root, city)
    city_dir = _city_dir(root, city)
    if services:
        unknown = [s for s in services if s not in all_services]
        if unknown:
            raise BadInput(
                f"SERVICES: {', '.join(unknown)} not found under {city_dir}; available: "
                f"{', '.join(all_services)}."
            )
        chosen = list(dict.fromkeys(services))
    else:
        chosen = all_services
    key = str(direction).strip().upper()
    if key not in ("DL", "UL", "BOTH"):
        raise BadInput(f"DIRECTION must be DL, UL or both, not {direction!r}.")
    dirs = list(DIRECTIONS) if key == "BOTH" else [key]
    first, last = _as_date(start, "START"), _as_date(end, "END")
    if first and last and first > last:
        raise BadInput(f"START ({first}) is after END ({last}).")
    days = [d for d in all_days if (first is None or d >= first) and (last is None or d <= last)]
    if not days:
        raise BadInput(
            f"No day between START {first} and END {last} under {city_dir}; the data covers "
            f"{all_days[0]} to {all_days[-1]}."
            if all_days
            else f"No day folders under {city_dir}."
        )
    files = []
    for s, service in enumerate(chosen):
        for day in days:
            stamp = day.strftime("%Y%m%d")
            day_dir = city_dir / service / stamp
            if day_dir.is_dir():
                _check_day_folder(day_dir, city, service, stamp)
            for d, side in enumerate(dirs):
                path = day_dir / f"{city}_{service}_{stamp}_{side}.txt"
                if path.is_file():
                    files.append((path, d, s, day))
                else:
                    report.files_missing += 1
                    report.problem(f"missing file: {path}")
    return chosen, dirs, files


def read_netmob_profiles(
    root: Path,
    city: str,
    services: list[str] | None = None,
    direction: str = "both",
    start: dt.date | None = None,
    end: dt.date | None = None,
    layout: str = "weekly_hourly",
    workers: int | None = None,
    events: Any = None,
    scheduler: str | None = None,
) -> TrafficProfiles:
    """Stream a NetMob city folder into per-tile profiles (mean per step over the days read).

    Files are parsed in ``workers`` threads, one file per thread, at most 2 x ``workers``
    files in flight (default: the idle CPUs, see ``idle_cpus``; 1 parses in the calling
    thread), or with ``scheduler`` on a Dask cluster (``local``: a LocalCluster of
    ``workers`` processes; an address: a running scheduler; see ``netmob_dask``); missing
    files and malformed lines are counted in the report; a file with a bad name or layout is
    a BadInput naming it.
    ``start`` and ``end`` (dates or ISO strings) are inclusive.

    A file cut short is not an error: it ends inside a line (no line end, too few fields or
    an unfinished last value), or it lacks more than CUT_SHORT_SHARE of the tiles its sibling
    files list (on a line boundary). Its tiles read are used, the rest count as absent from
    it (no observation that day, like any tile a file omits), and the report lists each such
    file first among its problems, with the number of tiles missing (count
    ``files_cut_short``).
    """
    days_in_profile, per_day = check_layout(layout)
    report = ReadReport()
    chosen, dirs, files = _plan(Path(root), city, services, direction, start, end, report)
    if not files:
        raise BadInput(
            f"All {report.files_missing} NetMob files of the selection are missing for {city} "
            f"(e.g. {report.problems[0].removeprefix('missing file: ')}). Check SERVICES, "
            "DIRECTION and the day range."
        )
    acc = ProfileAccumulator(len(dirs), len(chosen), days_in_profile * per_day)
    sizes: list[tuple[Path, int, str | None]] = []  # per file: tiles read, line cut short
    parsed = _parse_all(files, per_day, workers, events, report, scheduler)
    for n_done, (job, result) in enumerate(parsed, 1):
        path, d, s, day = job
        _merge(result, report)
        sizes.append((path, len(result["tile_ids"]), result["cut"]))
        observed = np.ones(per_day, dtype=bool)
        if result["n_values"] == 92:
            quarter_seen = np.ones(96, dtype=bool)
            quarter_seen[_MISSING_DST] = False
            observed = np.asarray(quarter_seen.reshape(per_day, -1).all(axis=1))
        acc.add_block(d, s, result["tile_ids"], result["values"], day_offset(layout, day), observed)
        if events is not None:
            events.progress(n_done / len(files), f"read {path.name}")
    tile_ids, values, unobserved = acc.result()
    _report_cut_short(_cut_short_problems(sizes, len(tile_ids)), report)
    if unobserved.size:
        report.problem(unobserved_problem(layout, unobserved))
    report.notes.append(
        f"{layout}: each step is the mean over the days read of the traffic in that slot"
        + (" (DL + UL)" if len(dirs) == 2 else f" ({dirs[0]})")
    )
    return TrafficProfiles(tile_ids, chosen, values, layout, report)


def _cut_short_problems(sizes: list[tuple[Path, int, str | None]], n_tiles: int) -> list[str]:
    """A problem per file cut short, from (path, tiles read, line cut or None) per file and
    the number of tiles of all the files read together."""
    tolerance = max(CUT_SHORT_MIN, CUT_SHORT_SHARE * n_tiles)
    problems = []
    for path, n_read, cut in sizes:
        missing = n_tiles - n_read
        if cut is None and missing <= tolerance:
            continue
        where = f"it ends in the middle of {cut} and " if cut else "it "
        problems.append(
            f"{path} is cut short: {where}lacks {missing} of the {n_tiles} tiles its sibling "
            "files list (a copy or download that stopped?). Those tiles count as absent from "
            "it; copy or download the file again for complete profiles."
        )
    return problems


def _report_cut_short(problems: list[str], report: ReadReport) -> None:
    """Put the cut-short files first among the report's problems (within MAX_PROBLEMS)."""
    if not problems:
        return
    report.count("files_cut_short", len(problems))
    merged = [*problems, *report.problems]
    report.problems = merged[:MAX_PROBLEMS]
    report.problems_dropped += len(merged) - len(report.problems)


def _merge(result: dict[str, Any], report: ReadReport) -> None:
    report.files_read += 1
    report.bytes_read += result["bytes"]
    report.lines_read += result["lines"]
    report.malformed_lines += result["malformed"]
    for message in result["problems"]:
        report.problem(message)


def _parse_all(
    files: list[tuple[Path, int, int, dt.date]],
    per_day: int,
    workers: int | None,
    events: Any,
    report: ReadReport,
    scheduler: str | None = None,
):
    """Yield (job, parsed file) in file order, parsing a window of 2 x ``workers`` files in
    ``workers`` threads (arrow's parser and numpy's sums release the GIL), or on Dask."""
    workers = min(workers or idle_cpus(), len(files))
    if scheduler:
        from urbansig.io.netmob_dask import parse_on_dask

        yield from parse_on_dask(
            files, parse_day_file, per_day, scheduler, workers, events, report.notes
        )
        return
    report.notes.append(
        "parsed in the calling thread" if workers <= 1 else f"parsed in {workers} threads"
    )
    if workers <= 1:
        for job in files:
            if events is not None:
                events.check_cancelled()
            yield job, parse_day_file(job[0], job[3], per_day)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="netmob")
    pending: deque[tuple[tuple, Future]] = deque()
    todo = iter(files)

    def submit(job: tuple) -> None:
        pending.append((job, pool.submit(parse_day_file, job[0], job[3], per_day)))

    try:
        for job in todo:
            submit(job)
            if len(pending) >= 2 * workers:
                break
        while pending:
            if events is not None:
                events.check_cancelled()
            job, future = pending.popleft()
            result = future.result()
            nxt = next(todo, None)
            if nxt is not None:
                submit(nxt)
            yield job, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parse_day_file(path: Path, day: dt.date, per_day: int = 96) -> dict[str, Any]:
    """Parse one NetMob file into unique tile ids and (n, per_day) float64 step sums.

    The fast path is pyarrow's CSV parser (in the calling thread); a file it cannot take
    whole is re-read line by line, and each bad line is counted and named (file and line
    number). A last line the end of the file cuts short is skipped (counted as malformed)
    and named in ``cut`` ("line N"; None otherwise), for the caller to report the file.
    """
    path = Path(path)
    data = path.read_bytes()
    result: dict[str, Any] = {"bytes": len(data), "problems": [], "malformed": 0}
    data, result["cut"] = _drop_cut_line(data, day)
    if result["cut"]:
        result["malformed"] += 1
    n_values = _file_width(path, data, day)
    if n_values == 0:
        if not result["cut"]:
            result["problems"].append(f"{path}: empty file")
        empty = np.zeros((0, per_day), dtype=np.float64)
        result.update(tile_ids=np.zeros(0, np.int64), values=empty, n_values=96)
        result["lines"] = result["malformed"]
        return result
    parsed = _fast_parse(data, n_values, per_day)
    if parsed is None:
        tile_ids, matrix, lines = _robust_parse(path, data, n_values, result)
        steps = _reduce([matrix[:, k] for k in range(n_values)], per_day, len(tile_ids))
    else:
        tile_ids, steps, lines = parsed
    result["lines"] = lines + (result["cut"] is not None)
    if tile_ids.size and not (np.diff(tile_ids) > 0).all():
        uniq, inverse, counts = np.unique(tile_ids, return_inverse=True, return_counts=True)
        if uniq.size < tile_ids.size:
            result["problems"].append(
                f"{path}: {tile_ids.size - uniq.size} repeated tile ids (values summed), "
                f"e.g. {int(uniq[counts > 1][0])}"
            )
            merged = np.zeros((uniq.size, steps.shape[1]), dtype=np.float64)
            np.add.at(merged, inverse, steps)
            tile_ids, steps = uniq, merged
    result.update(tile_ids=tile_ids, values=steps, n_values=n_values)
    return result


def _reduce(columns: list[np.ndarray], per_day: int, n: int) -> np.ndarray:
    """(n, per_day) step sums from 96 (or 92: 02:00-02:45 missing) quarter-hour columns."""
    out = np.empty((per_day, n), dtype=np.float64).T
    _reduce_into(out, columns)
    return out


def _reduce_into(out: np.ndarray, columns: list[np.ndarray]) -> None:
    """Sum 96 (or 92) quarter-hour columns into the (n, per_day) steps of ``out`` (fastest
    when its columns are contiguous, i.e. the transpose of a (per_day, n) array)."""
    slots: list[np.ndarray | None] = list(columns)
    if len(columns) == 92:  # None marks the quarter hours a DST day lacks
        slots = [*columns[:8], *([None] * len(_MISSING_DST)), *columns[8:]]
    per_day = out.shape[1]
    group = 96 // per_day
    for step in range(per_day):
        present = [c for c in slots[step * group : (step + 1) * group] if c is not None]
        if present:
            total = out[:, step]
            np.copyto(total, present[0])
            for column in present[1:]:
                total += column
        else:
            out[:, step] = 0


def _widths(day: dt.date) -> tuple[int, ...]:
    """The numbers of values a line of a file of ``day`` may hold."""
    return (96, 92) if dst_day(day) else (96,)


def _first_line(data: bytes) -> re.Match[bytes]:
    """The first line that is not blank (group 1, without its line end)."""
    match = _FIRST_LINE.match(data)
    assert match is not None  # the pattern matches any bytes
    return match


def _drop_cut_line(data: bytes, day: dt.date) -> tuple[bytes, str | None]:
    """``data`` without a last line cut short by the end of the file, and "line N" for it
    (None when there is none): a line with no line end that has fewer fields than the
    file's first line (or than a NetMob line when it is the only one), or whose last field
    is not a number. A cut inside the last value of a line leaves a line that reads as whole.
    """
    end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    tokens = data[end:].split()
    if not tokens:
        return data, None
    first = _first_line(data)
    width = len(first.group(1).split()) if first.start(1) < end else 1 + min(_widths(day))
    if len(tokens) < width or (len(tokens) == width and not _is_number(tokens[-1])):
        number = data.count(b"\n", 0, end) + 1
        return data[:end], f"line {number}"
    return data, None


def _file_width(path: Path, data: bytes, day: dt.date) -> int:
    """Values per line of this file (96, or 92 on the DST day), from its first line."""
    if not data.strip():
        return 0
    first = _first_line(data).group(1).split()
    n_values = len(first) - 1
    allowed = _widths(day)
    if n_values not in allowed:
        raise BadInput(
            f"{path}, line 1: {len(first)} fields; a NetMob file has tile_id and "
            + " or ".join(str(a) for a in allowed)
            + " quarter-hour values per line. Is this a NetMob 2023 file?"
        )
    return n_values


_PARSE = pacsv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False, escape_char=False)
BLOCK_BYTES = 1 << 20  # arrow parses (and we reduce) blocks of this size


@functools.lru_cache(maxsize=4)
def _arrow_options(n_values: int, trailing: bool) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    """Typed columns f0 (int64 tile id), f1..fn (float64) and, for lines that end with a
    space, an empty string column; no null values, so any empty or odd token is an error."""
    types = {"f0": pa.int64(), **{f"f{k}": pa.float64() for k in range(1, n_values + 1)}}
    if trailing:
        types[f"f{n_values + 1}"] = pa.string()
    read = pacsv.ReadOptions(
        autogenerate_column_names=True, use_threads=False, block_size=BLOCK_BYTES
    )
    convert = pacsv.ConvertOptions(
        column_types=types,
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=False,
    )
    return read, convert


def _fast_parse(
    data: bytes, n_values: int, per_day: int
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Parse a clean file with pyarrow's CSV reader and reduce it to steps block by block
    from zero-copy views of arrow's columns (no (n, 96) copy); None when the file needs
    the slow path (a token that is not a number, a wrong field count, a negative, NaN or
    infinite value)."""
    first = _first_line(data).group(1)
    trailing = first.endswith(b" ")
    if first.count(b" ") != n_values + trailing:
        return None  # runs of spaces
    read, convert = _arrow_options(n_values, trailing)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=_PARSE, convert_options=convert
        )
    except pa.ArrowInvalid:
        return None
    if table.num_columns != n_values + 1 + trailing:
        return None
    if trailing and pc.max(pc.binary_length(table.column(n_values + 1))).as_py():
        return None  # a value after the trailing space
    signed = b"-" in data
    steps = np.empty((per_day, table.num_rows), dtype=np.float64).T  # contiguous steps
    start = 0
    for batch in table.to_batches():
        columns = [batch.column(k).to_numpy() for k in range(1, n_values + 1)]
        if signed and min((float(c.min()) for c in columns if c.size), default=0.0) < 0:
            return None  # a negative value: let the slow path name the line
        _reduce_into(steps[start : start + batch.num_rows], columns)
        start += batch.num_rows
    if not np.isfinite(steps).all():
        return None  # nan or inf somewhere
    return table.column(0).to_numpy(), steps, table.num_rows


def _robust_parse(
    path: Path, data: bytes, n_values: int, result: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Line-by-line parse that keeps good lines and names each bad one."""
    ids: list[int] = []
    rows: list[list[float]] = []
    lines = 0
    width = n_values + 1
    for number, raw in enumerate(data.splitlines(), 1):
        tokens = raw.split()
        if not tokens:
            continue
        lines += 1
        problem = None
        if len(tokens) != width:
            problem = f"{len(tokens)} fields instead of {width}"
        else:
            try:
                tile = int(tokens[0])
                row = [float(t) for t in tokens[1:]]
            except ValueError:
                bad = next(t for t in tokens if not _is_number(t))
                problem = f"{bad.decode(errors='replace')[:30]!r} is not a number"
            else:
                if not all(0 <= v < float("inf") for v in row):
                    problem = "negative, infinite or NaN value"
        if problem:
            result["malformed"] += 1
            if len(result["problems"]) < 20:
                result["problems"].append(f"{path}, line {number}: {problem} (line skipped)")
            continue
        ids.append(tile)
        rows.append(row)
    values = np.array(rows, dtype=np.float64).reshape(len(rows), n_values)
    return np.array(ids, dtype=np.int64), values, lines


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_netmob_tiles(root: Path, city: str) -> Any:
    """The city's tile polygons (``{City}.geojson`` beside or inside the city folder) in
    WGS 84 with an int64 ``tile_id``."""
    from urbansig.io.vector import read_layer

    root = Path(root)
    candidates = [root / f"{city}.geojson", root / city / f"{city}.geojson"]
    if root.name == city:
        candidates.append(root.parent / f"{city}.geojson")
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise BadInput(
            f"No tile geometry for {city}: expected {candidates[0]} (the NetMob "
            f"{city}.geojson with a tile_id property)."
        )
    tiles = read_layer(path, name="TILES")
    if "tile_id" not in tiles.columns:
        raise BadInput(f"{path} has no tile_id property (columns: {', '.join(tiles.columns)}).")
    try:
        tiles["tile_id"] = tiles["tile_id"].astype(np.int64)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{path}: tile_id values are not integers ({exc}).") from exc
    tiles = tiles[["tile_id", "geometry"]].to_crs("EPSG:4326")
    return tiles.sort_values("tile_id").reset_index(drop=True)


def read_traffic_table(
    path: Path, layout: str = "weekly_hourly", services: list[str] | None = None
) -> TrafficProfiles:
    """Profiles from a long table (tile_id, timestamp, service, value), CSV or Parquet."""
    from urbansig.io.tables import read_traffic_table as _read

    return _read(path, layout=layout, services=services)
