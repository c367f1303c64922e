"""SpatialKMeans: k-means on canonical neighbourhood features, as a Method.

The strongest simple baseline for land-use clusters found in the validation cities: each
tile's normalised profile is projected onto the directions in which it agrees with its
neighbourhood (``canonical.py``) and clustered by k-means. With ``n_clusters`` 0 the number
of clusters is chosen in ``k_min..k_max`` by the Calinski-Harabasz index of the k-means
partitions of those features (the curve is kept in ``k_curve``). A fitted model applies
to another city with the same services and layout (its projection and centroids are
kept). Importable with torch and numpy alone (scikit-learn's k-means is imported when
fitting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from urbansig import parameters
from urbansig.models.base import Method
from urbansig.models.spatial_kmeans.canonical import CanonicalProjection
from urbansig.models.traffic import TrafficData, TrafficLayout
from urbansig.protocol import BadInput
from urbansig.training import ProgressSink

TASK = "clustertraffictiles"
METHOD = "spatial_kmeans"
VERSION = 1
VIEWS = ("both", "own")


def _default(key: str) -> Any:
    return parameters.default(TASK, key)


@dataclass
class SpatialSettings:
    """Settings; those that are algorithm parameters default to the parameter table."""

    n_clusters: int = 0  # 0: chosen in k_min..k_max
    k_min: int = field(default_factory=lambda: _default("k_min"))
    k_max: int = field(default_factory=lambda: _default("k_max"))
    canonical_components: int = field(default_factory=lambda: _default("canonical_components"))
    normalisation: str = field(default_factory=lambda: _default("normalisation"))
    pca_components: int = 20
    views: str = "both"
    n_init: int = 10
    fit_sample: int = 20_000

    def __post_init__(self) -> None:
        if self.n_clusters == 1 or self.n_clusters < 0:
            raise ValueError("n_clusters must be 0 (automatic) or at least 2")
        if self.views not in VIEWS:
            raise ValueError(f"views must be one of {VIEWS}")


class SpatialKMeans(TrafficLayout, Method[TrafficData, np.ndarray]):
    """k-means on the canonical features of tile and neighbourhood signatures."""

    method = METHOD
    version = VERSION

    def __init__(
        self, settings: SpatialSettings | None = None, device: str = "cpu", seed: int = 0
    ) -> None:
        self.settings = settings or SpatialSettings()
        self.device = device  # numpy only: kept for the common interface
        self.seed = int(seed)
        self.projection: CanonicalProjection | None = None
        self.centroids: np.ndarray | None = None
        self.spread = 1.0  # mean squared distance of a tile to its centroid, per feature
        self.services: list[str] | None = None
        self.layout: str | None = None
        self.n_steps: int | None = None
        self.k_curve: list[dict[str, float]] = []
        self.saved_metrics: dict[str, Any] = {}
        self.training_summary: dict[str, Any] = {}

    @property
    def n_clusters(self) -> int:
        if self.centroids is not None:
            return len(self.centroids)
        return self.settings.n_clusters

    @property
    def normalisation(self) -> str:
        return self.settings.normalisation

    k_score = "score = Calinski-Harabasz index of the k-means partition of the features"

    def describe(self) -> str:
        """The method as it ran, for the report."""
        s = self.settings
        return (
            f"Spatial k-means: each tile's normalised profile reduced to {s.pca_components} "
            f"principal components, projected on the {s.canonical_components} canonical "
            "directions it shares with its neighbours' mean (canonical correlation analysis: "
            "what adjacent tiles have in common, not one tile's noise), weighted by their "
            f"correlations ({s.views} views), then k-means ({s.n_init} starts)."
        )

    # -- fitting ------------------------------------------------------------------------
    def fit(self, data: TrafficData, events: ProgressSink | None = None) -> Self:
        import time

        s = self.settings
        started = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        n = data.n_tiles
        sample = np.sort(rng.choice(n, min(n, s.fit_sample), replace=False))
        x = self._signatures(data)
        indptr, indices = data.csr()
        _progress(events, 0.05, "canonical features")
        self.projection = CanonicalProjection.fit(
            x, indptr, indices, s.pca_components, s.canonical_components, sample
        )
        features = self.projection.features(x, indptr, indices, s.views)
        k = s.n_clusters or self._choose_k(features[sample], events)
        if n < k:
            raise ValueError(f"{n} tiles cannot make {k} clusters")
        _progress(events, 0.8, f"k-means with {k} clusters")
        from sklearn.cluster import KMeans

        km = KMeans(k, n_init=s.n_init, random_state=self.seed).fit(features[sample])
        self.centroids = km.cluster_centers_.astype(np.float32)
        own = ((features - self.centroids[km.predict(features)]) ** 2).sum(axis=1)
        self.spread = max(float(own.mean()) / features.shape[1], 1e-12)
        self.services, self.layout = data.service_names, data.layout
        self.n_steps = int(data.values.shape[2])
        seconds = time.perf_counter() - started
        self.training_summary = {"seconds": seconds, "tiles_per_second": n / max(seconds, 1e-9)}
        _progress(events, 1.0, "fitted")
        return self

    def _choose_k(self, features: np.ndarray, events: ProgressSink | None) -> int:
        """K in k_min..k_max with the highest Calinski-Harabasz index (k-means partitions)."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import calinski_harabasz_score, silhouette_score

        s = self.settings
        top = min(s.k_max, len(features) - 1)
        ks = list(range(s.k_min, top + 1))
        self.k_curve = []
        rng = np.random.default_rng(self.seed)
        pick = rng.choice(len(features), min(3000, len(features)), replace=False)
        for i, k in enumerate(ks):
            if events is not None:
                events.check_cancelled()
            _progress(events, 0.1 + 0.7 * i / len(ks), f"trying {k} clusters")
            labels = KMeans(k, n_init=3, random_state=self.seed).fit_predict(features)
            self.k_curve.append(
                {
                    "k": k,
                    "score": float(calinski_harabasz_score(features, labels)),
                    "silhouette": float(silhouette_score(features[pick], labels[pick])),
                }
            )
        return int(max(self.k_curve, key=lambda row: row["score"])["k"])

    # -- applying -----------------------------------------------------------------------
    def _signatures(self, data: TrafficData) -> np.ndarray:
        from urbansig.models.contrastive_clustering.normalise import normalise_profiles

        x = normalise_profiles(data.values, self.settings.normalisation)
        return x.reshape(data.n_tiles, -1)

    def infer(
        self, data: TrafficData, events: ProgressSink | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(canonical features (n, c), cluster probabilities (n, K))``; probabilities from
        the squared distances to the centroids, scaled by the fitted within-cluster spread."""
        if self.projection is None or self.centroids is None:
            raise RuntimeError("fit or load the model first")
        self.check_layout(data.values.shape[1], data.values.shape[2])
        indptr, indices = data.csr()
        features = self.projection.features(
            self._signatures(data), indptr, indices, self.settings.views
        )
        d2 = ((features[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        logits = -d2 / (2 * self.spread * features.shape[1])
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return features, (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)

    def transform(self, data: TrafficData) -> np.ndarray:
        """The canonical features of each tile ``(n, c)``."""
        return self.infer(data)[0]

    def predict(self, data: TrafficData) -> tuple[np.ndarray, np.ndarray]:
        """``(cluster (n,) int64, confidence (n,))``: the nearest centroid and its probability."""
        probs = self.infer(data)[1]
        return probs.argmax(axis=1).astype(np.int64), probs.max(axis=1)

    # -- files --------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "settings": asdict(self.settings),
            "seed": self.seed,
            "n_clusters": self.n_clusters,
            "spread": self.spread,
            "services": self.services,
            "layout": self.layout,
            "n_steps": self.n_steps,
            "k_curve": self.k_curve,
            "training": self.training_summary,
        }

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        from urbansig.models.serialization import save_model

        if self.projection is None or self.centroids is None:
            raise RuntimeError("fit the model before saving it")
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self._arrays().items()}
        return save_model(path, METHOD, {**self.config(), "metrics": metrics or {}}, state)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.projection is not None and self.centroids is not None
        return {**self.projection.arrays(), "centroids": self.centroids}

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        from urbansig.models.serialization import load_model

        config, state = load_model(path, METHOD, parameter)
        if config.get("version") != VERSION:
            raise BadInput(
                f"{parameter}: {path} was written by another version of this method (model "
                f"version {config.get('version')}, this one reads {VERSION}); fit it again."
            )
        try:
            model = cls(SpatialSettings(**config["settings"]), str(device), config["seed"])
            arrays = {k: v.numpy() for k, v in state.items()}
            model.centroids = arrays.pop("centroids")
            model.projection = CanonicalProjection(**arrays)
            model.spread = float(config["spread"])
            model.services, model.layout = config["services"], config["layout"]
            model.n_steps = config["n_steps"]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(
                f"{parameter}: {path} is a damaged or incompatible model ({exc})."
            ) from exc
        model.k_curve = config.get("k_curve", [])
        model.training_summary = config.get("training", {})
        model.saved_metrics = config.get("metrics", {})
        return model


def _progress(events: ProgressSink | None, fraction: float, message: str) -> None:
    if events is not None:
        events.progress(fraction, message)
