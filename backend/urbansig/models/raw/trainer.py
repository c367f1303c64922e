"""Pre-training, user embeddings and autoregressive rollout of a :class:`RawTransformer`.

Importable with torch and numpy alone; training goes through :func:`urbansig.training.fit`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from urbansig.models.raw.model import RawTransformer
from urbansig.models.raw.sequences import Windows, time_features
from urbansig.training import FitConfig, FitHistory, fit, minibatches


def window_tensors(w: Windows) -> dict[str, torch.Tensor]:
    return {
        "xy": torch.from_numpy(np.ascontiguousarray(w.xy, dtype=np.float32)),
        "gap": torch.from_numpy(np.ascontiguousarray(w.gap)),
        "slot": torch.from_numpy(np.ascontiguousarray(w.slot)),
        "dow": torch.from_numpy(np.ascontiguousarray(w.dow)),
    }


def _batches(data: dict[str, torch.Tensor], batch_size: int, generator: torch.Generator):
    make = minibatches(len(data["xy"]), batch_size, generator)

    def factory() -> Iterator[dict[str, torch.Tensor]]:
        for idx in make():
            yield {k: v[idx] for k, v in data.items()}

    return factory


def _loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    if isinstance(model, nn.DataParallel):
        return model(batch).mean()
    if not isinstance(model, RawTransformer):
        raise TypeError(f"RAW trains a RawTransformer, not {type(model).__name__}")
    return model.next_point_loss(batch)


class _LossParallel(nn.Module):
    """Wraps the model so that DataParallel splits whole batches through ``next_point_loss``."""

    def __init__(self, model: RawTransformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.next_point_loss(batch).reshape(1)


def pretrain(
    model: RawTransformer,
    train: Windows,
    config: FitConfig,
    device: torch.device,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    events=None,
    val: Windows | None = None,
) -> FitHistory:
    """Autoregressive next-point pre-training; DataParallel over all GPUs when several."""
    generator = generator or torch.Generator().manual_seed(0)
    data = window_tensors(train)
    trainable: nn.Module = model
    if device.type == "cuda" and torch.cuda.device_count() > 1:
        trainable = nn.DataParallel(_LossParallel(model))
    val_batches = None
    if val is not None and len(val.xy):
        val_data = window_tensors(val)
        val_batches = _batches(val_data, batch_size, torch.Generator().manual_seed(1))
    return fit(
        trainable,
        _batches(data, batch_size, generator),
        _loss,
        config,
        device,
        events,
        val_batches=val_batches,
        batch_size_of=lambda b: len(b["xy"]),
        stage="pre-training",
    )


@torch.no_grad()
def embed_users(
    model: RawTransformer,
    windows: Windows,
    n_users: int,
    device: torch.device,
    batch_size: int = 256,
    events=None,
    count_from: np.ndarray | None = None,
) -> np.ndarray:
    """User embeddings: mean final hidden state over each user's non-gap steps (all windows).

    ``count_from`` (n_windows,) counts only the steps of a window from that position on, so
    that overlapping windows count each step once, from the window where it has most context.
    """
    model.eval().to(device)
    data = window_tensors(windows)
    width = model.config.width
    total = torch.zeros(n_users, width, dtype=torch.float64)
    count = torch.zeros(n_users, dtype=torch.float64)
    users = torch.from_numpy(windows.user)
    n, length = windows.gap.shape
    counted = ~data["gap"]
    if count_from is not None:
        counted &= torch.arange(length)[None, :] >= torch.from_numpy(count_from)[:, None]
    for start in range(0, n, batch_size):
        if events is not None:
            events.check_cancelled()
            events.progress(start / max(n, 1), "embedding users")
        sl = slice(start, start + batch_size)
        batch = {k: v[sl].to(device) for k, v in data.items()}
        hidden = model(batch["xy"], batch["gap"], batch["slot"], batch["dow"]).double().cpu()
        keep = counted[sl].double()
        total.index_add_(0, users[sl], (hidden * keep[..., None]).sum(1))
        count.index_add_(0, users[sl], keep.sum(1))
    return (total / count.clamp_min(1)[:, None]).numpy()


@torch.no_grad()
def rollout(
    model: RawTransformer,
    xy: np.ndarray,
    gap: np.ndarray,
    time_s: np.ndarray,
    horizon: int,
    step_s: int,
    utc_offset_s: int,
    device: torch.device,
    batch_size: int = 512,
) -> np.ndarray:
    """Autoregressive forecast of the ``horizon`` steps after each context, (n, horizon, 2).

    ``xy``/``gap``/``time_s`` are contexts (n, C) whose last step is observed; predictions
    are fed back as observed inputs; the context slides to stay within ``max_len``.
    """
    model.eval().to(device)
    max_len = model.config.max_len
    out = np.empty((len(xy), horizon, 2), dtype=np.float32)
    for start in range(0, len(xy), batch_size):
        sl = slice(start, start + batch_size)
        cx = torch.from_numpy(np.ascontiguousarray(xy[sl], dtype=np.float32)).to(device)
        cg = torch.from_numpy(np.ascontiguousarray(gap[sl])).to(device)
        ct = np.asarray(time_s[sl], dtype=np.int64)
        for h in range(horizon):
            cx, cg, ct = cx[:, -max_len:], cg[:, -max_len:], ct[:, -max_len:]
            slot, dow = time_features(ct, step_s, utc_offset_s)
            hidden = model(
                cx, cg, torch.from_numpy(slot).to(device), torch.from_numpy(dow).to(device)
            )
            nxt = model.predict(cx[:, -1:], hidden[:, -1:])
            out[sl, h] = nxt[:, 0].float().cpu().numpy()
            cx = torch.cat([cx, nxt], 1)
            cg = torch.cat([cg, torch.zeros_like(cg[:, :1])], 1)
            ct = np.concatenate([ct, ct[:, -1:] + step_s], 1)
    return out
