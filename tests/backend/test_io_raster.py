"""Raster crops per region (synthetic GeoTIFFs with known values, real imagery samples)
and image loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

gpd = pytest.importorskip("geopandas")
rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402
from shapely.geometry import box  # noqa: E402

from urbansig.io.images import list_images, load_images, read_image_points  # noqa: E402
from urbansig.io.raster import crop_regions  # noqa: E402
from urbansig.protocol import BadInput  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CRS = "EPSG:32631"


def _tif(path: Path, data: np.ndarray, nodata=None) -> Path:
    bands, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=bands,
        dtype=data.dtype,
        crs=CRS,
        transform=from_origin(500000, 100, 1, 1),
        nodata=nodata,
    ) as dst:
        dst.write(data)
    return path


def _regions(*boxes, crs=CRS):
    return gpd.GeoDataFrame({"region_id": list(range(len(boxes)))}, geometry=list(boxes), crs=crs)


def test_uint8_crops_values_and_validity(tmp_path: Path):
    data = np.zeros((2, 100, 100), dtype=np.uint8)
    data[0, :, :50] = 255  # left half bright in band 0
    data[1] = 51
    path = _tif(tmp_path / "a.tif", data)
    regions = _regions(
        box(500000, 0, 500040, 40),  # bottom-left, inside the bright half: band 0 = 1
        box(500060, 60, 500090, 90),  # right: band 0 = 0
        box(600000, 0, 600010, 10),  # outside
    )
    crops, valid = crop_regions(path, regions, 8)
    assert crops.shape == (3, 2, 8, 8) and crops.dtype == np.float32
    assert valid.tolist() == [True, True, False]
    np.testing.assert_allclose(crops[0, 0], 1.0)
    np.testing.assert_allclose(crops[1, 0], 0.0)
    np.testing.assert_allclose(crops[0, 1], 0.2, atol=1e-6)
    assert crops[2].max() == 0


def test_reprojection_nodata_and_percentiles(tmp_path: Path):
    rng = np.random.default_rng(0)
    data = rng.integers(1000, 3000, size=(1, 100, 100)).astype(np.uint16)
    data[0, :, 80:] = 0  # nodata on the right
    path = _tif(tmp_path / "b.tif", data, nodata=0)
    wgs = _regions(box(500000, 0, 500040, 40), box(500085, 10, 500095, 20)).to_crs("EPSG:4326")
    crops, valid = crop_regions(path, wgs, 16)
    assert valid.tolist() == [True, False]  # the second region only sees nodata
    assert 0.3 < crops[0].mean() < 0.7 and crops[0].min() >= 0 and crops[0].max() <= 1
    assert crops[1].max() == 0
    # partly over nodata: the nodata part is 0, the rest scaled
    half = _regions(box(500070, 0, 500090, 20))
    part, ok = crop_regions(path, half, 20)
    assert ok[0] and part[0, 0, :, 15:].max() == 0 and (part[0, 0, :, :8] > 0).mean() > 0.9


def test_bad_inputs(tmp_path: Path):
    path = _tif(tmp_path / "c.tif", np.ones((1, 10, 10), dtype=np.uint8))
    with pytest.raises(BadInput, match="No region overlaps"):
        crop_regions(path, _regions(box(0, 0, 1, 1)), 4)
    with pytest.raises(BadInput, match="RASTER"):
        crop_regions(tmp_path / "missing.tif", _regions(box(0, 0, 1, 1)), 4)
    with pytest.raises(BadInput, match="SIZE"):
        crop_regions(path, _regions(box(0, 0, 1, 1)), 0)


def _imagery(name: str) -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data checks need the shared samples")
    return DATA / "imagery" / name


def test_atlanta_single_band_real():
    buildings = gpd.read_file(_imagery("atlanta_buildings.geojson"))
    crops, valid = crop_regions(_imagery("atlanta_0.5m_pan.tif"), buildings, 32)
    assert crops.shape == (len(buildings), 1, 32, 32)
    assert valid.all() and 0.1 < crops.mean() < 0.9
    assert crops.std(axis=(1, 2, 3)).min() > 0.01  # real texture in every crop


def test_landsat_three_bands_nodata_real():
    path = _imagery("landsat_rgb_bahamas.tif")
    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    whole = box(left, bottom, right, top)
    corner = box(left, top - 20000, left + 20000, top)
    outside = box(right + 1e5, bottom, right + 2e5, bottom + 1e5)
    regions = gpd.GeoDataFrame(geometry=[whole, corner, outside], crs=crs).to_crs("EPSG:4326")
    crops, valid = crop_regions(path, regions, 64)
    assert crops.shape == (3, 3, 64, 64)
    assert valid.tolist()[0] and not valid[2]
    assert 0 < (crops[0] == 0).mean() < 1  # the scene has a nodata collar
    assert crops[0].max() <= 1 and crops[0].mean() > 0.01


def test_load_images(tmp_path: Path):
    from PIL import Image

    Image.new("L", (40, 20), 255).save(tmp_path / "b.png")
    Image.new("RGB", (10, 10), (255, 0, 0)).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    paths = list_images(tmp_path)
    assert [p.name for p in paths] == ["a.jpg", "b.png"]
    images = load_images(paths, 16)
    assert images.shape == (2, 3, 16, 16) and images.dtype == np.float32
    assert images[0, 0].mean() > 0.95 and images[0, 1].mean() < 0.05
    np.testing.assert_allclose(images[1], 1.0)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(BadInput, match="broken.png"):
        load_images([tmp_path / "broken.png"], 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no image"):
        list_images(tmp_path / "empty")


def test_image_points_relative_paths(tmp_path: Path):
    from PIL import Image
    from shapely.geometry import Point

    (tmp_path / "sv").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "sv" / "1.png")
    layer = gpd.GeoDataFrame(
        {"image_id": [1], "path": ["sv/1.png"]}, geometry=[Point(0, 0)], crs=CRS
    )
    layer.to_file(tmp_path / "streetview.gpkg")
    points = read_image_points(tmp_path / "streetview.gpkg")
    assert Path(points["path"].iloc[0]) == tmp_path / "sv" / "1.png"
    layer["path"] = ["sv/2.png"]
    layer.to_file(tmp_path / "bad.gpkg")
    with pytest.raises(BadInput, match="2.png"):
        read_image_points(tmp_path / "bad.gpkg")
