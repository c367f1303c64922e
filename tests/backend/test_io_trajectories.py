"""Trajectory reader: CSV, GeoLife .plt folders, GeoPackage points; sorting, duplicates,
repeated timestamps, speed outliers (checked against a plain sequential reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from urbansig.io.report import ReadReport
from urbansig.io.trajectories import clean_trajectories, haversine_km, read_trajectories
from urbansig.protocol import BadInput

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

CSV = """user_id,timestamp,lon,lat
b,2020-01-01 10:00:10,2.35,48.85
a,2020-01-01 10:00:00,2.35,48.85
a,2020-01-01 10:00:00,2.35,48.85
a,2020-01-01 10:01:00,2.351,48.85
a,2020-01-01 10:01:00,2.352,48.85
a,2020-01-01 10:02:00,3.35,48.85
a,2020-01-01 10:03:00,2.352,48.851
a,yesterday,2.35,48.85
a,2020-01-01 10:04:00,2.353,95
"""


def test_csv_cleaning(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    frame, report = read_trajectories(path, assume_tz="Europe/Paris")
    assert list(frame.columns) == ["user_id", "time", "lon", "lat"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["user_id"].tolist() == ["a", "a", "a", "b"]
    # 10:00 Paris = 09:00 UTC; the jump to lon 3.35 in a minute (~73 km) is dropped.
    assert frame["time"].iloc[0] == pd.Timestamp("2020-01-01 09:00", tz="UTC")
    assert frame["lon"].tolist() == [2.35, 2.351, 2.352, 2.35]
    assert report.counts["duplicates_removed"] == 1
    assert report.counts["repeated_timestamps_removed"] == 1
    assert report.counts["speed_outliers_removed"] == 1
    assert report.malformed_lines == 2
    assert any("line 9" in p for p in report.problems)
    assert any("line 10" in p for p in report.problems)
    assert any("Europe/Paris" in n for n in report.notes)


def test_csv_aware_times_and_other_names(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("who,when,longitude,latitude\n1,2020-01-01T10:00:00+02:00,10,50\n")
    frame, _ = read_trajectories(path, user_field="who", time_field="when")
    assert frame["time"].iloc[0] == pd.Timestamp("2020-01-01 08:00", tz="UTC")
    assert frame["user_id"].iloc[0] == "1"


def test_bad_inputs(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("user,timestamp,lon,lat\n1,2020-01-01,1,1\n")
    with pytest.raises(BadInput, match="USER_FIELD"):
        read_trajectories(path)
    path.write_text("user_id,timestamp,east,north\n1,2020-01-01,1,1\n")
    with pytest.raises(BadInput, match="longitude"):
        read_trajectories(path)
    path.write_text("user_id,timestamp,lon,lat\n1,2020-01-01,1,1\n")
    with pytest.raises(BadInput, match="ASSUME_TZ"):
        read_trajectories(path, assume_tz="Mars/Olympus")
    with pytest.raises(BadInput, match="MAX_SPEED"):
        read_trajectories(path, max_speed_kmh=0)
    with pytest.raises(BadInput, match="no .plt"):
        read_trajectories(tmp_path)
    (tmp_path / "x.plt").write_text("hello\n")
    with pytest.raises(BadInput, match="not a GeoLife"):
        read_trajectories(tmp_path)


def _reference_filter(lon, lat, seconds, users, vmax):
    keep = np.ones(len(lon), dtype=bool)
    last = 0
    for i in range(1, len(lon)):
        if users[i] != users[i - 1]:
            last = i
            continue
        km = haversine_km(lon[last], lat[last], lon[i], lat[i])
        if km / ((seconds[i] - seconds[last]) / 3600) > vmax:
            keep[i] = False
        else:
            last = i
    return keep


def test_speed_filter_matches_sequential_reference():
    rng = np.random.default_rng(3)
    n = 3000
    users = np.repeat(["u1", "u2", "u3"], n // 3)
    seconds = np.tile(np.cumsum(rng.integers(1, 60, n // 3)), 3).astype(float)
    lon = 2.3 + np.cumsum(rng.normal(0, 1e-4, n))
    lat = 48.8 + np.cumsum(rng.normal(0, 1e-4, n))
    spikes = rng.random(n) < 0.05
    lon[spikes] += rng.normal(0, 0.5, spikes.sum())
    lon[1000] += 5  # the first point of u2 is an outlier: the sequential rule keeps it
    frame = pd.DataFrame(
        {
            "user_id": users,
            "time": pd.to_datetime(seconds, unit="s", utc=True),
            "lon": lon,
            "lat": lat,
        }
    )
    report = ReadReport()
    out = clean_trajectories(frame, 120.0, report)
    expected = _reference_filter(lon, lat, seconds, users, 120.0)
    assert report.counts["speed_outliers_removed"] == int((~expected).sum()) > 50
    assert (~expected[1000:2000]).sum() > 100  # the bad first point hides many of u2's
    np.testing.assert_array_equal(out["lon"].to_numpy(), lon[expected])


def test_bad_first_point_is_reported():
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "time": pd.to_datetime([0, 60, 120, 180], unit="s", utc=True),
            "lon": [50.0, 2.0, 2.001, 2.002],
            "lat": [48.0] * 4,
        }
    )
    report = ReadReport()
    out = clean_trajectories(frame, 300.0, report)
    assert len(out) == 1 and "user u: 75%" in report.problems[0]


def test_geolife_real_sample():
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data checks need the shared samples")
    frame, report = read_trajectories(DATA / "geolife")
    assert frame["user_id"].nunique() == 8
    assert sorted(frame["user_id"].unique()) == [f"{i:03d}" for i in range(8)]
    assert report.files_read == 78 and report.malformed_lines == 0
    assert len(frame) > 100_000
    assert frame["lat"].between(39, 41.5).mean() > 0.95  # Beijing
    assert frame["lon"].between(115, 118).mean() > 0.95
    ordered = frame.groupby("user_id")["time"].apply(lambda t: t.is_monotonic_increasing)
    assert ordered.all()
    assert not frame.duplicated(["user_id", "time"]).any()
    assert frame["time"].min() >= pd.Timestamp("2007-01-01", tz="UTC")
    assert 0 < report.counts["speed_outliers_removed"] < 1000


def test_geolife_layout_with_bad_line(tmp_path: Path):
    folder = tmp_path / "042" / "Trajectory"
    folder.mkdir(parents=True)
    header = (
        "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
        "0,2,255,My Track,0,0,2,8421376\n0\n"
    )
    rows = [
        "39.9,116.3,0,100,39746.5,2008-10-25,14:22:00",
        "39.9001,116.3001,0,100,39746.5,2008-10-25,14:22:05",
        "39.9002,116.3002,0,100,39746.5,2008-10-25,14:22:10,extra",
        "39.9003,116.3003,0,100,39746.5,2008-10-25,14:22:15",
    ]
    (folder / "20081025142200.plt").write_text(header + "\n".join(rows) + "\n")
    frame, report = read_trajectories(tmp_path, assume_tz="Asia/Shanghai")
    assert frame["user_id"].unique().tolist() == ["042"]
    assert len(frame) == 3 and report.malformed_lines == 1
    assert frame["time"].iloc[0] == pd.Timestamp("2008-10-25 06:22:00", tz="UTC")


def test_geopackage_points(tmp_path: Path):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    layer = gpd.GeoDataFrame(
        {
            "user_id": ["x", "x", "y"],
            "timestamp": ["2020-01-01T00:00:10Z", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z"],
        },
        geometry=[Point(652000, 6862000), Point(652010, 6862000), Point(0, 0)],
        crs="EPSG:2154",
    )
    path = tmp_path / "points.gpkg"
    layer.to_file(path)
    frame, report = read_trajectories(path)
    assert frame["user_id"].tolist() == ["x", "x", "y"]
    assert frame["lon"].iloc[0] == pytest.approx(2.35, abs=0.05)  # Paris in Lambert 93
    assert frame["time"].iloc[0] < frame["time"].iloc[1]
    assert report.files_read == 1
