"""k-means on canonical neighbourhood features: the strong spatial baseline for traffic tiles.

Importable with torch and numpy alone.
"""

from urbansig.models.spatial_kmeans.canonical import CanonicalProjection
from urbansig.models.spatial_kmeans.method import METHOD, SpatialKMeans, SpatialSettings

__all__ = ["METHOD", "CanonicalProjection", "SpatialKMeans", "SpatialSettings"]
