"""Data-parallel training under ``torch.distributed`` (torchrun, DistributedDataParallel).

A run launched by ``torchrun --nproc-per-node N -m urbansig ...`` starts N processes; each
runs the whole job on the same inputs, :func:`urbansig.training.fit` gives each process a
1/N slice of every global batch and DistributedDataParallel averages the gradients, and
only rank 0 writes outputs and reports. Contrastive losses gather their embeddings across
processes (:func:`gather_rows`), so the negatives of a batch are the same as in one
process. NCCL on GPUs, gloo on CPUs.

Importable with torch and numpy alone.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed import _functional_collectives as collectives
from torch.nn import functional as F


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0, or a run without a process group: the process that writes and reports."""
    return rank() == 0


def launched() -> bool:
    """Whether torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str = "auto") -> None:
    """Join the process group a launcher describes (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``...): NCCL when the run uses CUDA, gloo otherwise. No-op when not launched."""
    if not launched() or dist.is_initialized():
        return
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group("nccl" if cuda else "gloo")


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def shutdown(wait: bool = True) -> None:
    """Leave the process group (``wait``: once every process has reached this point)."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        gc.collect()  # DistributedDataParallel wrappers left in cycles go before their group
        dist.destroy_process_group()


_sharding = False


@contextmanager
def sharding(on: bool) -> Iterator[None]:
    """Within the block, batches are sliced across processes (set by the training loop)."""
    global _sharding
    previous, _sharding = _sharding, on and active()
    try:
        yield
    finally:
        _sharding = previous


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' rows of ``tensor`` concatenated in rank order (gradients flow back to
    each process's own rows) while batches are sliced across processes; ``tensor`` itself
    otherwise."""
    if not _sharding:
        return tensor
    return collectives.all_gather_single_autograd(tensor.contiguous(), 0, _world())


def local_slice(batch: Any) -> Any | None:
    """This process's slice of a global batch (see :func:`shard`), or None when the batch
    has fewer rows than processes: every process then skips it alike."""
    if (first_length(batch) or 0) < world_size():
        return None
    return shard(batch)


def shard(batch: Any) -> Any:
    """This process's slice of a global batch: every tensor split along its first dimension
    into ``world_size()`` equal parts (a remainder of fewer rows than processes is dropped,
    so every process holds the same number and gathered negatives line up). Tuples, lists
    and dicts are sharded element-wise; anything else is kept whole."""
    if isinstance(batch, torch.Tensor):
        if batch.ndim == 0:
            return batch
        per = batch.shape[0] // world_size()
        return batch[rank() * per : (rank() + 1) * per]
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard(b) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v) for k, v in batch.items()}
    return batch


def first_length(batch: Any) -> int | None:
    """The first dimension of the first tensor in ``batch`` (None when it holds none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    items = batch.values() if isinstance(batch, dict) else batch
    if isinstance(batch, (list, tuple, dict)):
        for item in items:
            length = first_length(item)
            if length is not None:
                return length
    return None


def sum_across(values: list[float]) -> list[float]:
    """Element-wise sums of ``values`` over all processes (the values themselves in one)."""
    if not active():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def broadcast_state(module: nn.Module) -> None:
    """Rank 0's parameters and buffers copied to every process."""
    if not active():
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def barrier() -> None:
    if active():
        dist.barrier()


def _world() -> dist.ProcessGroup:
    group = dist.group.WORLD
    if group is None:
        raise RuntimeError("torch.distributed is not initialised")
    return group


def _collective_device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation whose training statistics span every process's rows.

    torch's SyncBatchNorm runs on GPUs only; this one reduces the per-channel sums with
    torch.distributed's differentiable (functional) all_reduce, so it works on gloo (CPU) too and equals
    one process's BatchNorm on the global batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and active()):
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                self.training or self.running_mean is None,
                self.momentum if self.momentum is not None else 0.0,
                self.eps,
            )
        dims = [0] + list(range(2, x.ndim))
        count = torch.tensor(
            float(x.numel() // x.shape[1]), dtype=x.dtype, device=x.device
        ).reshape(1)
        sums = torch.cat([count, x.sum(dims), (x * x).sum(dims)])
        sums = collectives.all_reduce(sums, "sum", _world())
        n = sums[0].detach()
        mean = sums[1 : 1 + x.shape[1]] / n
        var = (sums[1 + x.shape[1] :] / n - mean * mean).clamp_min(0.0)
        shape = [1, -1] + [1] * (x.ndim - 2)
        out = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats and self.running_mean is not None:
            self._update_running(mean.detach(), var.detach() * n / (n - 1).clamp_min(1.0))
        return out

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        momentum = (
            self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        )
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(var.to(self.running_var.dtype), momentum)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {x.ndim}D input)")


@contextmanager
def synchronised_batch_norm(module: nn.Module) -> Iterator[None]:
    """Within the block, ``module``'s BatchNorm layers normalise over the global batch
    (SyncBatchNorm on CUDA, :class:`GlobalBatchNorm` elsewhere); they share the original
    layers' parameters and buffers, and the originals are put back afterwards."""
    if not active():
        yield
        return
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
                child, (nn.SyncBatchNorm, GlobalBatchNorm)
            ):
                setattr(parent, name, _synchronised(child))
                swapped.append((parent, name, child))
    try:
        yield
    finally:
        for parent, name, child in swapped:
            child.train(getattr(parent, name).training)
            setattr(parent, name, child)


def _synchronised(bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    on_cuda = bn.running_mean is not None and bn.running_mean.is_cuda
    cls = nn.SyncBatchNorm if on_cuda else GlobalBatchNorm
    out = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    if bn.affine:
        out.weight, out.bias = bn.weight, bn.bias
    out.running_mean, out.running_var = bn.running_mean, bn.running_var
    out.num_batches_tracked = bn.num_batches_tracked
    out.train(bn.training)
    return out
