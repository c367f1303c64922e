"""Rasters and images cut short or damaged: a BadInput naming the parameter (RASTER,
STREETVIEW) and the file, saying what to do; never an internal error."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from urbansig.protocol import BadInput, Events, JobSpec

gpd = pytest.importorskip("geopandas")
rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402
from shapely.geometry import Point, box  # noqa: E402

from urbansig.io.images import load_images  # noqa: E402
from urbansig.io.raster import crop_regions  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CRS = "EPSG:3857"
X0, Y0, SIDE = 1_000_000.0, 6_000_000.0, 4  # SIDE x SIDE regions of 100 m


def _geotiff(path: Path, **options) -> Path:
    """A 3-band 10 m GeoTIFF under the regions, with texture (so it compresses poorly)."""
    rng = np.random.default_rng(0)
    n = SIDE * 10
    with rasterio.open(
        path, "w", driver="GTiff", width=n, height=n, count=3, dtype="uint8", crs=CRS,
        transform=from_origin(X0, Y0 + SIDE * 100, 10, 10), **options,
    ) as dst:  # fmt: skip
        dst.write(rng.integers(0, 255, (3, n, n), dtype=np.uint8))
    return path


def _regions() -> gpd.GeoDataFrame:
    cells = [(r, c) for r in range(SIDE) for c in range(SIDE)]
    polys = [
        box(X0 + c * 100, Y0 + r * 100, X0 + c * 100 + 100, Y0 + r * 100 + 100) for r, c in cells
    ]
    ids = [f"r{i:02d}" for i in range(len(polys))]
    return gpd.GeoDataFrame({"region_id": ids}, geometry=polys, crs=CRS)


def _cut(path: Path, share: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"cut_{path.name}")
    cut.write_bytes(data[: max(1, int(len(data) * share))])
    return cut


def _assert_raster_message(message: str, path: Path) -> None:
    assert message.startswith(f"RASTER: cannot read {path} (")
    assert "Re-export or re-download it." in message and "Internal error" not in message


@pytest.mark.parametrize("layout", [{}, {"tiled": True, "compress": "deflate"}])
@pytest.mark.parametrize("share", [0.5, 0.9, 0.02])
def test_geotiff_cut_short(tmp_path: Path, layout: dict, share: float):
    cut = _cut(_geotiff(tmp_path / "rs.tif", **layout), share)
    with pytest.raises(BadInput) as info:
        crop_regions(cut, _regions(), 8)
    _assert_raster_message(str(info.value), cut)


def test_real_geotiff_cut_to_half(tmp_path: Path):
    source = DATA / "imagery" / "atlanta_0.5m_pan.tif"
    if not source.is_file():
        pytest.skip("../shared/data is absent: real-data checks need the shared samples")
    cut = tmp_path / "atlanta_half.tif"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    buildings = gpd.read_file(DATA / "imagery" / "atlanta_buildings.geojson")
    with pytest.raises(BadInput) as info:
        crop_regions(cut, buildings, 16)
    _assert_raster_message(str(info.value), cut)


def test_not_a_raster(tmp_path: Path):
    path = tmp_path / "notes.tif"
    path.write_text("not a raster")
    with pytest.raises(BadInput) as info:
        crop_regions(path, _regions(), 8)
    _assert_raster_message(str(info.value), path)


def _png(path: Path) -> Path:
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_cut_short(tmp_path: Path, suffix: str):
    from PIL import Image

    path = _png(tmp_path / "whole.png")
    if suffix == ".jpg":
        Image.open(path).save(tmp_path / "whole.jpg")
        path = tmp_path / "whole.jpg"
    cut = _cut(path, 0.5)
    with pytest.raises(BadInput) as info:
        load_images([path, cut], 16, parameter="STREETVIEW")
    message = str(info.value)
    assert message.startswith(f"STREETVIEW: cannot read image {cut} (")
    assert "Re-export or re-download it." in message


# ------------------------------------------------------------------ through the MuseCL job
def _run(tmp_path: Path, inputs: dict[str, Path]) -> None:
    from urbansig.runtime import run_spec

    regions = tmp_path / "regions.gpkg"
    _regions().to_file(regions)
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,count\nr00,r01,3\nr01,r02,2\n")
    spec = JobSpec(
        task="embedregionsmusecl",
        inputs={"regions": str(regions), "od": str(od), **{k: str(v) for k, v in inputs.items()}},
        params={"dim": 8, "image_size": 32},
        outputs={"output": str(tmp_path / "emb.gpkg")},
        device="cpu",
    )
    run_spec(spec, Events(io.StringIO()))


def test_job_with_a_raster_cut_short(tmp_path: Path):
    cut = _cut(_geotiff(tmp_path / "rs.tif"), 0.5)
    with pytest.raises(BadInput) as info:
        _run(tmp_path, {"raster": cut})
    _assert_raster_message(str(info.value), cut)
    assert not (tmp_path / "emb.gpkg").exists()


def test_job_with_an_image_cut_short(tmp_path: Path):
    (tmp_path / "sv").mkdir()
    names = []
    for i in range(3):
        _png(tmp_path / "sv" / f"{i}.png")
        names.append(f"sv/{i}.png")
    cut = _cut(tmp_path / "sv" / "1.png", 0.5)
    names[1] = f"sv/{cut.name}"
    points = [Point(X0 + 50 + 100 * i, Y0 + 50) for i in range(3)]
    layer = tmp_path / "sv.gpkg"
    gpd.GeoDataFrame({"path": names}, geometry=points, crs=CRS).to_file(layer)
    with pytest.raises(BadInput, match=rf"^STREETVIEW: cannot read image .*{cut.name}"):
        _run(tmp_path, {"streetview": layer})
    assert not (tmp_path / "emb.gpkg").exists()
