"""``TrafficClusterer``: Contrastive Clustering of tiles' traffic signatures, fit/predict/save/load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from urbansig.models.contrastive_clustering.augment import AugmentConfig, TrafficAugment
from urbansig.models.contrastive_clustering.encoder import ENCODER_SIZES, ContrastiveClusteringNet
from urbansig.models.contrastive_clustering.losses import cluster_loss, instance_loss
from urbansig.models.contrastive_clustering.normalise import (
    NORMALISATIONS,
    neighbour_mean,
    normalise_profiles,
    to_csr,
)
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory, ProgressSink, fit, resolve_device

METHOD = "contrastive_clustering"
VERSION = 1


class TrafficClusterer:
    """Deep contrastive clustering of traffic profiles ``(n_tiles, n_services, n_steps)``.

    Raw profiles go in; the model normalises them (``normalisation``), draws two augmented
    views per tile, encodes them with a residual 1-D CNN and trains an instance head
    (NT-Xent over rows) and a cluster head (NT-Xent over the columns of the soft assignment,
    plus the entropy term, weighted low by default: the paper's weight 1 forces near-equal
    cluster sizes, while land-use classes are very unequal). With ``spatial`` the encoder
    also sees the mean signature of the tile's neighbours (neighbour lists given as
    positions), so clusters are spatially coherent. Each epoch trains on a fresh random sample of at most ``max_train_tiles``
    tiles, so city-scale inputs train in bounded time; inference runs in batches.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        encoder: str = "small",
        feature_dim: int = 64,
        instance_temperature: float = 0.5,
        cluster_temperature: float = 1.0,
        entropy_weight: float = 0.05,
        epochs: int = 40,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        augment: AugmentConfig | None = None,
        spatial: bool = True,
        normalisation: str = "service_shape",
        max_train_tiles: int = 10_000,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        if n_clusters < 2:
            raise ValueError("n_clusters must be at least 2")
        if encoder not in ENCODER_SIZES:
            raise ValueError(f"encoder must be one of {tuple(ENCODER_SIZES)}, not {encoder!r}")
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}")
        self.n_clusters = int(n_clusters)
        self.encoder = encoder
        self.feature_dim = int(feature_dim)
        self.instance_temperature = float(instance_temperature)
        self.cluster_temperature = float(cluster_temperature)
        self.entropy_weight = float(entropy_weight)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.augment = augment or AugmentConfig()
        self.spatial = bool(spatial)
        self.normalisation = normalisation
        self.max_train_tiles = int(max_train_tiles)
        self.device = device
        self.seed = int(seed)
        self.services: list[str] | None = None
        self.layout: str | None = None
        self.n_steps: int | None = None
        self.net: ContrastiveClusteringNet | None = None
        self.history: FitHistory | None = None
        self.training_summary: dict[str, Any] = {}

    # ------------------------------------------------------------------ training
    def fit(
        self,
        values: np.ndarray,
        neighbours: list[list[int]] | None = None,
        services: list[str] | None = None,
        layout: str | None = None,
        events: ProgressSink | None = None,
    ) -> TrafficClusterer:
        """Train on raw profiles ``(n, services, steps)``; ``neighbours[i]``: positions of the
        tiles adjacent to tile i (optional; used by neighbour mixing and the spatial model)."""
        from urbansig.training import seed_everything

        values = np.asarray(values)
        if values.ndim != 3:
            raise ValueError("values must have shape (n_tiles, n_services, n_steps)")
        n, s, t = values.shape
        if n < self.n_clusters:
            raise ValueError(f"{n} tiles cannot make {self.n_clusters} clusters")
        self.services = list(services) if services else [f"service_{i}" for i in range(s)]
        self.layout, self.n_steps = layout, t
        generator = seed_everything(self.seed)
        device = resolve_device(self.device)
        x = torch.from_numpy(normalise_profiles(values, self.normalisation))
        indptr, indices = to_csr(neighbours, n)
        context = (
            torch.from_numpy(neighbour_mean(x.numpy(), indptr, indices)) if self.spatial else None
        )
        channels = 2 * s if self.spatial else s
        self.net = ContrastiveClusteringNet(
            channels, self.n_clusters, self.encoder, self.feature_dim
        )
        batch_size = min(self.batch_size, n)
        per_epoch = min(n, self.max_train_tiles)
        indptr_t, indices_t = torch.from_numpy(indptr), torch.from_numpy(indices)

        def batches() -> Iterator[tuple[torch.Tensor, ...]]:
            order = torch.randperm(n, generator=generator)[:per_epoch]
            stop = per_epoch - per_epoch % batch_size
            for i in range(0, stop, batch_size):
                idx = order[i : i + batch_size]
                n1 = _random_neighbour(idx, indptr_t, indices_t, generator)
                n2 = _random_neighbour(idx, indptr_t, indices_t, generator)
                ctx = context[idx] if context is not None else None
                yield x[idx], x[n1], x[n2], ctx

        augment = TrafficAugment(self.augment)
        ti, tc, ew = self.instance_temperature, self.cluster_temperature, self.entropy_weight

        def loss_fn(net: ContrastiveClusteringNet, batch: tuple) -> tuple[torch.Tensor, dict]:
            xb, nb1, nb2, ctx = batch
            z1, p1 = net(augment.view(xb, nb1, ctx))
            z2, p2 = net(augment.view(xb, nb2, ctx))
            li = instance_loss(z1, z2, ti)
            lc, le = cluster_loss(p1, p2, tc, ew)
            parts = {"instance": li.item(), "cluster": lc.item(), "entropy": le.item()}
            return li + lc + le, parts

        config = FitConfig(
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            optimizer="adamw",
            warmup_fraction=0.05,
            cosine=True,
            grad_clip=5.0,
        )
        self.history = fit(self.net, batches, loss_fn, config, device, events, stage="training")
        self.net.to("cpu").eval()
        self.training_summary = {
            "n_tiles": n,
            "tiles_per_epoch": per_epoch,
            "epochs": self.epochs,
            "seconds": round(self.history.seconds, 3),
            "tiles_per_second": round(self.history.samples_per_second, 1),
            "final_loss": self.history.train_loss[-1] if self.history.train_loss else None,
        }
        return self

    # ------------------------------------------------------------------ inference
    def infer(
        self,
        values: np.ndarray,
        neighbours: list[list[int]] | None = None,
        batch_size: int = 4096,
        events: ProgressSink | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(representation (n, dim), cluster probabilities (n, K))`` in batches.

        A spatial model given no neighbours uses each tile's own signature as its context.
        """
        net = self._require_net()
        values = np.asarray(values)
        self.check_layout(values.shape[1], values.shape[2])
        device = resolve_device(self.device)
        net.to(device).eval()
        x = normalise_profiles(values, self.normalisation)
        if self.spatial:
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

    def transform(
        self, values: np.ndarray, neighbours: list[list[int]] | None = None
    ) -> np.ndarray:
        """The backbone representation of each tile (the latent space), ``(n, dim)``."""
        return self.infer(values, neighbours)[0]

    def predict(
        self, values: np.ndarray, neighbours: list[list[int]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(cluster (n,) int64, confidence (n,))``: argmax of the cluster head and its
        probability."""
        probs = self.infer(values, neighbours)[1]
        return probs.argmax(axis=1).astype(np.int64), probs.max(axis=1)

    # ------------------------------------------------------------------ files
    def config(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "n_clusters": self.n_clusters,
            "encoder": self.encoder,
            "feature_dim": self.feature_dim,
            "instance_temperature": self.instance_temperature,
            "cluster_temperature": self.cluster_temperature,
            "entropy_weight": self.entropy_weight,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "augment": self.augment.to_dict(),
            "spatial": self.spatial,
            "normalisation": self.normalisation,
            "max_train_tiles": self.max_train_tiles,
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
        cls, path: str | Path, parameter: str = "MODEL", device: str = "auto"
    ) -> TrafficClusterer:
        """A model saved by :meth:`save`; another method's file is a BadInput naming
        ``parameter``."""
        from urbansig.models.serialization import load_model

        config, state = load_model(path, METHOD, parameter)
        try:
            model = cls(
                n_clusters=config["n_clusters"],
                encoder=config["encoder"],
                feature_dim=config["feature_dim"],
                instance_temperature=config["instance_temperature"],
                cluster_temperature=config["cluster_temperature"],
                entropy_weight=config["entropy_weight"],
                epochs=config["epochs"],
                batch_size=config["batch_size"],
                lr=config["lr"],
                weight_decay=config["weight_decay"],
                augment=AugmentConfig.from_dict(config["augment"]),
                spatial=config["spatial"],
                normalisation=config["normalisation"],
                max_train_tiles=config["max_train_tiles"],
                device=device,
                seed=config["seed"],
            )
            model.services, model.layout = config["services"], config["layout"]
            model.n_steps = config["n_steps"]
            channels = len(model.services) * (2 if model.spatial else 1)
            model.net = ContrastiveClusteringNet(
                channels, model.n_clusters, model.encoder, model.feature_dim
            )
            model.net.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise BadInput(
                f"{parameter}: {path} is a damaged or incompatible model ({exc})."
            ) from exc
        model.net.eval()
        model.training_summary = config.get("training", {})
        model.saved_metrics = config.get("metrics", {})
        return model

    def check_compatible(
        self, services: list[str], layout: str, parameter: str = "MODEL"
    ) -> list[int]:
        """Positions that put ``services`` in the model's order; BadInput naming ``parameter``
        when the services or the profile layout differ from the model's."""
        if self.layout is not None and layout != self.layout:
            raise BadInput(
                f"{parameter}: the model was trained on the '{self.layout}' layout "
                f"({self.n_steps} steps), the input is '{layout}'; choose LAYOUT {self.layout}."
            )
        model_services = list(self.services or [])
        if sorted(services) != sorted(model_services):
            missing = sorted(set(model_services) - set(services))
            extra = sorted(set(services) - set(model_services))
            raise BadInput(
                f"{parameter}: the model was trained on services {', '.join(model_services)}; "
                f"the input lacks {', '.join(missing) or 'none'} and adds "
                f"{', '.join(extra) or 'none'}. Set SERVICES to the model's services."
            )
        return [services.index(name) for name in model_services]

    def check_layout(self, n_services: int, n_steps: int, parameter: str = "MODEL") -> None:
        """BadInput when profiles do not have the model's number of services and steps."""
        want_s = len(self.services or [])
        if n_services != want_s or (self.n_steps is not None and n_steps != self.n_steps):
            raise BadInput(
                f"{parameter}: the model expects profiles of {want_s} services x "
                f"{self.n_steps} steps, the input has {n_services} x {n_steps}."
            )

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
