"""Imagery: a 4-band (R, G, B, NIR) "remote sensing" GeoTIFF and street-view-like PNGs.

The aerial image is drawn on a 60 m street grid: a block is built with a probability that
follows the local land-use mixture (bilinearly interpolated between tile centres), roofs take
class colours, open ground is vegetation (parks, gardens) or paving, streets are asphalt, and
every pixel gets noise. Street views are 64 x 64 pictures whose sky, facade height, window
pattern and vegetation follow the land-use mixture at their point.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from urbansig.synth.grid import CRS, CityGrid

BLOCK = 60.0  # metres between street axes
STREET = 8.0  # street width in metres
# Per land use (order of LAND_USES): built share, roof RGB, facade RGB, sky share in a street view.
BUILT = np.array([0.85, 0.9, 0.8, 0.5, 0.04, 0.45, 0.65])
ROOF = np.array(
    [
        [150, 118, 104],
        [168, 174, 186],
        [176, 152, 128],
        [178, 136, 112],
        [140, 140, 130],
        [180, 92, 72],
        [112, 112, 118],
    ],
    dtype=float,
)
FACADE = np.array(
    [
        [196, 176, 150],
        [150, 170, 195],
        [205, 160, 120],
        [190, 120, 95],
        [160, 160, 150],
        [225, 210, 180],
        [130, 130, 140],
    ],
    dtype=float,
)
SKY = np.array([0.2, 0.12, 0.25, 0.35, 0.55, 0.45, 0.4])
VEG = np.array([70.0, 118.0, 58.0])
PAVING = np.array([150.0, 142.0, 128.0])
ASPHALT = np.array([84.0, 84.0, 90.0])


def _interp_axis(field: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``field`` along ``axis`` at fractional tile coordinates."""
    n = field.shape[axis]
    f = np.clip(coords - 0.5, 0, n - 1)
    i0 = np.floor(f).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * field.ndim
    shape[axis] = len(coords)
    w = (f - i0).reshape(shape)
    return np.take(field, i0, axis=axis) * (1 - w) + np.take(field, i1, axis=axis) * w


def _hash01(ix: np.ndarray, iy: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Deterministic uniform numbers per integer cell (a small integer hash)."""
    h = (ix.astype(np.uint64) * np.uint64(73856093)) ^ (iy.astype(np.uint64) * np.uint64(19349663))
    h ^= np.uint64((seed * 83492791 + salt * 2654435761) % (1 << 63))
    h = (h ^ (h >> np.uint64(13))) * np.uint64(0x5BD1E995)
    h ^= h >> np.uint64(15)
    return (h % np.uint64(1 << 24)).astype(np.float64) / float(1 << 24)


def write_remote_sensing(
    path: Path,
    grid: CityGrid,
    membership: np.ndarray,
    density: np.ndarray,
    pixel: float,
    seed: int,
    check_cancelled: Callable[[], None],
) -> None:
    """Write the 4-band uint8 GeoTIFF (EPSG:27572) strip by strip."""
    import rasterio
    from affine import Affine

    k = membership.shape[1]
    field = np.concatenate([membership, density[:, None]], axis=1).reshape(
        grid.n_rows, grid.n_cols, k + 1
    )
    height = int(round(grid.n_rows * grid.cell / pixel))
    width = int(round(grid.n_cols * grid.cell / pixel))
    xmin, _, _, ymax = grid.bounds
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 4,
        "height": height,
        "width": width,
        "crs": CRS,
        "transform": Affine(pixel, 0.0, xmin, 0.0, -pixel, ymax),
        "compress": "deflate",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "pixel",
    }
    rng = np.random.default_rng([seed, 5001])
    strip = 256
    xs_m = xmin + (np.arange(width) + 0.5) * pixel
    along_x = _interp_axis(field, (xs_m - xmin) / grid.cell, axis=1).astype(np.float32)
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, height, strip):
            check_cancelled()
            r1 = min(height, r0 + strip)
            ys_m = ymax - (np.arange(r0, r1) + 0.5) * pixel
            local = _interp_axis(along_x, (ys_m - grid.y0) / grid.cell, axis=0)
            rgbn = _render(local, xs_m, ys_m, seed, rng)
            dst.write(np.moveaxis(rgbn, 2, 0), window=((r0, r1), (0, width)))
    Path(str(path) + ".aux.xml").unlink(missing_ok=True)


def _render(local: np.ndarray, xs: np.ndarray, ys: np.ndarray, seed: int, rng) -> np.ndarray:
    """RGB + NIR uint8 pixels (rows, cols, 4) from the local mixture and density."""
    m, dens = local[..., :-1], local[..., -1]
    X, Y = np.meshgrid(xs, ys)
    bx, by = np.floor(X / BLOCK), np.floor(Y / BLOCK)
    fx, fy = X - bx * BLOCK, Y - by * BLOCK
    street = (fx < STREET) | (fy < STREET)
    built_share = np.clip(m @ BUILT * (0.75 + 0.25 * np.tanh(dens)), 0, 1)
    u_block = _hash01(bx, by, seed, 1)
    lx, ly = np.floor(X / 20.0), np.floor(Y / 20.0)  # 20 m lots: houses or one big building
    compact = m[..., 0] + m[..., 1] + m[..., 2] + m[..., 6]
    u_lot = _hash01(lx, ly, seed, 2)
    inset = (fx > STREET + 4) & (fy > STREET + 4) & (fx < BLOCK - 4) & (fy < BLOCK - 4)
    roof = ~street & inset & (u_block < built_share) & (u_lot < 0.5 + 0.5 * compact)
    veg_share = np.clip(m[..., 4] * 1.0 + m[..., 5] * 0.6 + m[..., 3] * 0.4 + 0.1, 0, 1)
    green = _hash01(np.floor(X / 7), np.floor(Y / 7), seed, 3) < veg_share
    tint = 0.85 + 0.3 * _hash01(bx, by, seed, 4)[..., None]
    rgb = np.where(green[..., None], VEG, PAVING)
    rgb = np.where(roof[..., None], (m @ ROOF) * tint, rgb)
    rgb = np.where(street[..., None], ASPHALT, rgb)
    nir = np.where(green, 185.0, 95.0)
    nir = np.where(roof, 65.0, nir)
    nir = np.where(street, 45.0, nir)
    out = np.concatenate([rgb, nir[..., None]], axis=2)
    out += rng.normal(0, 7.0, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def street_points(
    grid: CityGrid,
    tile_region: np.ndarray,
    n_regions: int,
    per_region: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, region index) of points on street axes, ``per_region`` per region."""
    order = np.argsort(tile_region, kind="stable")
    starts = np.searchsorted(tile_region[order], np.arange(n_regions))
    ends = np.searchsorted(tile_region[order], np.arange(n_regions), side="right")
    xs, ys, regions = [], [], []
    cx, cy = grid.centres()
    xmin, ymin, xmax, ymax = grid.bounds
    for r in range(n_regions):
        tiles = order[starts[r] : ends[r]]
        if len(tiles) == 0:
            continue
        pick = rng.choice(tiles, per_region)
        x = cx[pick] + rng.uniform(-50, 50, per_region)
        y = cy[pick] + rng.uniform(-50, 50, per_region)
        along_x = rng.uniform(size=per_region) < 0.5  # snap to an east-west or north-south street
        x = np.where(along_x, x, np.floor(x / BLOCK) * BLOCK + STREET / 2)
        y = np.where(along_x, np.floor(y / BLOCK) * BLOCK + STREET / 2, y)
        inside = (x > xmin) & (x < xmax) & (y > ymin) & (y < ymax)
        xs.append(x[inside])
        ys.append(y[inside])
        regions.append(np.full(int(inside.sum()), r))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(regions)


def street_view(mix: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """A 64 x 64 RGB picture: sky, facades with windows, trees and the road."""
    size = 64
    img = np.zeros((size, size, 3))
    rows = np.arange(size)[:, None]
    sky_share = float(np.clip(mix @ SKY - 0.06 * np.tanh(density) + rng.normal(0, 0.05), 0.05, 0.8))
    horizon = int(size * 0.8)
    sky_col = np.array([150, 190, 235]) * rng.uniform(0.85, 1.05)
    img[:] = sky_col * (0.85 + 0.15 * rows[..., None] / size)
    # facades: random widths, height from the sky share
    x = 0
    facade = mix @ FACADE
    while x < size:
        w = int(rng.integers(8, 20))
        top = int(np.clip(size * sky_share + rng.normal(0, 4), 2, horizon - 4))
        colour = facade * rng.uniform(0.85, 1.1)
        img[top:horizon, x : x + w] = colour
        win = (np.arange(top + 2, horizon - 2)[:, None] % 6 < 3) & (
            np.arange(x + 1, min(size, x + w) - 1)[None, :] % 5 < 2
        )
        block = img[top + 2 : horizon - 2, x + 1 : min(size, x + w) - 1]
        block[win] = block[win] * 0.45
        x += w
    # trees: vegetation share in the mixture
    veg = float(mix[4] + 0.6 * mix[5] + 0.4 * mix[3] + 0.05)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(int(rng.poisson(6 * veg))):
        cx, cy, r = rng.uniform(0, size), rng.uniform(size * 0.35, horizon), rng.uniform(4, 11)
        disk = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[disk] = VEG * rng.uniform(0.8, 1.2)
    img[horizon:] = ASPHALT
    img[horizon + 6 : horizon + 7, ::8] = 230
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
