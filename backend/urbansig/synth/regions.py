"""H3 regions over the city and their indicators (population, housing price, crime).

Indicators come from several latent factors plus noise, so none is a function of one input:
housing price from centrality, the green share around the region, a smooth deprivation field
and noise; crime from the nightlife and transport share, deprivation, exposure (residents and
jobs) and Poisson noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from pyproj import Transformer

from urbansig.columns import REGION_ID
from urbansig.grids import extent_area, h3_grid, h3_neighbours
from urbansig.synth.grid import CRS, CityGrid, smooth_field
from urbansig.synth.landuse import BUSINESS, COMMERCIAL, HUB, LAND_USES, PARK, UNIVERSITY
from urbansig.synth.population import Population


@dataclass
class Regions:
    """Region polygons with truth columns, and the region index of each tile."""

    frame: gpd.GeoDataFrame  # region_id, land_use, ..., geometry (EPSG:27572)
    tile_region: np.ndarray  # (n_tiles,) index into frame rows

    def region_of(self, x: np.ndarray, y: np.ndarray, grid: CityGrid) -> np.ndarray:
        """Region row index of points (EPSG:27572) via their tile."""
        return self.tile_region[grid.tile_of(x, y)]


def tile_cells(grid: CityGrid, resolution: int) -> np.ndarray:
    """H3 cell of every tile centre."""
    x, y = grid.centres()
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    return np.array([h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon)])


def make_regions(
    grid: CityGrid,
    membership: np.ndarray,
    label: np.ndarray,
    pop: Population,
    resolution: int,
    rng: np.random.Generator,
) -> Regions:
    """Regions holding at least one tile centre, with land use, population and indicators."""
    cells = h3_grid(extent_area(*grid.bounds, CRS), resolution, 10**7, CRS)
    tile_cell = tile_cells(grid, resolution)
    present = np.unique(tile_cell)
    cells = cells[cells[REGION_ID].isin(present)].reset_index(drop=True)
    index = pd.Index(cells[REGION_ID])
    tile_region = index.get_indexer(tile_cell)
    n = len(cells)
    k = membership.shape[1]
    n_tiles = np.bincount(tile_region, minlength=n).astype(float)
    share = (
        np.stack(
            [np.bincount(tile_region, membership[:, j], minlength=n) for j in range(k)], axis=1
        )
        / n_tiles[:, None]
    )
    counts = np.stack([np.bincount(tile_region[label == j], minlength=n) for j in range(k)], 1)
    land_use = counts.argmax(axis=1)
    residents = np.bincount(tile_region, pop.residents, minlength=n)
    jobs = np.bincount(tile_region, pop.jobs, minlength=n)
    centrality = np.bincount(tile_region, pop.centrality, minlength=n) / n_tiles
    deprivation_tiles = smooth_field(rng, (grid.n_rows, grid.n_cols), grid.n_rows / 10).ravel()
    deprivation = np.bincount(tile_region, deprivation_tiles, minlength=n) / n_tiles
    neighbours = h3_neighbours(list(cells[REGION_ID]))
    green = share[:, PARK]
    green_around = np.array([green[[i, *nb]].mean() for i, nb in enumerate(neighbours)])

    area_km2 = n_tiles * (grid.cell / 1000.0) ** 2
    log_price = (
        np.log(2600.0)
        + 0.9 * centrality
        + 0.6 * green_around
        + 0.25 * share[:, BUSINESS]
        - 0.18 * deprivation
        - 0.2 * share[:, HUB]
        + 0.12 * rng.standard_normal(n)
    )
    exposure = residents + 0.4 * jobs + 20.0
    log_rate = (
        np.log(35.0)
        + 1.3 * share[:, COMMERCIAL]
        + 1.0 * share[:, HUB]
        + 0.35 * deprivation
        + 0.3 * share[:, UNIVERSITY]
        - 0.6 * green
        + 0.25 * rng.standard_normal(n)
    )
    incidents = rng.poisson(np.exp(log_rate) * exposure / 1000.0)
    frame = gpd.GeoDataFrame(
        {
            REGION_ID: cells[REGION_ID].to_numpy(),
            "land_use": land_use.astype(np.int64),
            "land_use_name": np.array(LAND_USES)[land_use],
            "population": residents.astype(np.int64),
            "population_density": np.round(residents / area_km2, 1),
            "housing_price": np.round(np.exp(log_price), -1),
            "crime_rate": np.round(incidents / exposure * 1000.0, 2),
            "trip_count": np.zeros(n, dtype=np.int64),
            "station_ridership": np.zeros(n, dtype=np.int64),
            "in_flow": np.zeros(n, dtype=np.int64),
            "out_flow": np.zeros(n, dtype=np.int64),
        },
        geometry=cells.geometry.to_numpy(),
        crs=CRS,
    )
    return Regions(frame, tile_region)


INDICATOR_COLUMNS = (
    "land_use",
    "land_use_name",
    "population",
    "population_density",
    "housing_price",
    "crime_rate",
    "trip_count",
    "station_ridership",
    "in_flow",
    "out_flow",
)
