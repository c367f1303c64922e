"""qgis_process: omitting every parameter that declares a default gives the same result as
passing each declared default (``qgis_process help --json``) explicitly.

Covered, on the tiny demo city, with the algorithms' own defaults (epochs included): every
algorithm whose all-defaults run takes seconds there. Left out:
- generatedemocity: its default SIZE is "small", about 1 GB written per run;
- backenddiagnostics: its metrics are this machine's versions and timings, nothing to compare;
- setupbackend: it installs an environment.
Timing metrics (seconds, per-second rates) differ between any two runs and are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from osgeo import ogr

TIMING = re.compile(r"second|_per_s")


@pytest.fixture(scope="module")
def declared_defaults(qgis_process):
    """alg -> {parameter: default as qgis_process takes it}, from its help."""
    cache: dict[str, dict[str, str]] = {}

    def defaults(alg: str) -> dict[str, str]:
        if alg not in cache:
            done = qgis_process("--json", "help", f"urbansig:{alg}")
            assert done.returncode == 0, done.stderr
            parameters = json.loads(done.stdout[done.stdout.index("{") :])["parameters"]
            cache[alg] = {
                name: _as_argument(p["default_value"])
                for name, p in parameters.items()
                if not p["is_destination"] and p["default_value"] not in (None, "")
            }
        return cache[alg]

    return defaults


def _as_argument(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _stable(value):
    """Metrics without the timings."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _rows(path: Path) -> tuple[list[str], list[tuple]]:
    """(columns, rows with their geometry as WKT) of a written layer."""
    dataset = ogr.Open(str(path))
    layer = dataset.GetLayer(0)
    definition = layer.GetLayerDefn()
    columns = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    rows = []
    for feature in layer:
        geometry = feature.GetGeometryRef()
        rows.append(
            (*(feature.GetField(c) for c in columns), geometry.ExportToWkt() if geometry else None)
        )
    return columns, rows


def _run_both(run_algorithm, declared_defaults, tmp_path, alg, given, outputs) -> dict:
    """Run ``alg`` with ``given`` only, then with every declared default too; compare.
    Returns the first run's output paths."""
    defaults = {k: v for k, v in declared_defaults(alg).items() if k not in given}
    assert defaults, f"{alg} declares no default beyond the parameters given"
    runs = {}
    for mode in ("omitted", "explicit"):
        folder = tmp_path / mode
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / file for name, file in outputs.items()}
        parameters = {**given, **paths}
        if mode == "explicit":
            parameters = {**defaults, **parameters}
        done, parsed = run_algorithm(f"urbansig:{alg}", **parameters)
        assert done.returncode == 0, f"{alg} ({mode}): {done.stderr[-3000:]}"
        runs[mode] = (parsed["results"], paths)
    (omitted, omitted_paths), (explicit, _) = runs["omitted"], runs["explicit"]
    assert _stable(json.loads(omitted["METRICS"])) == _stable(json.loads(explicit["METRICS"]))
    for name, file in outputs.items():
        if file.endswith(".gpkg"):
            once, twice = _rows(Path(omitted[name])), _rows(Path(explicit[name]))
            assert once[0] == twice[0], f"{alg} {name}: other columns"
            assert len(once[1]) == len(twice[1]) > 0, f"{alg} {name}: other row count"
            assert once[1] == twice[1], f"{alg} {name}: other values"
    scalars = {k for k, v in omitted.items() if isinstance(v, (int, float)) and k != "METRICS"}
    assert {k: omitted[k] for k in scalars} == {k: explicit[k] for k in scalars}
    return omitted_paths


def test_createh3grid(run_algorithm, declared_defaults, tmp_path):
    _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path,
        "createh3grid",
        {"EXTENT": "4.80,4.86,45.72,45.76 [EPSG:4326]"},
        {"OUTPUT": "grid.gpkg"},
    )


def test_clustertraffictiles(run_algorithm, declared_defaults, demo_city, tmp_path):
    _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path,
        "clustertraffictiles",
        {"TRAFFIC_FOLDER": demo_city["NETMOB"], "CITY": "Demoville", "TILES": demo_city["TILES"]},
        {"OUTPUT": "clusters.gpkg", "REPORT": "clusters.html"},
    )


def test_embedregionsmusecl(run_algorithm, declared_defaults, demo_city, tmp_path):
    _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path,
        "embedregionsmusecl",
        {
            "REGIONS": demo_city["REGIONS"],
            "RASTER": demo_city["REMOTE_SENSING"],
            "POIS": demo_city["POIS"],
        },
        {"OUTPUT": "musecl.gpkg"},
    )


def test_embedregionsflows_then_predictindicator(
    run_algorithm, declared_defaults, demo_city, tmp_path
):
    flows = _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path / "flows",
        "embedregionsflows",
        {
            "REGIONS": demo_city["REGIONS"],
            "ID_FIELD": "region_id",
            "OD": demo_city["OD_FLOWS"],
        },
        {"OUTPUT": "flows.gpkg"},
    )
    _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path / "predict",
        "predictindicator",
        {"INPUT": flows["OUTPUT"], "TARGET_FIELD": "population_density"},
        {"OUTPUT": "predicted.gpkg", "REPORT": "predicted.html"},
    )


def test_pooltrajectoriesraw_then_applyrawmodel(
    run_algorithm, declared_defaults, demo_city, tmp_path
):
    raw = _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path / "raw",
        "pooltrajectoriesraw",
        {"TRAJECTORIES": demo_city["TRAJECTORIES"], "REGIONS": demo_city["REGIONS"]},
        {"OUTPUT": "raw.gpkg", "MODEL_FILE": "raw.pt"},
    )
    _run_both(
        run_algorithm,
        declared_defaults,
        tmp_path / "apply",
        "applyrawmodel",
        {"TRAJECTORIES": demo_city["TRAJECTORIES"], "MODEL": raw["MODEL_FILE"]},
        {"OUTPUT_POINTS": "points.gpkg", "OUTPUT_USERS": "users.csv"},
    )
