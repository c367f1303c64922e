"""NetMob files cut short (on a line boundary, mid-line, inside line 1): reported with the
file and the number of tiles missing, read on with those tiles absent; the clustering job
warns in its log and its report."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from urbansig.io.netmob import parse_day_file, read_netmob_profiles
from urbansig.protocol import Events, JobSpec

SERVICES = ["YouTube", "Netflix"]
DAY = "20190325"  # the synthetic city's first day (a Monday)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny synthetic city (two days), generated once: (its netmob folder, city)."""
    synth = pytest.importorskip("urbansig.synth")
    out = tmp_path_factory.mktemp("city") / "city"
    manifest = synth.generate_city(out, seed=1, size="tiny", days=2)
    return out / "netmob", manifest["city"]


@pytest.fixture()
def city(generated: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A copy of two services of the tiny city's NetMob folder and its tile geometry."""
    source, name = generated
    root = tmp_path / "netmob"
    for service in SERVICES:
        shutil.copytree(source / name / service, root / name / service)
    shutil.copy(source / f"{name}.geojson", root / f"{name}.geojson")
    return root, name


def _file(city: tuple[Path, str], service: str = "YouTube", side: str = "DL") -> Path:
    root, name = city
    return root / name / service / DAY / f"{name}_{service}_{DAY}_{side}.txt"


def _keep_lines(path: Path, n: int) -> None:
    """Cut ``path`` after its first ``n`` lines (on a line boundary)."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:n]))


def _cut_short(report) -> list[str]:
    return [p for p in report.problems if "is cut short" in p]


def test_intact_city_reports_nothing(city):
    prof = read_netmob_profiles(*city, services=SERVICES, workers=1)
    assert _cut_short(prof.report) == [] and "files_cut_short" not in prof.report.counts
    assert prof.report.malformed_lines == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_cut_on_a_line_boundary(city, workers: int):
    path = _file(city)
    _keep_lines(path, 800)
    prof = read_netmob_profiles(*city, services=SERVICES, workers=workers)
    n = len(prof.tile_ids)
    [problem] = _cut_short(prof.report)
    assert prof.report.problems[0] == problem  # listed first
    assert str(path) in problem and f"lacks {n - 800} of the {n} tiles" in problem
    assert "middle" not in problem
    assert prof.report.counts["files_cut_short"] == 1 and prof.report.malformed_lines == 0
    assert np.isfinite(prof.values).all()


def test_cut_mid_line_names_the_tiles_missing(city):
    path = _file(city, "Netflix", "UL")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    line = data[: len(data) // 2].count(b"\n") + 1  # the unfinished line
    prof = read_netmob_profiles(*city, services=SERVICES, workers=1)
    n = len(prof.tile_ids)
    [problem] = _cut_short(prof.report)
    assert str(path) in problem
    assert f"ends in the middle of line {line}" in problem
    assert f"lacks {n - (line - 1)} of the {n} tiles" in problem
    assert not any("line skipped" in p for p in prof.report.problems)  # no parse complaint
    assert prof.report.malformed_lines == 1


def test_cut_tiles_count_as_absent(city, tmp_path: Path):
    """A mid-line cut reads exactly as the same file cut before the unfinished line: the
    tiles after it are absent from that file (the mean of the other day)."""
    path = _file(city)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    mid_line = read_netmob_profiles(*city, services=SERVICES, workers=1)
    _keep_lines(path, data[: len(data) // 3].count(b"\n"))
    boundary = read_netmob_profiles(*city, services=SERVICES, workers=1)
    assert np.array_equal(mid_line.tile_ids, boundary.tile_ids)
    np.testing.assert_array_equal(mid_line.values, boundary.values)


def test_cut_inside_the_first_line(city):
    path = _file(city)
    path.write_bytes(path.read_bytes()[:100])  # not even one whole line
    prof = read_netmob_profiles(*city, services=SERVICES, workers=1)
    n = len(prof.tile_ids)
    [problem] = _cut_short(prof.report)
    assert "middle of line 1" in problem and f"lacks {n} of the {n} tiles" in problem


def test_unfinished_last_value_and_complete_last_line(city):
    path = _file(city)
    lines = path.read_bytes().splitlines()
    day = dt.date(2019, 3, 25)
    path.write_bytes(b"\n".join(lines))  # no final line end: still whole
    whole = parse_day_file(path, day, 24)
    assert whole["cut"] is None and len(whole["tile_ids"]) == len(lines)
    path.write_bytes(b"\r\n".join(lines[:10]) + b"\r\n" + lines[10][:-1] + b"e")
    cut = parse_day_file(path, day, 24)  # the last value is not a number: cut
    assert cut["cut"] == "line 11" and len(cut["tile_ids"]) == 10 and cut["problems"] == []


def test_job_warns_in_log_and_report(city, tmp_path: Path):
    from urbansig.runtime import run_spec

    path = _file(city, "Netflix")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    root, name = city
    spec = JobSpec(
        task="clustertraffictiles",
        inputs={"input": str(root)},
        params={
            "city": name,
            "services": ",".join(SERVICES),
            "layout": "daily_hourly",
            "n_clusters": "3",
            "epochs": 2,
        },
        outputs={"output": str(tmp_path / "out.gpkg"), "report": str(tmp_path / "r.html")},
        device="cpu",
    )
    stream = io.StringIO()
    run_spec(spec, Events(stream, min_interval=0.0))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    cut = [w for w in warnings if "is cut short" in w]
    assert len(cut) == 1 and path.name in cut[0] and "tiles its sibling files list" in cut[0]
    assert any(e["event"] == "result" for e in events)  # the run goes on
    report = (tmp_path / "r.html").read_text()
    assert "Warnings" in report and path.name in report and "is cut short" in report
