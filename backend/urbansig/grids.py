"""Region grids: H3 cells covering an area, with their polygons and adjacency."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import shapely
from shapely.geometry import Polygon, box

from urbansig.columns import REGION_ID
from urbansig.protocol import BadInput

H3_MIN_RESOLUTION, H3_MAX_RESOLUTION = 0, 15


def estimate_h3_cells(area_wgs84: gpd.GeoSeries, resolution: int) -> int:
    """Expected number of cells covering the geometries (equal-area estimate)."""
    area_km2 = float(area_wgs84.to_crs("EPSG:6933").area.sum()) / 1e6
    return int(area_km2 / h3.average_hexagon_area(resolution, unit="km^2")) + 1


def h3_grid(
    area: gpd.GeoSeries, resolution: int, max_cells: int = 200_000, target_crs: str | None = None
) -> gpd.GeoDataFrame:
    """H3 cells at ``resolution`` whose area overlaps ``area``, as polygons with ``region_id``.

    ``area`` is in any CRS; the grid is returned in ``target_crs`` (default: ``area``'s CRS).
    """
    if not H3_MIN_RESOLUTION <= resolution <= H3_MAX_RESOLUTION:
        raise BadInput(
            f"RESOLUTION must be between {H3_MIN_RESOLUTION} and {H3_MAX_RESOLUTION}, "
            f"not {resolution}."
        )
    area = area[~area.is_empty & area.notna()]
    wgs84 = area.to_crs("EPSG:4326")
    if wgs84.empty or float(shapely.area(wgs84.values).sum()) == 0.0:
        raise BadInput("EXTENT/INPUT: the area is empty; give a non-empty extent or polygons.")
    expected = estimate_h3_cells(wgs84, resolution)
    if expected > max_cells:
        raise BadInput(
            f"RESOLUTION {resolution} would make about {expected:,} H3 cells, more than "
            f"MAX_CELLS ({max_cells:,}); choose a coarser resolution or a smaller area."
        )
    cells: set[str] = set()
    for geom in shapely.get_parts(shapely.union_all(wgs84.values)):
        shape = h3.geo_to_h3shape(geom.__geo_interface__)
        cells.update(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    ids = sorted(cells)
    polygons = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in ids]
    grid = gpd.GeoDataFrame({REGION_ID: ids}, geometry=polygons, crs="EPSG:4326")
    return grid.to_crs(target_crs or area.crs)


def extent_area(xmin: float, ymin: float, xmax: float, ymax: float, crs: str) -> gpd.GeoSeries:
    """A one-rectangle GeoSeries for an extent given in ``crs``."""
    if not (np.isfinite([xmin, ymin, xmax, ymax]).all() and xmax > xmin and ymax > ymin):
        raise BadInput(
            f"EXTENT {xmin},{ymin},{xmax},{ymax} is empty; give xmin < xmax and ymin < ymax."
        )
    return gpd.GeoSeries([box(xmin, ymin, xmax, ymax)], crs=crs)


def h3_neighbours(region_ids: list[str]) -> list[list[int]]:
    """For each H3 cell, the positions of its grid neighbours present in ``region_ids``."""
    index = {rid: i for i, rid in enumerate(region_ids)}
    return [
        [index[n] for n in h3.grid_disk(rid, 1) if n != rid and n in index] for rid in region_ids
    ]


def polygon_neighbours(geometries: gpd.GeoSeries, tolerance: float = 0.01) -> list[list[int]]:
    """For each polygon, the positions of the polygons that touch it (edges or corners: the
    8 neighbours of a square tile, the 6 of a hexagon). Polygons closer than ``tolerance``
    times the median polygon width count as touching, so tiles with rounding gaps or
    overlaps from a reprojection still connect."""
    geoms = np.asarray(geometries.values if hasattr(geometries, "values") else geometries)
    if len(geoms) == 0:
        return []
    bounds = shapely.bounds(geoms)
    sides = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    width = float(np.nanmedian(sides))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=max(width, 0.0) * tolerance)
    keep = left != right
    left, right = left[keep], right[keep]
    order = np.lexsort((right, left))
    left, right = left[order], right[order]
    split = np.searchsorted(left, np.arange(len(geoms) + 1))
    return [right[split[i] : split[i + 1]].tolist() for i in range(len(geoms))]
