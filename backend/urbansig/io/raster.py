"""Raster crops per region: windowed reads of each region's (square) bounding box,
resampled to size x size (bilinear), scaled to 0..1 per band, nodata -> 0.

A raster GDAL cannot open or read (damaged, cut short) is a BadInput naming RASTER and the
file; its last block is read first, so a file cut short fails before any other check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from urbansig.protocol import BadInput

PERCENTILES = (2.0, 98.0)
SAMPLE_PIXELS = 1024  # longest side of the decimated read used for the scaling percentiles


class NoOverlap(BadInput):
    """No region given overlaps the raster (a readable one)."""


@contextmanager
def _readable(raster: Path) -> Iterator[None]:
    """Turn GDAL's open and read errors into a BadInput naming RASTER and the file."""
    from rasterio._err import CPLE_BaseError  # GDAL errors rasterio did not wrap
    from rasterio.errors import RasterioError

    try:
        yield
    except (RasterioError, CPLE_BaseError) as exc:
        reason: BaseException = exc
        while reason.__cause__ is not None:  # GDAL's own message is the innermost
            reason = reason.__cause__
        raise BadInput(
            f"RASTER: cannot read {raster} ({reason}). Is it a complete raster file? "
            "Re-export or re-download it."
        ) from exc


def _check_complete(src: Any) -> None:
    """Read the last pixel of every band, hence the last blocks (where GDAL's layouts end
    the file), so that a file cut short fails here."""
    from rasterio.windows import Window

    src.read(window=Window(src.width - 1, src.height - 1, 1, 1))


def _band_scaling(src: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (low, high) for scaling to 0..1: 0..255 for uint8, else robust percentiles
    of a decimated read of the whole raster (nodata excluded)."""
    from rasterio.enums import Resampling

    bands = src.count
    if src.dtypes[0] == "uint8":
        return np.zeros(bands), np.full(bands, 255.0)
    factor = max(src.width, src.height) / SAMPLE_PIXELS
    shape = (
        bands,
        max(1, round(src.height / max(factor, 1))),
        max(1, round(src.width / max(factor, 1))),
    )
    sample = src.read(out_shape=shape, masked=True, resampling=Resampling.nearest)
    low, high = np.zeros(bands), np.ones(bands)
    for b in range(bands):
        values = sample[b].compressed().astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            low[b], high[b] = np.percentile(values, PERCENTILES)
        if high[b] <= low[b]:
            high[b] = low[b] + 1.0
    return low, high


def _square(bounds: np.ndarray) -> np.ndarray:
    """Bounding boxes grown to squares around their centres (no distortion on resampling)."""
    cx, cy = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    half = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


def crop_regions(
    raster: Path, regions: Any, size: int, events: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """(n, bands, size, size) float32 crops in 0..1 and a (n,) valid mask.

    Each region's bounding box (grown to a square, in the raster CRS) is read as a window
    resampled to size x size; nodata is 0. A region outside the raster, or whose crop has
    no data at all, is not valid. NoOverlap (a BadInput) when no region overlaps the
    raster; BadInput naming RASTER when it cannot be read.
    """
    import rasterio

    if int(size) < 1:
        raise BadInput(f"IMAGE_SIZE must be a positive number of pixels, not {size!r}.")
    size = int(size)
    if len(regions) == 0:
        raise BadInput("REGIONS: the region layer is empty.")
    with _readable(raster), rasterio.open(raster) as src:
        _check_complete(src)
        boxes, overlaps = _overlaps(src, raster, regions)
        return _crops(src, boxes, overlaps, size, events)


def _overlaps(src: Any, raster: Path, regions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each region's square box in the raster CRS, and whether it overlaps the raster."""
    if src.crs is None:
        raise BadInput(f"RASTER: {raster} has no CRS; assign one (e.g. in QGIS) and retry.")
    if regions.crs is None:
        raise BadInput("REGIONS: the region layer has no CRS.")
    if regions.crs != src.crs:
        regions = regions.to_crs(src.crs)
    boxes = _square(regions.geometry.bounds.to_numpy(dtype=np.float64))
    left, bottom, right, top = src.bounds
    overlaps = (
        (boxes[:, 0] < right) & (boxes[:, 2] > left) & (boxes[:, 1] < top) & (boxes[:, 3] > bottom)
    )
    overlaps &= np.isfinite(boxes).all(axis=1)
    if not overlaps.any():
        raise NoOverlap(
            f"No region overlaps the raster {raster} (raster bounds {tuple(src.bounds)} in "
            f"{src.crs.to_string()}; regions {tuple(regions.total_bounds)}). Check that "
            "the regions and the raster cover the same place."
        )
    return boxes, overlaps


def _crops(
    src: Any, boxes: np.ndarray, overlaps: np.ndarray, size: int, events: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The crops (scaled to 0..1, nodata 0) of the overlapping boxes and their validity."""
    from rasterio.enums import Resampling
    from rasterio.windows import from_bounds

    low, high = _band_scaling(src)
    scale = (high - low)[:, None, None]
    out = np.zeros((len(boxes), src.count, size, size), dtype=np.float32)
    valid = np.zeros(len(boxes), dtype=bool)
    todo = np.flatnonzero(overlaps)
    for k, i in enumerate(todo):
        if events is not None:
            events.check_cancelled()
        window = from_bounds(*boxes[i], transform=src.transform)
        data = src.read(
            window=window,
            out_shape=(src.count, size, size),
            resampling=Resampling.bilinear,
            boundless=True,
            masked=True,
        )
        mask = np.ma.getmaskarray(data)
        values = (np.ma.getdata(data).astype(np.float64) - low[:, None, None]) / scale
        values = np.clip(values, 0.0, 1.0)
        values[mask] = 0.0
        out[i] = values
        valid[i] = not mask.all()
        if events is not None and (k % 16 == 0 or k == len(todo) - 1):
            events.progress((k + 1) / len(todo), f"cropped {k + 1} of {len(todo)} regions")
    return out, valid
