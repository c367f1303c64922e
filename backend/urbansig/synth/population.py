"""Residents, jobs and activity per tile: land use x radial gradient x log-normal scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.synth.grid import CityGrid, smooth_field
from urbansig.synth.landuse import LandUse

# Per land-use class (order of LAND_USES): residents per tile at the centre, jobs per tile,
# and relative mobile activity (visitors, workers and residents together).
_RESIDENTS = np.array([260.0, 40.0, 120.0, 70.0, 3.0, 90.0, 20.0])
_JOBS = np.array([40.0, 420.0, 150.0, 160.0, 4.0, 10.0, 90.0])
_ACTIVITY = np.array([1.0, 1.7, 1.6, 1.2, 0.3, 0.45, 2.2])


@dataclass(frozen=True)
class Population:
    """Per-tile residents, jobs and the traffic volume scale (tile-id order)."""

    residents: np.ndarray  # int
    jobs: np.ndarray  # float expected jobs
    activity: np.ndarray  # float traffic scale, heavy tailed
    centrality: np.ndarray  # 0..1, 1 at the centre


def make_population(grid: CityGrid, land: LandUse, rng: np.random.Generator) -> Population:
    """Residents and jobs from the land-use mixture, a radial gradient and log-normal noise."""
    shape = (grid.n_rows, grid.n_cols)
    radial = grid.radial().ravel()
    centrality = np.exp(-1.6 * radial)
    gradient = 0.35 + 0.65 * centrality
    m = land.membership
    smooth = smooth_field(rng, shape, max(2.0, grid.n_rows / 25)).ravel()
    resident_scale = np.exp(0.3 * smooth + 0.35 * rng.standard_normal(grid.n_tiles))
    residents = rng.poisson(m @ _RESIDENTS * gradient * resident_scale)
    jobs = m @ _JOBS * gradient * np.exp(0.45 * rng.standard_normal(grid.n_tiles))
    # Heavy-tailed traffic scale: a smooth part (neighbourhoods) and a per-tile part.
    smooth_act = smooth_field(rng, shape, max(2.0, grid.n_rows / 30)).ravel()
    tile_scale = np.exp(0.45 * smooth_act + 0.75 * rng.standard_normal(grid.n_tiles))
    activity = (m @ _ACTIVITY) * (0.25 + centrality) * tile_scale
    return Population(residents.astype(np.int64), jobs, activity, centrality)
