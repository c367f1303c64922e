"""qgis_process on the real Chicago region benchmark given as plain CSV tables.

``embedregionsflows`` with its default settings (77 regions, taxi OD, POI and land-use
counts; no geometry), then ``predictindicator`` on its output with the literature protocol
(Ridge, 25-fold): the check-in R2 must stand well above the trivial floor (log OD PCA 16:
0.44). The data is read from ../shared/data/region_benchmarks/Chi; the test skips without it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import ogr

TARGETS = {"check": "check_counts", "crime": "crime_counts", "service": "serviceCall_counts"}


@pytest.fixture(scope="module")
def chicago(shared_data: Path) -> dict[str, np.ndarray]:
    folder = shared_data / "region_benchmarks" / "Chi"
    if not (folder / "mob-adj.npy").exists():
        pytest.skip(f"the Chicago region benchmark is not at {folder}")
    data = {
        "od": np.load(folder / "mob-adj.npy"),
        "poi": np.load(folder / "poi_dist.npy"),
        "landuse": np.load(folder / "landUse_dist.npy"),
    }
    data.update({name: np.load(folder / f"{file}.npy") for name, file in TARGETS.items()})
    return data


def _write(path: Path, header: list[str], rows) -> str:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _tables(data: dict[str, np.ndarray], folder: Path) -> dict[str, object]:
    """Regions (with the targets), a long OD table, POI and land-use count tables."""
    n = len(data["od"])
    regions = _write(
        folder / "regions.csv",
        ["region_id", *TARGETS],
        ([i, *(int(data[t][i]) for t in TARGETS)] for i in range(n)),
    )
    origin, destination = np.nonzero(data["od"])
    od = _write(
        folder / "od.csv",
        ["origin", "destination", "count"],
        zip(origin.tolist(), destination.tolist(), data["od"][origin, destination].tolist()),
    )
    views = [
        _write(
            folder / f"{view}.csv",
            ["region_id", *(f"{view}_{k}" for k in range(data[view].shape[1]))],
            ([i, *data[view][i].tolist()] for i in range(n)),
        )
        for view in ("poi", "landuse")
    ]
    return {"regions": regions, "od": od, "views": views}


def _read(path: Path) -> tuple[list[str], list[dict], bool]:
    """(columns, rows, has geometry) of a written layer."""
    dataset = ogr.Open(str(path))
    layer = dataset.GetLayer(0)
    definition = layer.GetLayerDefn()
    columns = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    rows = [{c: feature.GetField(c) for c in columns} for feature in layer]
    return columns, rows, layer.GetGeomType() != ogr.wkbNone


def test_chicago_tables_embed_then_predict_checkins(qgis_process, chicago, tmp_path):
    inputs = _tables(chicago, tmp_path)
    embedded = tmp_path / "embedded.gpkg"
    done = qgis_process(
        "--json",
        "run",
        "urbansig:embedregionsflows",
        "--",
        f"REGIONS={inputs['regions']}",
        "ID_FIELD=region_id",
        f"OD={inputs['od']}",
        *(f"VIEWS={view}" for view in inputs["views"]),
        f"OUTPUT={embedded}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(json.loads(done.stdout[done.stdout.index("{") :])["results"]["METRICS"])
    assert metrics["n_regions"] == 77 and metrics["n_views"] == 2

    columns, rows, geometry = _read(embedded)
    assert not geometry
    assert len(rows) == 77
    emb = [c for c in columns if c.startswith("emb_")]
    assert len(emb) >= 32 and any(c.startswith("base_") for c in columns)
    assert set(TARGETS) <= set(columns)
    rows.sort(key=lambda r: int(r["region_id"]))
    assert [int(r["region_id"]) for r in rows] == list(range(77))
    assert [r["trips_out"] for r in rows] == chicago["od"].sum(axis=1).tolist()
    features = np.array([[r[c] for c in emb] for r in rows], dtype=float)
    assert np.isfinite(features).all() and features.std(axis=0).min() > 0

    report = tmp_path / "predicted.html"
    done = qgis_process(
        "--json",
        "run",
        "urbansig:predictindicator",
        "--",
        f"INPUT={embedded}",
        "TARGET_FIELD=check",
        "FEATURE_PREFIX=emb_",
        "LITERATURE_PROTOCOL=true",
        "FOLDS=25",
        "MODEL=1",  # ridge (QGIS 3.22 takes enum values by index)
        f"OUTPUT={tmp_path / 'predicted.gpkg'}",
        f"REPORT={report}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(json.loads(done.stdout[done.stdout.index("{") :])["results"]["METRICS"])
    print(f"{len(emb)} emb_ columns, literature_r2 {metrics['literature_r2']:.4f}")
    assert metrics["literature_folds"] == 25
    assert metrics["literature_r2"] >= 0.70, metrics
    html = report.read_text()
    assert f"ridge on {len(emb)} features" in html and "Literature protocol" in html
    assert "Features against the baseline fields" in html
