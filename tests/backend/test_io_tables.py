"""Tables: origin-destination flows (real NY commuting sample) and long traffic tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from urbansig.io.netmob import read_traffic_table as netmob_traffic_table
from urbansig.io.tables import read_od, read_traffic_table
from urbansig.protocol import BadInput

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _data(*parts: str) -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data checks need the shared samples")
    return DATA.joinpath(*parts)


def test_read_od_real_ny():
    od = read_od(_data("ny_commuting", "NY_commuting_flows_2011.csv"))
    assert list(od.columns) == ["origin", "destination", "count"]
    assert len(od) == 1954
    assert od["origin"].iloc[0] == "36001" and od["count"].iloc[0] == 121606.0
    assert od["count"].dtype == np.float64 and (od["count"] >= 0).all()
    assert od["origin"].str.fullmatch(r"\d{5}").all()


def test_read_od_named_columns_and_time_slot(tmp_path: Path):
    path = tmp_path / "od.csv"
    path.write_text("from,to,time_slot,n\n01,02,3,4.5\n02,01,3,1\n")
    od = read_od(path, origin="from", destination="to", count="n")
    assert od["origin"].tolist() == ["01", "02"]  # leading zeros kept
    assert od["count"].tolist() == [4.5, 1.0] and od["time_slot"].tolist() == [3, 3]


def test_read_od_bad_inputs(tmp_path: Path):
    path = tmp_path / "od.csv"
    path.write_text("origin,destination,people\n1,2,3\n")
    with pytest.raises(BadInput, match="no count column"):
        read_od(path)
    path.write_text("origin,destination,count\n1,2,3\n1,3,-4\n")
    with pytest.raises(BadInput, match="line 3"):
        read_od(path)
    path.write_text("origin,destination,count\n1,2,3\n1,3,many\n")
    with pytest.raises(BadInput, match=r"line 3: count 'many'"):
        read_od(path)
    path.write_text("origin,count\n1,3\n")
    with pytest.raises(BadInput, match="no column destination"):
        read_od(path)
    with pytest.raises(BadInput, match="does not exist"):
        read_od(tmp_path / "nope.csv")


def test_traffic_table_parquet_equals_csv(tmp_path: Path):
    import pandas as pd

    csv = tmp_path / "traffic.csv"
    csv.write_text(TABLE)
    parquet = tmp_path / "traffic.parquet"
    pd.read_csv(csv).to_parquet(parquet)
    a, b = read_traffic_table(csv), read_traffic_table(parquet)
    assert a.services == b.services and a.tile_ids.tolist() == b.tile_ids.tolist()
    np.testing.assert_array_equal(a.values, b.values)
    assert b.report.malformed_lines == 2 and any("line 6" in p for p in b.report.problems)
    broken = tmp_path / "t.parquet"
    broken.write_bytes(b"PAR1")
    with pytest.raises(BadInput, match="t.parquet"):
        read_traffic_table(broken)


TABLE = """tile_id,timestamp,service,value
1,2019-04-01 10:00,video,4
1,2019-04-01 10:15,video,2
1,2019-04-08 10:30,video,2
1,2019-04-02 23:45,video,8
2,2019-04-01 00:00,mail,1
2,not a time,mail,1
2,2019-04-01 00:00,mail,-5
3,2019-04-08 10:00,other,100
"""


def test_traffic_table_hand_computed(tmp_path: Path):
    path = tmp_path / "traffic.csv"
    path.write_text(TABLE)
    prof = read_traffic_table(path, services=["video", "mail"])
    assert prof.services == ["video", "mail"] and prof.tile_ids.tolist() == [1, 2]
    assert prof.values.shape == (2, 2, 168)
    # Two Mondays in the table: (4 + 2) and 2 in hour 10 -> mean 4.
    assert prof.values[0, 0, 10] == pytest.approx(4.0)
    # One Tuesday: 8 at 23:45.
    assert prof.values[0, 0, 24 + 23] == pytest.approx(8.0)
    assert prof.values[1, 1, 0] == pytest.approx(0.5)
    assert prof.report.malformed_lines == 2
    assert any("line 7" in p for p in prof.report.problems)
    assert any("line 8" in p for p in prof.report.problems)
    assert prof.report.lines_read == 8
    quarter = read_traffic_table(path, layout="weekly_15min", services=["video"])
    assert quarter.values[0, 0, 41] == pytest.approx(1.0)  # Monday 10:15: 2 over 2 Mondays
    daily = netmob_traffic_table(path, layout="daily_hourly")
    assert daily.services == ["mail", "other", "video"]
    assert daily.values[0, 2, 10] == pytest.approx(8 / 3)  # 3 days in the table
    assert daily.tile_ids.tolist() == [1, 2, 3]


def test_traffic_table_bad_inputs(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("tile,timestamp,service,value\n1,2019-04-01,a,1\n")
    with pytest.raises(BadInput, match="missing tile_id"):
        read_traffic_table(path)
    path.write_text(TABLE)
    with pytest.raises(BadInput, match="LAYOUT"):
        read_traffic_table(path, layout="hourly")
    with pytest.raises(BadInput, match="no valid row"):
        read_traffic_table(path, services=["absent"])


def test_traffic_table_time_zone_aware(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("tile_id,timestamp,service,value\n1,2019-04-01T10:00:00+02:00,a,3\n")
    prof = read_traffic_table(path)
    assert prof.values[0, 0, 10] == 3.0  # local wall-clock hour
    assert "aware" in prof.report.notes[0]
