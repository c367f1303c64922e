"""The demo's QGIS project draws the region embeddings by their clusters, not one class per
region (the demo city has about a thousand H3 regions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from osgeo import ogr, osr
from qgis.core import QgsProject

REPO = Path(__file__).resolve().parents[2]
N_REGIONS = 60


def _embeddings(path: Path) -> None:
    """A musecl_regions.gpkg as the algorithm writes it: region_id, emb_*, cluster."""
    driver = ogr.GetDriverByName("GPKG")
    dataset = driver.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    layer = dataset.CreateLayer("musecl_regions", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("region_id", ogr.OFTString))
    for name in ("emb_000", "emb_001"):
        layer.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    layer.CreateField(ogr.FieldDefn("cluster", ogr.OFTInteger))
    for i in range(N_REGIONS):
        feature = ogr.Feature(layer.GetLayerDefn())
        x, y = 4.8 + (i % 10) * 0.01, 45.7 + (i // 10) * 0.01
        ring = f"{x} {y},{x + 0.01} {y},{x + 0.01} {y + 0.01},{x} {y + 0.01},{x} {y}"
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON(({ring}))"))
        feature.SetField("region_id", f"89{i:013x}")
        feature.SetField("emb_000", i / N_REGIONS)
        feature.SetField("emb_001", 1 - i / N_REGIONS)
        feature.SetField("cluster", i % 3)
        layer.CreateFeature(feature)
    dataset = None


def test_the_embedding_layer_is_drawn_by_its_clusters(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _embeddings(out / "musecl_regions.gpkg")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    script = (
        "import sys; from pathlib import Path; from plugin.demo_outputs import write_outputs; "
        "write_outputs(Path(sys.argv[1]), [])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "maps" / "embedding_pca.png").stat().st_size > 1000
    project = QgsProject()
    assert project.read(str(out / "urban_signatures.qgz"))
    layers = [layer for layer in project.mapLayers().values() if "embeddings" in layer.name()]
    assert len(layers) == 1
    renderer = layers[0].renderer()
    assert renderer.type() == "categorizedSymbol"
    assert renderer.classAttribute() == "cluster"
    assert sorted(str(c.value()) for c in renderer.categories()) == ["0", "1", "2"]
