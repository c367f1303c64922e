"""The city's tile grid: 100 m squares in EPSG:27572, NetMob tile ids, sizes and smooth fields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CRS = "EPSG:27572"
CITY = "Demoville"
CELL = 100.0
# Centre of the city in Lambert II etendu (EPSG:27572): Lyon, rounded to 100 m.
CENTRE_X, CENTRE_Y = 794_300.0, 2_087_500.0

# size -> (n_rows, n_cols, default users, raster pixel size in metres)
SIZES: dict[str, tuple[int, int, int, float]] = {
    "tiny": (40, 40, 60, 5.0),
    "small": (100, 100, 300, 5.0),
    "medium": (200, 200, 600, 10.0),
    "large": (320, 320, 1000, 10.0),
}


@dataclass(frozen=True)
class CityGrid:
    """A regular grid of ``n_rows`` x ``n_cols`` tiles; row 0 is the bottom (southern) row."""

    n_rows: int
    n_cols: int
    x0: float  # left edge (EPSG:27572 metres)
    y0: float  # bottom edge
    cell: float = CELL

    @classmethod
    def for_size(cls, size: str) -> CityGrid:
        n_rows, n_cols = SIZES[size][:2]
        x0 = CENTRE_X - round(n_cols / 2) * CELL
        y0 = CENTRE_Y - round(n_rows / 2) * CELL
        return cls(n_rows, n_cols, x0, y0)

    @property
    def n_tiles(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (
            self.x0,
            self.y0,
            self.x0 + self.n_cols * self.cell,
            self.y0 + self.n_rows * self.cell,
        )

    def tile_ids(self) -> np.ndarray:
        """All tile ids, ``row * n_cols + col``, in row-major order (row 0 at the bottom)."""
        return np.arange(self.n_tiles, dtype=np.int64)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Tile centre coordinates (x, y) in EPSG:27572, flat in tile-id order."""
        rows, cols = np.divmod(self.tile_ids(), self.n_cols)
        return self.x0 + (cols + 0.5) * self.cell, self.y0 + (rows + 0.5) * self.cell

    def tile_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Tile ids of points (clipped into the grid)."""
        col = np.clip(((np.asarray(x) - self.x0) // self.cell).astype(np.int64), 0, self.n_cols - 1)
        row = np.clip(((np.asarray(y) - self.y0) // self.cell).astype(np.int64), 0, self.n_rows - 1)
        return row * self.n_cols + col

    def radial(self) -> np.ndarray:
        """Distance of each tile centre to the city centre, in units of the half-diagonal-ish size.

        0 at the centre, about 1 at the middle of the edges; shape (n_rows, n_cols).
        """
        rows, cols = np.mgrid[0 : self.n_rows, 0 : self.n_cols].astype(np.float64)
        dy = (rows + 0.5 - self.n_rows / 2) / (self.n_rows / 2)
        dx = (cols + 0.5 - self.n_cols / 2) / (self.n_cols / 2)
        return np.hypot(dx, dy)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A smooth Gaussian random field with zero mean and unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=sigma, mode="reflect")
    std = float(field.std())
    return (field - field.mean()) / (std if std > 0 else 1.0)
