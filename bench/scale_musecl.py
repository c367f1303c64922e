"""MuseCL at Paris scale through qgis_process: 141,000 regions with POI counts and in/out
flows (the non-image modalities), and with a remote-sensing raster too, timed with
/usr/bin/time -v.

    PYTHONPATH=backend .venv/backend/bin/python bench/scale_musecl.py --out /tmp/musecl_scale [--images]

Writes (once) the 100 m tiles of scale_paris as regions with ``inflow``/``outflow`` fields, a
POI-count table (26 categories, keyed by ``region_id``) and, with ``--images``, a 4-band
10 m GeoTIFF over the city; the three follow one hidden land-use map (three uses in smooth
patches), which the ablation-free run does not see. Then runs
``qgis_process run urbansig:embedregionsmusecl`` with the inputs, ``OUTPUT`` and ``REPORT``
and every other parameter at its default, and prints wall time and peak resident memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scale_paris import CELL_M, run_qgis, write_tiles

CATEGORIES = 26
PIXEL_M = 10.0


def land_use(tiles: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """A use (0, 1, 2) per tile in smooth patches: the argmax of three blurred noise maps."""
    from scipy.ndimage import gaussian_filter

    side = int(np.ceil(np.sqrt(tiles)))
    rng = np.random.default_rng(seed)
    fields = [gaussian_filter(rng.normal(size=(side + 1, side)), 6) for _ in range(3)]
    use = np.argmax(np.stack(fields), 0).ravel()[:tiles]
    return use, side


def write_inputs(out: Path, tiles: int, images: bool) -> dict[str, Path]:
    import geopandas as gpd
    import pandas as pd

    use, side = land_use(tiles)
    rng = np.random.default_rng(1)
    paths = {"regions": out / "regions_flows.gpkg", "views": out / "poi_categories.csv"}
    if not paths["regions"].exists():
        frame = gpd.read_file(write_tiles(out, tiles)).rename(columns={"tile_id": "region_id"})
        frame["inflow"] = rng.poisson(np.array([300, 80, 30])[use])
        frame["outflow"] = rng.poisson(np.array([60, 250, 30])[use])
        partial = out / "regions_flows.partial.gpkg"
        frame.to_file(partial, engine="pyogrio")
        partial.replace(paths["regions"])
    if not paths["views"].exists():
        rates = rng.gamma(1.0, 2.0, (3, CATEGORIES))
        counts = rng.poisson(rates[use])
        table = pd.DataFrame(counts, columns=[f"poi_{c:02d}" for c in range(CATEGORIES)])
        table.insert(0, "region_id", np.arange(tiles) + 1000)
        table.to_csv(out / "poi_categories.partial.csv", index=False)
        (out / "poi_categories.partial.csv").replace(paths["views"])
    if images:
        paths["raster"] = write_raster(out / "remote_sensing.tif", use, side)
    return paths


def write_raster(path: Path, use: np.ndarray, side: int) -> Path:
    """4-band uint8 10 m raster in Lambert-93: a colour per land use, texture noise."""
    import rasterio
    from rasterio.transform import from_origin

    if path.exists():
        return path
    per = int(CELL_M / PIXEL_M)
    rows = int(np.ceil(len(use) / side))
    grid = np.zeros(rows * side, dtype=np.int64)
    grid[: len(use)] = use
    grid = grid.reshape(rows, side)[::-1]  # row 0 of the raster is the north
    colours = np.array([[150, 140, 130, 60], [90, 90, 100, 40], [60, 130, 60, 200]], np.float32)
    rng = np.random.default_rng(2)
    transform = from_origin(652_000, 6_862_000 + rows * CELL_M, PIXEL_M, PIXEL_M)
    partial = path.with_suffix(".partial.tif")
    profile = dict(
        driver="GTiff", width=side * per, height=rows * per, count=4, dtype="uint8",
        crs="EPSG:2154", transform=transform, tiled=True, compress="deflate",
    )  # fmt: skip
    with rasterio.open(partial, "w", **profile) as dst:
        for r in range(rows):  # one row of tiles at a time: bounded memory
            block = np.repeat(np.repeat(colours[grid[r]], per, 0)[None], per, 0)  # (per, W, 4)
            block = block + rng.normal(0, 12, block.shape)
            window = rasterio.windows.Window(0, r * per, side * per, per)
            dst.write(np.clip(block, 0, 255).astype(np.uint8).transpose(2, 0, 1), window=window)
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiles", type=int, default=141_000)
    parser.add_argument("--images", action="store_true", help="add the remote-sensing raster")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = write_inputs(args.out, args.tiles, args.images)
    print(f"inputs ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    name = "with_images" if args.images else "tables"
    run_dir = args.out / name
    params = [
        f"REGIONS={paths['regions']}",
        "ID_FIELD=region_id",
        "IN_FIELD=inflow",
        "OUT_FIELD=outflow",
        f"VIEWS={paths['views']}",
        f"OUTPUT={run_dir / 'embedded.gpkg'}",
        f"REPORT={run_dir / 'report.html'}",
    ]
    if args.images:
        params.append(f"RASTER={paths['raster']}")
    run = run_qgis("embedregionsmusecl", params, run_dir)
    print("\n| modalities | regions | wall min | peak GB |")
    print("|---|---:|---:|---:|")
    modalities = "rs, poi_categories, flow" if args.images else "poi_categories, flow"
    print(
        f"| {modalities} | {args.tiles:,} | {run['wall_s'] / 60:.1f} | "
        f"{run['peak_mib'] / 1024:.1f} |"
    )


if __name__ == "__main__":
    main()
