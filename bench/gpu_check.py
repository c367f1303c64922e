"""The GPU paths, exercised and timed: CUDA build, device auto, mixed precision, DDP.

Runs with torch and numpy alone (a GPU machine without the geo stack):

    PYTHONPATH=backend python bench/gpu_check.py            # device auto (CUDA when seen)
    PYTHONPATH=backend python bench/gpu_check.py --quick --device cpu   # smoke run

Prints the environment, then one row per training loop (the contrastive clustering net, RAW
pre-training, MuseCL's ResNet-18 image encoder, the indicator MLP) on the chosen device with
mixed precision (bfloat16 autocast on CUDA) beside the same loop on the CPU: samples/s,
seconds, first and last loss, peak GPU memory. With two or more GPUs it runs RAW's
pre-training under torchrun (NCCL, DistributedDataParallel) at the same global batch and
prints the largest weight difference from one process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from urbansig import distributed
from urbansig.training import FitConfig, FitHistory, fit, minibatches, resolve_device

Loop = Callable[[torch.device, bool], tuple[FitHistory, nn.Module]]


def clustering_loop(n: int) -> Loop:
    """The contrastive clustering net's loss (instance + cluster heads) on random profiles."""
    from urbansig.models.contrastive_clustering.encoder import ContrastiveClusteringNet
    from urbansig.models.contrastive_clustering.losses import cluster_loss, instance_loss

    x = torch.randn(n, 4, 168)

    def run(device: torch.device, amp: bool) -> tuple[FitHistory, nn.Module]:
        torch.manual_seed(0)
        net = ContrastiveClusteringNet(4, 8, n_steps=168)
        data = x.to(device)

        def loss_fn(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            views = data[idx.to(device)]
            z1, p1 = model(views + 0.1 * torch.randn_like(views))
            z2, p2 = model(views + 0.1 * torch.randn_like(views))
            contrast, entropy = cluster_loss(p1, p2)
            return instance_loss(z1, z2) + contrast + entropy

        batches = minibatches(n, 256, torch.Generator().manual_seed(0), drop_last=True)
        return fit(net, batches, loss_fn, FitConfig(epochs=2, amp=amp), device), net

    return run


def raw_loop(n: int, length: int = 48) -> Loop:
    """RAW's multi-horizon forecast pre-training on random walks."""
    from urbansig.models.raw.model import RawConfig, RawTransformer
    from urbansig.models.raw.sequences import Windows
    from urbansig.models.raw.trainer import pretrain

    rng = np.random.default_rng(0)
    windows = Windows(
        xy=np.cumsum(rng.normal(0, 0.02, (n, length, 2)), 1).astype(np.float32),
        gap=rng.random((n, length)) < 0.1,
        fresh=rng.random((n, length)) < 0.9,
        slot=np.tile(np.arange(length) % 48, (n, 1)),
        dow=np.tile(np.arange(length) // 48 % 7, (n, 1)),
        user=np.arange(n) % 100,
        time=np.tile(np.arange(length) * 1800, (n, 1)),
    )

    def run(device: torch.device, amp: bool) -> tuple[FitHistory, nn.Module]:
        torch.manual_seed(0)
        model = RawTransformer(RawConfig(max_len=length))
        config = FitConfig(epochs=2, lr=1e-3, amp=amp)
        generator = torch.Generator().manual_seed(0)
        return pretrain(model, windows, config, device, 128, generator), model

    return run


def image_loop(n: int, size: int = 64) -> Loop:
    """MuseCL's ResNet-18 image encoder with the triplet loss on random 4-band images."""
    from urbansig.models.musecl.encoders import ResNet18
    from urbansig.models.musecl.triplets import triplet_loss

    images = torch.rand(n, 4, size, size)

    def run(device: torch.device, amp: bool) -> tuple[FitHistory, nn.Module]:
        torch.manual_seed(0)
        net = ResNet18(in_channels=4, out_dim=64, width=64, blocks=(2, 2, 2, 2))
        data = images.to(device)

        def loss_fn(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            idx = idx.to(device)
            out = model(torch.cat([data[idx], data[idx].flip(-1), data[idx.roll(1)]]))
            a, p, q = out.split(len(idx))
            return triplet_loss(a, p, q, 0.5)

        batches = minibatches(n, 64, torch.Generator().manual_seed(0), drop_last=True)
        return fit(net, batches, loss_fn, FitConfig(epochs=1, amp=amp), device), net

    return run


def mlp_loop(n: int) -> Loop:
    """The indicator MLP on a random linear target."""
    from urbansig.models.predictor.mlp import MLPRegressor, train_mlp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 64)).astype(np.float32)
    y = (x @ rng.normal(size=64)).astype(np.float32)

    def run(device: torch.device, amp: bool) -> tuple[FitHistory, nn.Module]:
        torch.manual_seed(0)
        model = MLPRegressor(64)
        config = FitConfig(epochs=5, lr=1e-3, amp=amp)
        generator = torch.Generator().manual_seed(0)
        return train_mlp(model, x, y, None, None, config, device, 256, generator), model

    return run


def timed(loop: Loop, device: torch.device, amp: bool) -> dict[str, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    history, _ = loop(device, amp)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "samples_s": history.samples / seconds,
        "seconds": seconds,
        "first": history.train_loss[0],
        "last": history.train_loss[-1],
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0,
    }


def environment(device: torch.device) -> None:
    print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, device auto -> {device}")
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        print(f"  cuda:{i} {props.name}, {props.total_memory / 2**30:.0f} GiB")
    if torch.cuda.is_available():
        print(f"  bfloat16 supported: {torch.cuda.is_bf16_supported()}")


def ddp_check(workers: int) -> None:
    """RAW's pre-training under torchrun on ``workers`` GPUs against one process."""
    with tempfile.TemporaryDirectory() as tmp:
        one = _launch(1, Path(tmp) / "one")
        many = _launch(workers, Path(tmp) / "many")
        gap = float(np.abs(one - many).max() / max(np.abs(one).max(), 1e-12))
        print(
            f"\nDDP (NCCL, {workers} processes, same global batch): relative weight gap {gap:.2e}"
        )


def _launch(workers: int, out: Path) -> np.ndarray:
    out.mkdir()
    command = [sys.executable, __file__, "--ddp-worker", str(out)]
    if workers > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={workers}"]
        command += [__file__, "--ddp-worker", str(out)]
    subprocess.run(command, check=True, env=dict(os.environ))
    return np.load(out / "rank0.npy")


def ddp_worker(out: Path) -> None:
    distributed.init_from_environment("cuda")
    device = resolve_device("cuda")
    _, model = raw_loop(4096)(device, False)
    flat = torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])
    np.save(out / f"rank{distributed.rank()}.npy", flat.numpy())
    distributed.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--ddp-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_worker:
        ddp_worker(args.ddp_worker)
        return
    device = resolve_device(args.device)
    environment(device)
    scale = 1 if args.quick else 16
    loops = {
        "clustering net (4 x 168 steps)": clustering_loop(512 * scale),
        "RAW pre-training (48 steps)": raw_loop(256 * scale),
        "MuseCL ResNet-18 (4 x 64 x 64)": image_loop(64 * scale),
        "indicator MLP (64 features)": mlp_loop(1024 * scale),
    }
    cpu = torch.device("cpu")
    print(
        f"\n| loop | {device} samples/s | CPU samples/s | {device} s | loss first -> last | peak MiB |"
    )
    print("|---|---:|---:|---:|---|---:|")
    for name, loop in loops.items():
        fast = timed(loop, device, amp=True)
        slow = timed(loop, cpu, amp=False) if device.type != "cpu" else fast
        print(
            f"| {name} | {fast['samples_s']:,.0f} | {slow['samples_s']:,.0f} | "
            f"{fast['seconds']:.2f} | {fast['first']:.3f} -> {fast['last']:.3f} | "
            f"{fast['peak_mib']:,.0f} |"
        )
        if not np.isfinite(fast["last"]):
            raise SystemExit(f"{name}: the loss is not finite on {device}")
    if torch.cuda.device_count() >= 2:
        ddp_check(min(torch.cuda.device_count(), 4))
    else:
        print("\nDDP (NCCL): needs two GPUs; the gloo path is tested on CPUs by the test suite")


if __name__ == "__main__":
    main()
