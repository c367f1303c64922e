"""The real qgis_process: list, a real run, a failing run, diagnostics."""

import re
import sqlite3

import pytest
from osgeo import ogr

ALGORITHMS = ("createh3grid", "setupbackend", "backenddiagnostics")


def test_list_shows_every_algorithm(qgis_process):
    done = qgis_process("list")
    assert done.returncode == 0
    for alg in ALGORITHMS:
        assert f"urbansig:{alg}" in done.stdout, done.stdout[-2000:]


def test_help_of_every_algorithm(qgis_process):
    for alg in ALGORITHMS:
        done = qgis_process("help", f"urbansig:{alg}")
        assert done.returncode == 0 and "Parameters" in done.stdout


def test_create_h3_grid(run_algorithm, tmp_path):
    out = tmp_path / "grid.gpkg"
    done, parsed = run_algorithm(
        "urbansig:createh3grid",
        EXTENT="4.80,4.90,45.72,45.79 [EPSG:4326]",
        RESOLUTION=8,
        OUTPUT=out,
    )
    assert done.returncode == 0, done.stderr
    assert parsed["results"]["OUTPUT"] == str(out) and parsed["results"]["N_CELLS"] > 50
    dataset = ogr.Open(str(out))
    layer = dataset.GetLayer(0)
    ids = [f.GetField("region_id") for f in layer]
    assert len(ids) == parsed["results"]["N_CELLS"]
    assert all(re.fullmatch("88[0-9a-f]{13}", i) for i in ids)  # H3 cells at resolution 8
    with sqlite3.connect(out) as db:  # style embedded for qgis_process users
        styles = db.execute("select styleName, useAsDefault from layer_styles").fetchall()
    assert styles == [("urbansig", 1)]


def test_polygon_layer_input_keeps_its_crs(run_algorithm, tmp_path):
    area = tmp_path / "area.geojson"
    area.write_text(
        '{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:27572"}},'
        '"features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon",'
        '"coordinates":[[[600000,2080000],[603000,2080000],[603000,2083000],[600000,2080000]]]}}]}'
    )
    out = tmp_path / "grid.gpkg"
    done, parsed = run_algorithm("urbansig:createh3grid", INPUT=area, RESOLUTION=9, OUTPUT=out)
    assert done.returncode == 0, done.stderr
    dataset = ogr.Open(str(out))  # keep the dataset alive while its layer is used
    layer = dataset.GetLayer(0)
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "27572"
    assert layer.GetFeatureCount() == parsed["results"]["N_CELLS"] > 5


def test_failing_run_exits_non_zero_with_the_backend_message(run_algorithm, tmp_path):
    out = tmp_path / "grid.gpkg"
    done, _ = run_algorithm(
        "urbansig:createh3grid",
        EXTENT="4.0,6.0,45.0,46.5 [EPSG:4326]",
        RESOLUTION=12,
        OUTPUT=out,
    )
    assert done.returncode != 0
    assert "MAX_CELLS" in done.stderr and "choose a coarser resolution" in done.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("resolution", ["16", "-1"])
def test_resolution_out_of_range(run_algorithm, tmp_path, resolution):
    done, _ = run_algorithm(
        "urbansig:createh3grid",
        EXTENT="4.8,4.9,45.7,45.8 [EPSG:4326]",
        RESOLUTION=resolution,
        OUTPUT=tmp_path / "g.gpkg",
    )
    assert done.returncode != 0 and "RESOLUTION" in done.stderr


def test_diagnostics_report(run_algorithm, tmp_path):
    out = tmp_path / "diagnostics.html"
    done, parsed = run_algorithm("urbansig:backenddiagnostics", OUTPUT=out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    for needle in ("torch", "device", "forward_pass", "median_ms", "executable", "packages"):
        assert needle in text


def test_setup_algorithm_reruns_safely(run_algorithm):
    import json
    import os
    from pathlib import Path

    venv = Path(os.environ["URBANSIG_BACKEND_PYTHON"]).parents[1]
    flavour = json.loads((venv / "urbansig-environment.json").read_text())["flavour"]
    index = ["auto", "cpu", "cuda"].index(flavour)
    done, parsed = run_algorithm("urbansig:setupbackend", VENV_DIR=venv, TORCH=index)
    assert done.returncode == 0, done.stderr
    assert parsed["results"]["PYTHON"] == str(venv.resolve() / "bin" / "python")
    assert "up to date" in done.stdout + done.stderr + json.dumps(parsed.get("log", ""))
