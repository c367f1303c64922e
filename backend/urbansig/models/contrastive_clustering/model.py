"""``TrafficClusterer``: Contrastive Clustering of tiles' traffic signatures, fit/predict/save/load."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from urbansig import parameters
from urbansig.models.base import Method
from urbansig.models.contrastive_clustering.augment import AugmentConfig, TrafficAugment
from urbansig.models.contrastive_clustering.encoder import (
    ENCODERS,
    ContrastiveClusteringNet,
    PrototypeHead,
)
from urbansig.models.contrastive_clustering.losses import cluster_loss, instance_loss
from urbansig.models.contrastive_clustering.normalise import (
    NORMALISATIONS,
    neighbour_mean,
    normalise_profiles,
    to_csr,
)
from urbansig.models.traffic import TrafficData, TrafficLayout
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory, ProgressSink, fit, resolve_device

TASK = "clustertraffictiles"
METHOD = "contrastive_clustering"
VERSION = 2  # 2: neighbour pairs, prototype refinement, neighbour_context (was "spatial")
KMEANS_SAMPLE = 20_000  # tiles whose representation starts the prototypes
PROTOTYPE_SHARPNESS = 3.0  # logit gap of a typical tile between its two nearest prototypes


# one view's inputs to ``TrafficAugment.view``: signatures, a neighbour's, context (or None)
_ViewInputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


def _default(key: str) -> Any:
    return parameters.default(TASK, key)


@dataclass
class ClusterSettings:
    """Model and training settings; those that are algorithm parameters default to the
    parameter table (N_CLUSTERS there is "auto", which the job resolves to a number)."""

    n_clusters: int = 8
    encoder: str = field(default_factory=lambda: _default("encoder"))
    feature_dim: int = 64
    instance_temperature: float = field(default_factory=lambda: _default("instance_temperature"))
    cluster_temperature: float = field(default_factory=lambda: _default("cluster_temperature"))
    entropy_weight: float = field(default_factory=lambda: _default("entropy_weight"))
    epochs: int = field(default_factory=lambda: _default("epochs"))
    batch_size: int = field(default_factory=lambda: _default("batch_size"))
    lr: float = field(default_factory=lambda: _default("lr"))
    weight_decay: float = 1e-4
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    neighbour_pairs: bool = field(default_factory=lambda: _default("spatial"))
    neighbour_context: bool = field(default_factory=lambda: _default("neighbour_context"))
    refine_fraction: float = 0.25
    normalisation: str = field(default_factory=lambda: _default("normalisation"))
    max_train_tiles: int = field(default_factory=lambda: _default("max_train_tiles"))

    def __post_init__(self) -> None:
        if self.n_clusters < 2:
            raise ValueError("n_clusters must be at least 2")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, not {self.encoder!r}")
        if not 0.0 <= self.refine_fraction < 1.0:
            raise ValueError("refine_fraction must be in [0, 1)")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "augment": self.augment.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSettings:
        known = {f.name for f in fields(cls)} - {"augment"}
        return cls(
            augment=AugmentConfig.from_dict(data["augment"]),
            **{k: data[k] for k in known},
        )


class TrafficClusterer(TrafficLayout, Method[TrafficData, np.ndarray]):
    """Deep contrastive clustering of traffic profiles ``(n_tiles, n_services, n_steps)``.

    Raw profiles go in; the model normalises them (``normalisation``), encodes two augmented
    views per tile and trains an instance head (NT-Xent over rows) and a cluster head
    (NT-Xent over the columns of the soft assignment, plus the entropy term against
    collapse), as Contrastive Clustering (Li et al. 2021), in two stages:

    1. representation (``1 - refine_fraction`` of the epochs): with ``neighbour_pairs`` the
       second view of a tile is a random spatial neighbour, so both heads learn what
       adjacent tiles share (their land use) and not what is particular to one tile (its
       noise, its service tastes): the spatio-temporal side of the method;
    2. refinement: the cluster head becomes K prototypes started from k-means on the learned
       representation, and both heads train on, the cluster head on two views of the same
       tile without the entropy term (k-means starts cannot collapse, and land-use classes
       have very unequal sizes, which the entropy term fights); at the end the prototypes
       are re-centred on the final representation (Lloyd steps from where they are).

    ``neighbour_context`` also feeds each tile its neighbours' mean signature as extra
    channels. Each epoch trains on a fresh random sample of at most ``max_train_tiles``
    tiles, so city-scale inputs train in bounded time; inference runs in batches.
    """

    method = METHOD
    version = VERSION
    saved_metrics: dict[str, Any]  # the metrics stored in a model file, set by load()

    def __init__(
        self, settings: ClusterSettings | None = None, device: str = "auto", seed: int = 0
    ) -> None:
        self.settings = settings or ClusterSettings()
        self.device = device
        self.seed = int(seed)
        self.services: list[str] | None = None
        self.layout: str | None = None
        self.n_steps: int | None = None
        self.net: ContrastiveClusteringNet | None = None
        self.history: FitHistory | None = None
        self.training_summary: dict[str, Any] = {}

    @property
    def n_clusters(self) -> int:
        return self.settings.n_clusters

    @property
    def normalisation(self) -> str:
        return self.settings.normalisation

    k_score = "score = (stability across seeds + silhouette) / 2"

    def describe(self) -> str:
        """The method as it ran, for the report."""
        s = self.settings
        return (
            f"Deep contrastive clustering: encoder {s.encoder}, spatial contrast (neighbour "
            f"pairs) {'on' if s.neighbour_pairs else 'off'}, neighbour context input "
            f"{'on' if s.neighbour_context else 'off'}; the last {s.refine_fraction:.0%} of the "
            "epochs refine the clusters from k-means prototypes of the learned "
            "representation, which are re-centred at the end (the labels are those prototypes)."
        )

    # ------------------------------------------------------------------ training
    def fit(self, data: TrafficData, events: ProgressSink | None = None) -> Self:
        """Train on ``data``'s raw profiles; its neighbour lists drive the neighbour pairs,
        neighbour mixing and the neighbour context."""
        from urbansig.training import seed_everything

        values, neighbours = data.values, data.neighbours
        n, s, t = values.shape
        if n < self.n_clusters:
            raise ValueError(f"{n} tiles cannot make {self.n_clusters} clusters")
        self.services, self.layout, self.n_steps = data.service_names, data.layout, t
        generator = seed_everything(self.seed)
        device = resolve_device(self.device)
        x = torch.from_numpy(normalise_profiles(values, self.normalisation))
        indptr, indices = to_csr(neighbours, n)
        context = (
            torch.from_numpy(neighbour_mean(x.numpy(), indptr, indices))
            if self.settings.neighbour_context
            else None
        )
        self.net = self._new_net(s, t)
        batch_size = min(self.settings.batch_size, n)
        per_epoch = min(n, self.settings.max_train_tiles)
        indptr_t, indices_t = torch.from_numpy(indptr), torch.from_numpy(indices)

        def batches() -> Iterator[tuple[_ViewInputs, ...]]:
            order = torch.randperm(n, generator=generator)[:per_epoch]
            stop = per_epoch - per_epoch % batch_size
            for i in range(0, stop, batch_size):
                idx = order[i : i + batch_size]
                pair = (
                    _random_neighbour(idx, indptr_t, indices_t, generator)
                    if self.settings.neighbour_pairs
                    else idx
                )
                yield tuple(
                    _view_inputs(j, x, context, indptr_t, indices_t, generator) for j in (idx, pair)
                )

        augment = TrafficAugment(self.settings.augment)
        ti, tc = self.settings.instance_temperature, self.settings.cluster_temperature

        def representation_loss(net: ContrastiveClusteringNet, batch: tuple) -> tuple:
            z1, p1 = net(augment.view(*batch[0]))
            z2, p2 = net(augment.view(*batch[1]))
            li = instance_loss(z1, z2, ti)
            lc, le = cluster_loss(p1, p2, tc, self.settings.entropy_weight)
            parts = {"instance": li.item(), "cluster": lc.item(), "entropy": le.item()}
            return li + lc + le, parts

        def refinement_loss(net: ContrastiveClusteringNet, batch: tuple) -> tuple:
            z1, p1 = net(augment.view(*batch[0]))
            z2, _ = net(augment.view(*batch[1]))
            _, p1b = net(augment.view(*batch[0]))
            li = instance_loss(z1, z2, ti)
            lc, _ = cluster_loss(p1, p1b, tc, 0.0)
            return li + lc, {"instance": li.item(), "cluster": lc.item(), "entropy": 0.0}

        refine = int(round(self.settings.epochs * self.settings.refine_fraction))
        first = self.settings.epochs - refine
        sink = (
            events.stage(0.0, first / self.settings.epochs)
            if events is not None and refine
            else events
        )
        self.history = fit(
            self.net,
            batches,
            representation_loss,
            self._fit_config(first, self.settings.lr),
            device,
            sink,
            batch_size_of=_tiles_in_batch,
            stage="training",
        )
        if refine:
            sample = torch.randperm(n, generator=generator)[:KMEANS_SAMPLE].sort().values
            inputs = x[sample] if context is None else torch.cat([x[sample], context[sample]], 1)
            self._fit_prototypes(inputs, device)  # before fit() collects the parameters

            sink = events.stage(first / self.settings.epochs, 1.0) if events is not None else None
            refined = fit(
                self.net,
                batches,
                refinement_loss,
                self._fit_config(refine, 0.3 * self.settings.lr),
                device,
                sink,
                batch_size_of=_tiles_in_batch,
                stage="refining clusters",
            )
            self._fit_prototypes(inputs, device)  # re-centre on the final representation
            self.history = _concat_histories(self.history, refined)
        self.net.to("cpu").eval()
        self.training_summary = {
            "n_tiles": n,
            "tiles_per_epoch": per_epoch,
            "epochs": self.settings.epochs,
            "refinement_epochs": refine,
            "seconds": round(self.history.seconds, 3),
            "tiles_per_second": round(self.history.samples_per_second, 1),
            "final_loss": self.history.train_loss[-1] if self.history.train_loss else None,
        }
        return self

    def _new_net(self, n_services: int, n_steps: int, prototypes: bool = False):
        channels = 2 * n_services if self.settings.neighbour_context else n_services
        return ContrastiveClusteringNet(
            channels,
            self.n_clusters,
            self.settings.encoder,
            self.settings.feature_dim,
            n_steps,
            prototypes,
        )

    def _fit_config(self, epochs: int, lr: float) -> FitConfig:
        return FitConfig(
            epochs=epochs,
            lr=lr,
            weight_decay=self.settings.weight_decay,
            optimizer="adamw",
            warmup_fraction=0.05,
            cosine=True,
            grad_clip=5.0,
        )

    def _fit_prototypes(self, inputs: torch.Tensor, device: torch.device) -> None:
        """k-means on the current representation of ``inputs`` (a fixed sample of at most
        KMEANS_SAMPLE tiles): the first call replaces the cluster head by prototypes at the
        centroids (k-means++, 4 starts); the call after the refinement runs Lloyd steps from
        the trained prototypes, which lag behind the representation (they move by the
        optimiser's small steps while the representation keeps improving), so clusters
        keep their identity and sit on the final representation. The
        temperature makes a typical tile's logit gap between its two nearest prototypes
        PROTOTYPE_SHARPNESS."""
        from sklearn.cluster import KMeans

        net = self._require_net()
        was_training = net.training
        net.to(device).eval()
        with torch.no_grad():
            h = torch.cat(
                [
                    net.encoder(inputs[i : i + 4096].to(device)).float().cpu()
                    for i in range(0, len(inputs), 4096)
                ]
            ).numpy()
        head = net.cluster_head
        if isinstance(head, PrototypeHead):
            start = head.prototypes.detach().float().cpu().numpy().astype(h.dtype)
            km = KMeans(self.n_clusters, init=start, n_init=1, max_iter=10).fit(h)
        else:
            km = KMeans(self.n_clusters, n_init=4, random_state=self.seed).fit(h)
        d2 = ((h[:, None, :] - km.cluster_centers_[None]) ** 2).sum(axis=-1)
        nearest = np.sort(d2, axis=1)
        gap = float(np.median(nearest[:, 1] - nearest[:, 0])) or 1.0
        centroids = torch.from_numpy(km.cluster_centers_).float()
        if isinstance(head, PrototypeHead):
            with torch.no_grad():
                head.prototypes.copy_(centroids.to(head.prototypes.device))
                head.temperature.fill_(gap / PROTOTYPE_SHARPNESS)
        else:
            net.cluster_head = PrototypeHead(centroids, gap / PROTOTYPE_SHARPNESS).to(device)
        net.train(was_training)

    # ------------------------------------------------------------------ inference
    def infer(
        self, data: TrafficData, events: ProgressSink | None = None, batch_size: int = 4096
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(representation (n, dim), cluster probabilities (n, K))`` in batches.

        A model with ``neighbour_context`` given no neighbours uses each tile's own signature
        as its context.
        """
        net = self._require_net()
        values, neighbours = data.values, data.neighbours
        self.check_layout(values.shape[1], values.shape[2])
        device = resolve_device(self.device)
        net.to(device).eval()
        x = normalise_profiles(values, self.normalisation)
        if self.settings.neighbour_context:
            indptr, indices = to_csr(neighbours, len(x))
            x = np.concatenate([x, neighbour_mean(x, indptr, indices)], axis=1)
        reps, probs = [], []
        n = len(x)
        for start in range(0, n, batch_size):
            if events is not None:
                events.check_cancelled()
                events.progress(start / max(n, 1), "assigning clusters")
            xb = torch.from_numpy(x[start : start + batch_size]).to(device)
            h, p = net.infer(xb)
            reps.append(h.float().cpu().numpy())
            probs.append(p.float().cpu().numpy())
        net.to("cpu")
        return np.concatenate(reps), np.concatenate(probs)

    def transform(self, data: TrafficData) -> np.ndarray:
        """The backbone representation of each tile (the latent space), ``(n, dim)``."""
        return self.infer(data)[0]

    def predict(self, data: TrafficData) -> tuple[np.ndarray, np.ndarray]:
        """``(cluster (n,) int64, confidence (n,))``: argmax of the cluster head and its
        probability."""
        probs = self.infer(data)[1]
        return probs.argmax(axis=1).astype(np.int64), probs.max(axis=1)

    # ------------------------------------------------------------------ files
    def config(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            **self.settings.to_dict(),
            "seed": self.seed,
            "services": self.services,
            "layout": self.layout,
            "n_steps": self.n_steps,
        }

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Weights + JSON config (services, layout, K, normalisation, training, metrics)."""
        from urbansig.models.serialization import save_model

        net = self._require_net()
        config = {**self.config(), "training": self.training_summary, "metrics": metrics or {}}
        return save_model(path, METHOD, config, net.state_dict())

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        """A model saved by :meth:`save`; another method's file is a BadInput naming
        ``parameter``."""
        from urbansig.models.serialization import load_model

        config, state = load_model(path, METHOD, parameter)
        if config.get("version") != VERSION:
            raise BadInput(
                f"{parameter}: {path} was trained by an earlier version of this algorithm "
                f"(model version {config.get('version')}, this one reads {VERSION}); train a "
                "new model on the same data."
            )
        try:
            model = cls(ClusterSettings.from_dict(config), str(device), config["seed"])
            model.services, model.layout = config["services"], config["layout"]
            model.n_steps = config["n_steps"]
            prototypes = "cluster_head.prototypes" in state
            model.net = model._new_net(len(model.services), model.n_steps, prototypes)
            model.net.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise BadInput(
                f"{parameter}: {path} is a damaged or incompatible model ({exc})."
            ) from exc
        model.net.eval()
        model.training_summary = config.get("training", {})
        model.saved_metrics = config.get("metrics", {})
        return model

    def _require_net(self) -> ContrastiveClusteringNet:
        if self.net is None:
            raise RuntimeError("the model is not fitted; call fit() or load() first")
        return self.net


def _random_neighbour(
    idx: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """One random neighbour position for each tile in ``idx`` (the tile itself if none)."""
    start, count = indptr[idx], indptr[idx + 1] - indptr[idx]
    offset = (torch.rand(len(idx), generator=generator) * count).long()
    has = count > 0
    pick = torch.where(has, start + torch.minimum(offset, (count - 1).clamp_min(0)), 0)
    return torch.where(has, indices[pick] if len(indices) else idx, idx)


def _view_inputs(
    idx: torch.Tensor,
    x: torch.Tensor,
    context: torch.Tensor | None,
    indptr: torch.Tensor,
    indices: torch.Tensor,
    generator: torch.Generator,
) -> _ViewInputs:
    """``TrafficAugment.view`` inputs for tiles ``idx``: signatures, one random neighbour's
    signature each (for neighbour mixing) and the neighbour context (or None)."""
    other = _random_neighbour(idx, indptr, indices, generator)
    return x[idx], x[other], context[idx] if context is not None else None


def _tiles_in_batch(batch: tuple) -> int:
    """Tiles in a training batch ``((x, neighbour, context), (x, neighbour, context))``."""
    return len(batch[0][0])


def _concat_histories(a: FitHistory, b: FitHistory) -> FitHistory:
    """One history for two consecutive :func:`fit` runs."""
    return FitHistory(
        train_loss=a.train_loss + b.train_loss,
        val_loss=a.val_loss + b.val_loss,
        parts=a.parts + b.parts,
        seconds=a.seconds + b.seconds,
        samples=a.samples + b.samples,
    )
