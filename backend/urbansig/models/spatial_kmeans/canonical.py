"""Canonical features: the directions in which a tile's signature agrees with its
neighbourhood's (canonical correlation analysis between the two).

A tile's normalised profile is reduced by PCA to ``z``; ``y`` is the mean ``z`` of its
neighbours. CCA finds paired directions ``a_j, b_j`` maximising corr(z a_j, y b_j): what a
tile shares with the tiles around it (its land use), not what is its own (noise, service
tastes), which changes from tile to tile. Features are the canonical variates weighted by
their correlations. All numpy (importable with torch and numpy alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EIGEN_FLOOR = 1e-6  # relative floor of covariance eigenvalues before whitening
TILES_PER_DIMENSION = 10  # CCA on few tiles: at most n / 10 principal components


@dataclass
class CanonicalProjection:
    """PCA then CCA, fitted on one city, applicable to others with the same layout."""

    mean: np.ndarray  # (d,) profile mean
    components: np.ndarray  # (p, d) principal directions
    z_mean: np.ndarray  # (p,)
    y_mean: np.ndarray  # (p,)
    own: np.ndarray  # (p, c) canonical directions of the tile's own signature
    around: np.ndarray  # (p, c) canonical directions of its neighbours' mean
    correlations: np.ndarray  # (c,) canonical correlations, descending

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        n_pcs: int,
        n_canonical: int,
        sample: np.ndarray,
    ) -> CanonicalProjection:
        """Fit on flattened signatures ``x (n, d)``; PCA on the rows ``sample``."""
        from urbansig.models.contrastive_clustering.normalise import neighbour_mean

        rows = x[sample].astype(np.float64)
        mean = rows.mean(axis=0)
        n_pcs = max(1, min(n_pcs, rows.shape[1], len(rows) - 1))
        n_pcs = min(n_pcs, max(2, len(x) // TILES_PER_DIMENSION))  # else correlations are spurious
        _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
        components = vt[:n_pcs]
        z = (x - mean) @ components.T
        y = neighbour_mean(z.astype(np.float32), indptr, indices).astype(np.float64)
        z_mean, y_mean = z.mean(axis=0), y.mean(axis=0)
        zc, yc = z - z_mean, y - y_mean
        n = len(z)
        wz, wy = _inverse_sqrt(zc.T @ zc / n), _inverse_sqrt(yc.T @ yc / n)
        u, s, vt = np.linalg.svd(wz @ (zc.T @ yc / n) @ wy)
        c = max(1, min(n_canonical, len(s)))
        return cls(mean, components, z_mean, y_mean, wz @ u[:, :c], wy @ vt.T[:, :c], s[:c])

    def features(
        self, x: np.ndarray, indptr: np.ndarray, indices: np.ndarray, views: str = "both"
    ) -> np.ndarray:
        """Canonical features ``(n, c)`` float32: the own variates (``own``) or the mean of
        the own and the neighbourhood variates (``both``), times the correlations."""
        from urbansig.models.contrastive_clustering.normalise import neighbour_mean

        z = (x - self.mean) @ self.components.T
        f = (z - self.z_mean) @ self.own
        if views == "both":
            y = neighbour_mean(z.astype(np.float32), indptr, indices).astype(np.float64)
            f = (f + (y - self.y_mean) @ self.around) / 2
        return (f * self.correlations).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in vars(self).items()}


def _inverse_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root, eigenvalues floored (collinear directions stay finite)."""
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, EIGEN_FLOOR * max(float(w.max()), 1e-12))
    return (v / np.sqrt(w)) @ v.T
