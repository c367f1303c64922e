"""Training runs that test_distributed compares across process counts.

``python distributed_cases.py CASE OUT`` trains in one process; under
``torchrun --nproc-per-node 2`` each process trains its half of every global batch. Each
process writes its result to ``OUT/rank<r>.npz``; the test compares rank 0 with one process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from urbansig import distributed
from urbansig.training import FitConfig, fit, minibatches

CPU = torch.device("cpu")


def case_fit_contrastive() -> dict[str, np.ndarray]:
    """The shared loop on a BatchNorm network with a gathered contrastive loss and a
    validation loss (global batch 32, 64 rows: two batches per epoch)."""
    from urbansig.models.contrastive_clustering.losses import instance_loss

    torch.manual_seed(0)
    x = torch.randn(64, 6)
    net = nn.Sequential(
        nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8)
    )
    noise = torch.randn(64, 6) * 0.1
    batches = minibatches(64, 32, torch.Generator().manual_seed(1))

    def loss_fn(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return instance_loss(model(x[idx]), model(x[idx] + noise[idx]), 0.5)

    history = fit(
        net,
        batches,
        loss_fn,
        FitConfig(epochs=4, lr=1e-2),
        CPU,
        val_batches=lambda: [torch.arange(64)],
    )
    return {
        "params": _flat(net),
        "loss": np.array(history.train_loss),
        "val": np.array(history.val_loss),
    }


def case_clustering() -> dict[str, np.ndarray]:
    """Contrastive clustering (both heads, refinement) with its random augmentations off."""
    from test_clustering import SERVICES, toy_profiles

    from urbansig.models.contrastive_clustering import ClusterSettings, TrafficClusterer
    from urbansig.models.contrastive_clustering.augment import AugmentConfig
    from urbansig.models.traffic import TrafficData

    values, _, nb = toy_profiles()
    off = AugmentConfig.none()
    settings = ClusterSettings(n_clusters=3, epochs=4, batch_size=64, lr=3e-3, augment=off)
    model = TrafficClusterer(settings, device="cpu", seed=0)
    data = TrafficData(values, nb, SERVICES, "daily_hourly")
    model.fit(data)
    return {"params": _flat(model.net), "probabilities": model.infer(data)[1]}


def case_musecl() -> dict[str, np.ndarray]:
    """MuseCL: triplet encoders of an image and the tabular modalities, then the fusion's
    gathered InfoNCE."""
    from test_musecl import _region_data

    from urbansig.models.musecl.model import MuseCL, MuseCLConfig

    data, _ = _region_data(n=64)
    data.rs_valid[:] = True  # 64 regions in every pool: batches of 16 split evenly
    config = MuseCLConfig(
        dim=8,
        image_size=16,
        modalities=("rs", "poi_counts", "flow"),
        epochs_image=1,
        epochs_tabular=2,
        epochs_fusion=2,
        epochs_text=2,
        batch_tabular=16,
        batch_image=16,
        batch_fusion=16,
    )
    model = MuseCL(config).fit(data)
    out = model.transform(data)
    return {
        "embedding": out["embedding"],
        **{f"modality_{m}": v for m, v in out["modalities"].items()},
    }


def case_raw() -> dict[str, np.ndarray]:
    """RAW's multi-horizon forecast pre-training on a steady drift."""
    from urbansig.models.raw.model import RawConfig, RawTransformer
    from urbansig.models.raw.sequences import Windows
    from urbansig.models.raw.trainer import pretrain

    rng = np.random.default_rng(0)
    n, length = 32, 16
    steps = rng.normal(0, 0.05, (n, 1, 2)) + rng.normal(0, 0.01, (n, length, 2))
    windows = Windows(
        xy=np.cumsum(steps, 1).astype(np.float32),
        gap=np.zeros((n, length), bool),
        fresh=np.ones((n, length), bool),
        slot=np.tile(np.arange(length) % 48, (n, 1)),
        dow=np.zeros((n, length), np.int64),
        user=np.arange(n) % 4,
        time=np.tile(np.arange(length) * 1800, (n, 1)),
    )
    torch.manual_seed(0)
    model = RawTransformer(RawConfig(layers=1, width=16, heads=2, max_len=length, horizons=2))
    history = pretrain(model, windows, FitConfig(epochs=3, lr=3e-3), CPU, batch_size=8)
    return {"params": _flat(model), "loss": np.array(history.train_loss)}


def case_predictor_mlp() -> dict[str, np.ndarray]:
    """The indicator MLP with early stopping on a validation set."""
    from urbansig.models.predictor.mlp import MLPRegressor, train_mlp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x @ rng.normal(size=5)).astype(np.float32)
    torch.manual_seed(0)
    model = MLPRegressor(5)
    history = train_mlp(
        model,
        x[:64],
        y[:64],
        x[64:],
        y[64:],
        FitConfig(epochs=5, lr=1e-2, patience=10),
        CPU,
        16,
        torch.Generator().manual_seed(0),
    )
    return {"params": _flat(model), "val": np.array(history.val_loss)}


def case_flows() -> dict[str, np.ndarray]:
    """Flow embeddings: one whole-city batch, trained replicated in every process."""
    from test_flows import settings, small_city

    from urbansig.models.flows import FlowEmbedder

    data = small_city()
    model = FlowEmbedder(settings(dropout=0.0, epochs=5), device="cpu", seed=0).fit(data)
    return {"embedding": model.transform(data)}


CASES: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    name[5:]: value for name, value in globals().items() if name.startswith("case_")
}


def _flat(module: nn.Module) -> np.ndarray:
    return torch.cat([t.detach().reshape(-1).float() for t in module.state_dict().values()]).numpy()


def main() -> None:
    case, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    distributed.init_from_environment("cpu")
    result = CASES[case]()
    result["world"] = np.array(distributed.world_size())
    np.savez(out / f"rank{distributed.rank()}.npz", **result)
    distributed.shutdown()


if __name__ == "__main__":
    main()
