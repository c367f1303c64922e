"""Training utilities shared by every model: device choice, seeding, the one training loop.

Importable with torch and numpy alone (the GPU benchmark machine has no geo stack).
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import numpy as np
import torch

from urbansig import distributed
from urbansig.protocol import BadInput


class ProgressSink(Protocol):
    def progress(self, fraction: float, message: str = "") -> None: ...
    def check_cancelled(self) -> None: ...
    def stage(self, start: float, end: float) -> ProgressSink: ...


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput(
            "DEVICE is 'cuda' but no CUDA GPU is usable by the backend's torch "
            f"({torch.__version__}); choose 'auto' or 'cpu', or install a CUDA build of torch."
        )
    if device not in ("cpu", "cuda"):
        raise BadInput(f"DEVICE must be auto, cpu or cuda, not {device!r}.")
    if device == "cuda" and distributed.launched():
        return torch.device("cuda", distributed.local_rank())  # one GPU per process
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class FitConfig:
    """Settings of :func:`fit`."""

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_fraction: float = 0.0  # linear warm-up share of all steps, then cosine decay
    cosine: bool = False
    grad_clip: float | None = None
    amp: bool = True  # mixed precision, used on CUDA only
    checkpoint: Path | None = None  # saved every epoch; resumed from when present
    optimizer: str = "adam"  # adam or adamw
    patience: int | None = None  # early stopping on the validation loss
    # under torch.distributed: each process takes a slice of every batch (False: whole-city
    # batches that cannot be split, trained replicated in every process)
    data_parallel: bool = True


@dataclass
class FitHistory:
    """Per-epoch losses and timing of a :func:`fit` run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    parts: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0
    best_epoch: int = -1

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


ModelT = TypeVar("ModelT", bound=torch.nn.Module)
# generic in the model: a loss may take the concrete module type it is given
LossFn = Callable[[ModelT, Any], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]


def fit(
    model: ModelT,
    batches: Callable[[], Iterable[Any]],
    loss_fn: LossFn[ModelT],
    config: FitConfig,
    device: torch.device,
    events: ProgressSink | None = None,
    val_batches: Callable[[], Iterable[Any]] | None = None,
    batch_size_of: Callable[[Any], int] = lambda b: (
        len(b[0]) if isinstance(b, (list, tuple)) else len(b)
    ),
    stage: str = "training",
) -> FitHistory:
    """Train ``model`` with ``loss_fn(model, batch)`` over ``batches()`` for ``config.epochs``.

    Batches are moved to ``device`` (tensors, or tuples/dicts of them). Mixed precision on
    CUDA, optional warm-up + cosine schedule, gradient clipping, checkpoint + resume, early
    stopping on ``val_batches`` (the best weights are restored), progress and cancellation.
    Under torch.distributed (see :mod:`urbansig.distributed`) the model trains as
    DistributedDataParallel: ``batches()`` yields the same global batches in every process,
    each process takes its slice, BatchNorm statistics span the global batch and the
    reported losses are global means.
    """
    model.to(device)
    split = config.data_parallel and distributed.active()
    with distributed.synchronised_batch_norm(model), distributed.sharding(split):
        return _fit(
            model,
            batches,
            loss_fn,
            config,
            device,
            events,
            val_batches,
            batch_size_of,
            stage,
            split,
        )


def _fit(
    model: ModelT,
    batches: Callable[[], Iterable[Any]],
    loss_fn: LossFn[ModelT],
    config: FitConfig,
    device: torch.device,
    events: ProgressSink | None,
    val_batches: Callable[[], Iterable[Any]] | None,
    batch_size_of: Callable[[Any], int],
    stage: str,
    split: bool,
) -> FitHistory:
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, sum(1 for _ in batches()))
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(total_steps, config.warmup_fraction, config.cosine)
    )
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history = FitHistory()
    start_epoch = _resume(config.checkpoint, model, optimizer, scheduler, history)
    step_loss = _parallel_loss(model, loss_fn, device)
    best_state, best_val, bad_epochs = None, math.inf, 0
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        model.train()
        total, count = 0.0, 0
        parts_sum: dict[str, float] = {}
        for step, batch in enumerate(batches()):
            if events is not None:
                events.check_cancelled()
            if split and (batch := distributed.local_slice(batch)) is None:
                continue  # too few rows to give every process one: skipped by all
            batch = to_device(batch, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss, parts = _split_loss(step_loss(batch))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{stage}: the loss became {loss.item()} at epoch {epoch + 1}; "
                    "lower the learning rate."
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            n = batch_size_of(batch)
            total += loss.item() * n
            count += n
            for key, value in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + value * n
            if events is not None:
                done = (epoch + (step + 1) / steps_per_epoch) / config.epochs
                events.progress(done, f"{stage}: epoch {epoch + 1}/{config.epochs}")
        if split:
            keys = sorted(parts_sum)
            total, global_count, *sums = distributed.sum_across(
                [total, count, *(parts_sum[k] for k in keys)]
            )
            count = int(global_count)
            parts_sum = dict(zip(keys, sums))
        history.samples += count
        history.train_loss.append(total / max(count, 1))
        history.parts.append({k: v / max(count, 1) for k, v in parts_sum.items()})
        if val_batches is not None:
            val = evaluate_loss(model, val_batches, loss_fn, device, batch_size_of, split)
            history.val_loss.append(val)
            if val < best_val - 1e-9:
                best_val, bad_epochs, history.best_epoch = val, 0, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
        if config.checkpoint is not None and distributed.is_main():
            _save_checkpoint(config.checkpoint, model, optimizer, scheduler, history, epoch + 1)
        if config.patience is not None and bad_epochs > config.patience:
            break
    history.seconds += time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if distributed.active():
        del step_loss  # the DistributedDataParallel wrapper: freed while its group lives
        gc.collect()
    distributed.barrier()
    return history


def _parallel_loss(
    model: ModelT, loss_fn: LossFn[ModelT], device: torch.device
) -> Callable[[Any], Any]:
    """``loss_fn`` bound to ``model``; under torch.distributed, called through
    DistributedDataParallel so that the gradients are averaged across processes."""
    if not distributed.active():
        return lambda batch: loss_fn(model, batch)
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        _LossModule(model, loss_fn),
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True,  # a loss may leave a head unused in some batches
    )


class _LossModule(torch.nn.Module):
    """The model with its loss as ``forward``: DistributedDataParallel sees the whole step."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable[..., Any]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> Any:
        return self.loss_fn(self.model, batch)


@torch.no_grad()
def evaluate_loss(
    model: ModelT,
    batches: Callable[[], Iterable[Any]],
    loss_fn: LossFn[ModelT],
    device: torch.device,
    batch_size_of: Callable[[Any], int] = lambda b: (
        len(b[0]) if isinstance(b, (list, tuple)) else len(b)
    ),
    split: bool = False,
) -> float:
    """Mean loss over ``batches()`` in eval mode (``split``: each process scores its slice
    of every batch and the mean is over all processes)."""
    model.eval()
    with distributed.sharding(split):
        total, count = _sum_loss(model, batches, loss_fn, device, batch_size_of, split)
    model.train()
    return total / max(count, 1)


def _sum_loss(
    model: ModelT,
    batches: Callable[[], Iterable[Any]],
    loss_fn: LossFn[ModelT],
    device: torch.device,
    batch_size_of: Callable[[Any], int],
    split: bool,
) -> tuple[float, float]:
    total, count = 0.0, 0.0
    for batch in batches():
        if split and (batch := distributed.local_slice(batch)) is None:
            continue
        batch = to_device(batch, device)
        loss, _ = _split_loss(loss_fn(model, batch))
        n = batch_size_of(batch)
        total += loss.item() * n
        count += n
    if split:
        total, count = distributed.sum_across([total, count])
    return total, count


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a tensor, or a tuple/list/dict of tensors, to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def minibatches(n: int, batch_size: int, generator: torch.Generator, drop_last: bool = False):
    """A factory of shuffled index batches over ``range(n)``, reshuffled per call."""

    def make() -> Iterable[torch.Tensor]:
        order = torch.randperm(n, generator=generator)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for i in range(0, stop, batch_size):
            yield order[i : i + batch_size]

    return make


def _split_loss(out: Any) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, {}


def _schedule(total_steps: int, warmup_fraction: float, cosine: bool) -> Callable[[int], float]:
    warmup = int(total_steps * warmup_fraction)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _save_checkpoint(
    path: Path, model, optimizer, scheduler, history: FitHistory, epoch: int
) -> None:
    tmp = path.with_name(path.name + ".partial")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "train_loss": history.train_loss,
            "val_loss": history.val_loss,
        },
        tmp,
    )
    tmp.replace(path)


def _resume(path: Path | None, model, optimizer, scheduler, history: FitHistory) -> int:
    if path is None or not Path(path).exists():
        return 0
    from urbansig.models.serialization import read_torch_file

    state = read_torch_file(
        path, "CHECKPOINT", "a training checkpoint", "delete it to train from the start"
    )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    history.train_loss = list(state["train_loss"])
    history.val_loss = list(state["val_loss"])
    return int(state["epoch"])
