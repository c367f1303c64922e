"""NetMob 2023 reader: aggregation against hand-computed values, the 92-column day,
malformed lines, missing files, selections, bad names and layouts, parallel = serial."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from urbansig.io.netmob import (
    dst_day,
    netmob_catalog,
    parse_day_file,
    read_netmob_profiles,
    read_netmob_tiles,
)
from urbansig.protocol import BadInput

CITY = "Saint-Test"
MON, SUN_DST, SUN = dt.date(2019, 4, 1), dt.date(2019, 3, 31), dt.date(2019, 4, 7)


def _write(root: Path, service: str, day: dt.date, side: str, rows: list[str]) -> Path:
    stamp = day.strftime("%Y%m%d")
    folder = root / CITY / service / stamp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{CITY}_{service}_{stamp}_{side}.txt"
    path.write_text("\n".join(rows) + "\n")
    return path


def _row(tile: int, values) -> str:
    return " ".join([str(tile), *(repr(float(v)) for v in values)])


@pytest.fixture()
def city(tmp_path: Path) -> Path:
    q = np.arange(96, dtype=float)
    # App_A, Monday: tile 1 all 1 (DL) and 0.5 (UL); tile 2 DL = quarter index.
    _write(tmp_path, "App_A", MON, "DL", [_row(1, np.ones(96)), _row(2, q)])
    _write(tmp_path, "App_A", MON, "UL", [_row(1, np.full(96, 0.5)), _row(2, np.zeros(96))])
    # DST Sunday: 92 values (02:00-02:45 missing): DL 2, UL 1.
    _write(tmp_path, "App_A", SUN_DST, "DL", [_row(1, np.full(92, 2.0))])
    _write(tmp_path, "App_A", SUN_DST, "UL", [_row(1, np.ones(92))])
    # Next Sunday: DL 4 for tile 1, tile 3 only here, one malformed line; UL file missing.
    rows = [_row(1, np.full(96, 4.0)), _row(3, np.ones(96)), "7 1 2 x" + " 1" * 93]
    _write(tmp_path, "App_A", SUN, "DL", rows)
    # Service B: Monday only, 3.5 per quarter for tile 2.
    _write(tmp_path, "B", MON, "DL", [_row(2, np.full(96, 3.5))])
    _write(tmp_path, "B", MON, "UL", [_row(2, np.zeros(96))])
    return tmp_path


def _step(day: dt.date, hour: int) -> int:
    return day.weekday() * 24 + hour


def test_dst_day():
    assert dst_day(SUN_DST) and not dst_day(SUN) and not dst_day(dt.date(2019, 3, 24))


def test_catalog(city: Path):
    services, days = netmob_catalog(city, CITY)
    assert services == ["App_A", "B"]
    assert days == [SUN_DST, MON, SUN]


@pytest.mark.parametrize("workers", [1, 2])
def test_weekly_hourly_hand_computed(city: Path, workers: int):
    prof = read_netmob_profiles(city, CITY, workers=workers)
    assert prof.tile_ids.tolist() == [1, 2, 3]
    assert prof.services == ["App_A", "B"]
    assert prof.values.shape == (3, 2, 168) and prof.values.dtype == np.float32
    a = prof.values[:, 0]
    # Monday: tile 1 = 4 (DL) + 2 (UL); tile 2 hour h = 16h + 6.
    assert a[0, _step(MON, 0)] == pytest.approx(6.0)
    assert a[1, _step(MON, 5)] == pytest.approx(16 * 5 + 6)
    # Sunday: DL mean over 2 days (8, 16) = 12, UL mean over 1 day = 4 -> 16.
    assert a[0, _step(SUN, 0)] == pytest.approx(16.0)
    # Hour 02 of the DST day is missing: DL only from the second Sunday (16), no UL.
    assert a[0, _step(SUN, 2)] == pytest.approx(16.0)
    # The 92 values are aligned right: hour 3 of the DST day holds its values (8 + 16)/2 + 4.
    assert a[0, _step(SUN, 3)] == pytest.approx(16.0)
    # Tile 3 is only in one file: Sunday 4, elsewhere 0.
    assert a[2, _step(SUN, 10)] == pytest.approx(4.0)
    assert a[2, _step(MON, 10)] == 0
    assert prof.values[1, 1, _step(MON, 7)] == pytest.approx(14.0)
    assert prof.values[0, 1].sum() == 0
    rep = prof.report
    assert rep.files_read == 7 and rep.files_missing == 5  # App_A SUN UL; B 2 Sundays x 2
    assert rep.malformed_lines == 1 and rep.lines_read == 11
    assert any("line 3" in p and f"{CITY}_App_A_20190407_DL.txt" in p for p in rep.problems)
    assert any("missing file" in p and "20190407_UL" in p for p in rep.problems)
    assert any("2 threads" in n for n in rep.notes) == (workers == 2)


def test_missing_count_exact(city: Path):
    prof = read_netmob_profiles(city, CITY, services=["B"], workers=1)
    # B has Monday only: DST Sunday and next Sunday, DL and UL, are missing.
    assert prof.report.files_missing == 4 and prof.report.files_read == 2


def test_direction_and_selection(city: Path):
    dl = read_netmob_profiles(city, CITY, services=["App_A"], direction="DL", workers=1)
    assert dl.services == ["App_A"] and dl.values.shape == (3, 1, 168)
    assert dl.values[0, 0, _step(SUN, 0)] == pytest.approx(12.0)
    ul = read_netmob_profiles(city, CITY, services=["App_A"], direction="ul", workers=1)
    assert ul.values[0, 0, _step(MON, 0)] == pytest.approx(2.0)
    assert ul.tile_ids.tolist() == [1, 2]


def test_day_range_and_daily_layout(city: Path):
    prof = read_netmob_profiles(
        city, CITY, services=["App_A"], start=MON, end="2019-04-01", layout="daily_hourly"
    )
    assert prof.values.shape == (2, 1, 24)
    assert prof.values[1, 0, 2] == pytest.approx(16 * 2 + 6)
    week = read_netmob_profiles(city, CITY, services=["App_A"], start=MON, end=MON)
    assert any("144 of 168" in p and "Tue 00:00" in p for p in week.report.problems)
    dst_only = read_netmob_profiles(
        city, CITY, services=["App_A"], start=SUN_DST, end=SUN_DST, layout="daily_hourly"
    )
    assert dst_only.values[0, 0, 2] == 0 and dst_only.values[0, 0, 3] == pytest.approx(12.0)
    assert any("1 of 24" in p and "(02:00)" in p for p in dst_only.report.problems)
    daily = read_netmob_profiles(city, CITY, services=["App_A"], layout="daily_hourly")
    # tile 1 hour 0 over three days: DL (4 + 8 + 16) / 3, UL (2 + 4) / 2.
    assert daily.values[0, 0, 0] == pytest.approx(28 / 3 + 3)


def test_weekly_15min(city: Path):
    prof = read_netmob_profiles(city, CITY, services=["App_A"], layout="weekly_15min")
    assert prof.values.shape == (3, 1, 672)
    sunday = 6 * 96
    assert prof.values[0, 0, sunday + 9] == pytest.approx(4.0)  # 02:15: second Sunday DL only
    assert prof.values[0, 0, sunday + 12] == pytest.approx(3.0 + 1.0)
    assert prof.values[1, 0, 37] == pytest.approx(37.0)


def test_bad_inputs(city: Path, tmp_path: Path):
    with pytest.raises(BadInput, match="SERVICES"):
        read_netmob_profiles(city, CITY, services=["Nope"])
    with pytest.raises(BadInput, match="DIRECTION"):
        read_netmob_profiles(city, CITY, direction="down")
    with pytest.raises(BadInput, match="LAYOUT"):
        read_netmob_profiles(city, CITY, layout="monthly")
    with pytest.raises(BadInput, match="No day"):
        read_netmob_profiles(city, CITY, start="2020-01-01")
    with pytest.raises(BadInput, match="All 2 NetMob files of the selection are missing"):
        read_netmob_profiles(city, CITY, services=["B"], start=SUN, end=SUN)
    with pytest.raises(BadInput, match="^TRAFFIC_FOLDER: no folder"):
        read_netmob_profiles(city, "Paris")
    stray = city / CITY / "B" / "20190401" / "notes.txt"
    stray.write_text("x")
    with pytest.raises(BadInput, match="notes.txt"):
        read_netmob_profiles(city, CITY, services=["B"])
    stray.unlink()
    bad = _write(city, "B", SUN, "DL", [_row(1, np.ones(50))])
    with pytest.raises(BadInput, match=r"20190407_DL.txt, line 1: 51 fields"):
        read_netmob_profiles(city, CITY, services=["B"], workers=2)
    bad.unlink()
    _write(city, "B", SUN, "DL", [_row(1, np.ones(92))])  # 92 values on an ordinary day
    with pytest.raises(BadInput, match="96"):
        read_netmob_profiles(city, CITY, services=["B"], workers=1)
    (city / CITY / "B" / "2019-04-08").mkdir()
    with pytest.raises(BadInput, match="not a day folder"):
        netmob_catalog(city, CITY)


def test_fast_and_robust_parsers_agree(tmp_path: Path):
    rng = np.random.default_rng(1)
    values = rng.lognormal(1, 2, size=(50, 96)).round(3)
    good = [_row(i, v) for i, v in enumerate(values)]
    clean = _write(tmp_path, "S", MON, "DL", good)
    fast = parse_day_file(clean, MON, 96)
    dirty = _write(tmp_path, "S", MON, "UL", [*good[:10], "bad line", *good[10:]])
    slow = parse_day_file(dirty, MON, 96)
    assert slow["malformed"] == 1 and "line 11" in slow["problems"][0]
    np.testing.assert_array_equal(fast["tile_ids"], slow["tile_ids"])
    np.testing.assert_allclose(fast["values"], slow["values"], rtol=1e-12)
    np.testing.assert_allclose(fast["values"], values, rtol=1e-12)


def test_repeated_tiles_summed(tmp_path: Path):
    path = _write(tmp_path, "S", MON, "DL", [_row(5, np.ones(96)), _row(5, np.ones(96))])
    parsed = parse_day_file(path, MON, 24)
    assert parsed["tile_ids"].tolist() == [5] and parsed["values"][0, 0] == 8
    assert "repeated" in parsed["problems"][0]


def test_trailing_spaces_and_crlf(tmp_path: Path):
    path = _write(tmp_path, "S", MON, "DL", [])
    path.write_bytes(b"1 " + b"2 " * 96 + b"\r\n" + b"2 " + b"1 " * 96 + b"\r\n")
    parsed = parse_day_file(path, MON, 24)
    assert parsed["malformed"] == 0
    assert parsed["values"].tolist() == [[8.0] * 24, [4.0] * 24]


def _no_slow_path(monkeypatch):
    from urbansig.io import netmob

    def fail(*args):
        raise AssertionError("the slow path was used")

    monkeypatch.setattr(netmob, "_robust_parse", fail)


def test_fast_path_clean_files(tmp_path: Path, monkeypatch):
    """Clean files, with CRLF or trailing spaces, 92 values on the DST day, never need the
    line-by-line parser."""
    _no_slow_path(monkeypatch)
    path = _write(tmp_path, "S", MON, "DL", [])
    path.write_bytes(b"\n1 " + b"2 " * 96 + b"\r\n\n" + b"2 " + b"1 " * 96 + b"\r\n")
    parsed = parse_day_file(path, MON, 24)
    assert parsed["lines"] == 2 and parsed["values"].tolist() == [[8.0] * 24, [4.0] * 24]
    dst = _write(tmp_path, "S", SUN_DST, "DL", [_row(3, np.arange(92)), _row(4, np.ones(92))])
    hourly = parse_day_file(dst, SUN_DST, 24)["values"]
    quarters = parse_day_file(dst, SUN_DST, 96)["values"]
    assert hourly[0, :4].tolist() == [6.0, 22.0, 0.0, 8 + 9 + 10 + 11]
    assert quarters[1, 7:13].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert quarters[0, 12] == 8.0  # the 9th value is 03:00


def test_bad_lines_deep_in_a_large_file(tmp_path: Path):
    """Files of several parse blocks: a bad line far from the start is still found, named
    and skipped, and the good lines agree with a clean file's."""
    from urbansig.io import netmob

    rng = np.random.default_rng(2)
    n = 3 * netmob.BLOCK_BYTES // 400 + 100  # about 400 bytes a line: 3+ blocks
    values = rng.gamma(1.0, 20.0, size=(n, 96)).round(1)
    good = [_row(i, v) for i, v in enumerate(values)]
    clean = parse_day_file(_write(tmp_path, "S", MON, "DL", good), MON, 24)
    assert clean["malformed"] == 0 and clean["lines"] == n
    bad_rows = {
        n - 50: "-1.5",  # negative
        n - 40: "nan",
        n - 30: "inf",
        n - 20: "1,5",  # not a number
    }
    for k, (row, token) in enumerate(bad_rows.items()):
        rows = list(good)
        fields = rows[row].split(" ")
        fields[7] = token
        rows[row] = " ".join(fields)
        rows.insert(n - 10, "99 1 2")  # too few fields
        path = _write(tmp_path, "S", MON, "UL" if k % 2 else "DL", rows)
        parsed = parse_day_file(path, MON, 24)
        assert parsed["malformed"] == 2 and parsed["lines"] == n + 1
        assert f"line {row + 1}:" in parsed["problems"][0]
        assert f"line {n - 9}: 3 fields" in parsed["problems"][1]
        keep = np.ones(n, dtype=bool)
        keep[row] = False
        np.testing.assert_array_equal(parsed["tile_ids"], clean["tile_ids"][keep])
        np.testing.assert_allclose(parsed["values"], clean["values"][keep], rtol=1e-12)


def test_value_after_trailing_space(tmp_path: Path):
    path = _write(tmp_path, "S", MON, "DL", [])
    path.write_bytes(b"1 " + b"2 " * 96 + b"\n" + b"2 " + b"1 " * 96 + b"5\n")
    parsed = parse_day_file(path, MON, 24)
    assert parsed["tile_ids"].tolist() == [1] and parsed["malformed"] == 1
    assert "line 2: 98 fields" in parsed["problems"][0]


def test_tiles_geojson(tmp_path: Path):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    tiles = gpd.GeoDataFrame(
        {"tile_id": [2, 1]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs="EPSG:27572",
    )
    tiles.to_file(tmp_path / f"{CITY}.geojson", driver="GeoJSON")
    out = read_netmob_tiles(tmp_path, CITY)
    assert out.crs.to_epsg() == 4326 and out["tile_id"].tolist() == [1, 2]
    with pytest.raises(BadInput, match="No tile geometry"):
        read_netmob_tiles(tmp_path, "Other")


def test_empty_file_nan_and_negative_values(tmp_path: Path):
    empty = _write(tmp_path, "S", MON, "DL", [])
    empty.write_bytes(b"")
    parsed = parse_day_file(empty, MON, 24)
    assert parsed["tile_ids"].size == 0 and "empty file" in parsed["problems"][0]
    rows = [_row(1, np.ones(96)), "2" + " nan" * 96, "3 -1" + " 1" * 95, _row(4, np.ones(96))]
    path = _write(tmp_path, "S", MON, "UL", rows)
    parsed = parse_day_file(path, MON, 24)
    assert parsed["tile_ids"].tolist() == [1, 4] and parsed["malformed"] == 2
    assert "line 2" in parsed["problems"][0] and "line 3" in parsed["problems"][1]


@pytest.mark.slow
def test_generated_city_reads_cleanly(tmp_path: Path):
    synth = pytest.importorskip("urbansig.synth")
    manifest = synth.generate_city(tmp_path / "city", seed=1, size="tiny", days=7)
    root = tmp_path / "city" / "netmob"
    services, days = netmob_catalog(root, manifest["city"])
    assert sorted(services) == sorted(manifest["services"]) and len(days) == 7
    prof = read_netmob_profiles(root, manifest["city"], workers=2)
    tiles = read_netmob_tiles(root, manifest["city"])
    assert set(prof.tile_ids) <= set(tiles["tile_id"]) and len(prof.tile_ids) > 0.9 * len(tiles)
    assert prof.report.files_read == 2 * 7 * len(services) and prof.report.malformed_lines == 0
    assert np.isfinite(prof.values).all() and prof.values.max() > 0


def test_accumulator_memory_guard(monkeypatch):
    from urbansig.io import profiles

    monkeypatch.setattr(profiles, "memory_limit", lambda: 10_000_000)
    acc = profiles.ProfileAccumulator(2, 68, 672)
    with pytest.raises(BadInput, match="select fewer SERVICES"):
        acc.rows(np.arange(1000, dtype=np.int64))


def test_accumulator_same_reordered_and_new_tiles():
    """Blocks of the same tiles (added in place), reordered and new tiles (gathered and
    scattered) give the sums and means of a direct computation."""
    from urbansig.io.profiles import ProfileAccumulator

    rng = np.random.default_rng(3)
    blocks = [
        np.array([10, 11, 12, 13]),
        np.array([10, 11, 12, 13]),
        np.array([13, 10, 12, 11]),
        np.array([11, 12, 14, 9]),
        np.array([11, 12, 14, 9]),
    ]
    acc = ProfileAccumulator(1, 2, 48)
    expected: dict[int, np.ndarray] = {}
    counts: dict[int, np.ndarray] = {}
    for k, ids in enumerate(blocks):
        values = rng.random((ids.size, 24))
        first, service = 24 * (k % 2), k % 2
        acc.add_block(0, service, ids, values, first, np.ones(24, dtype=bool))
        for tile, row in zip(ids.tolist(), values):
            expected.setdefault(tile, np.zeros((2, 48)))[service, first : first + 24] += row
            counts.setdefault(tile, np.zeros((2, 48)))[service, first : first + 24] += 1
    tile_ids, values, unobserved = acc.result()
    assert tile_ids.tolist() == [9, 10, 11, 12, 13, 14] and unobserved.size == 0
    for i, tile in enumerate(tile_ids.tolist()):
        mean = np.divide(
            expected[tile], counts[tile], where=counts[tile] > 0, out=np.zeros((2, 48))
        )
        np.testing.assert_allclose(values[i], mean, rtol=1e-6)


def test_idle_cpus(monkeypatch):
    from urbansig.io import netmob

    monkeypatch.setattr(netmob, "_cpu_count", lambda: 2)
    monkeypatch.setattr(netmob.os, "getloadavg", lambda: (0.2, 0, 0))
    assert netmob.idle_cpus() == 2
    monkeypatch.setattr(netmob.os, "getloadavg", lambda: (1.5, 0, 0))
    assert netmob.idle_cpus() == 2
    monkeypatch.setattr(netmob.os, "getloadavg", lambda: (12.0, 0, 0))
    assert netmob.idle_cpus() == 1


# ---------------------------------------------------------------- on Dask distributed
def _children() -> list:
    """Live child processes, but multiprocessing's resource tracker (one per parent, for
    its whole life; not a worker)."""
    import psutil

    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and "resource_tracker" not in " ".join(p.cmdline())
    ]


def test_dask_local_cluster_gives_the_threaded_profiles(tmp_path: Path):
    """The generated city (7 days, both directions) read by a Dask LocalCluster of two
    worker processes equals the threaded reader within 1e-6 relative; the cluster's
    processes are gone afterwards."""
    synth = pytest.importorskip("urbansig.synth")
    pytest.importorskip("distributed")
    manifest = synth.generate_city(tmp_path / "city", seed=2, size="tiny", days=7)
    root = tmp_path / "city" / "netmob"
    before = {p.pid for p in _children()}
    threads = read_netmob_profiles(root, manifest["city"], workers=2)
    dask = read_netmob_profiles(root, manifest["city"], workers=2, scheduler="local")
    assert dask.tile_ids.tolist() == threads.tile_ids.tolist()
    assert dask.services == threads.services
    np.testing.assert_allclose(dask.values, threads.values, rtol=1e-6, atol=0)
    assert dask.report.files_read == threads.report.files_read > 0
    assert any("Dask LocalCluster of 2 processes" in n for n in dask.report.notes)
    assert {p.pid for p in _children()} <= before, [p.cmdline() for p in _children()]


def test_dask_read_cancelled_stops_every_worker(tmp_path: Path):
    from urbansig.protocol import Cancelled, Events

    pytest.importorskip("distributed")
    synth = pytest.importorskip("urbansig.synth")
    manifest = synth.generate_city(tmp_path / "city", seed=2, size="tiny", days=3)
    root = tmp_path / "city" / "netmob"
    before = {p.pid for p in _children()}

    class CancelAfterFirstFile(Events):
        def progress(self, fraction: float, message: str = "") -> None:
            self.cancel()  # the user presses Cancel once the first file is in

    with pytest.raises(Cancelled):
        read_netmob_profiles(
            root, manifest["city"], workers=2, scheduler="local", events=CancelAfterFirstFile()
        )
    assert {p.pid for p in _children()} <= before, "a Dask worker outlived the cancelled read"


def test_dask_scheduler_that_does_not_answer_is_named(city: Path, monkeypatch):
    import socket

    from urbansig.io import netmob_dask

    pytest.importorskip("distributed")
    monkeypatch.setattr(netmob_dask, "CONNECT_SECONDS", 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BadInput, match="DASK_SCHEDULER: no Dask scheduler answers"):
        read_netmob_profiles(city, CITY, scheduler=f"tcp://127.0.0.1:{port}")
