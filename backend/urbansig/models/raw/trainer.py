"""Pre-training, user embeddings and forecasts of a :class:`RawTransformer`.

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
        "fresh": torch.from_numpy(np.ascontiguousarray(w.fresh)),
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
    if not isinstance(model, RawTransformer):
        raise TypeError(f"RAW trains a RawTransformer, not {type(model).__name__}")
    return model.forecast_loss(batch)


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
    """Multi-horizon forecast pre-training (several GPUs or machines: under torchrun, see
    :mod:`urbansig.distributed`)."""
    generator = generator or torch.Generator().manual_seed(0)
    data = window_tensors(train)
    val_batches = None
    if val is not None and len(val.xy):
        val_data = window_tensors(val)
        val_batches = _batches(val_data, batch_size, torch.Generator().manual_seed(1))
    return fit(
        model,
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
        hidden = (
            model(batch["xy"], batch["gap"], batch["slot"], batch["dow"], batch["fresh"])
            .double()
            .cpu()
        )
        keep = counted[sl].double()
        total.index_add_(0, users[sl], (hidden * keep[..., None]).sum(1))
        count.index_add_(0, users[sl], keep.sum(1))
    return (total / count.clamp_min(1)[:, None]).numpy()


@torch.no_grad()
def forecast_contexts(
    model: RawTransformer,
    xy: np.ndarray,
    gap: np.ndarray,
    fresh: np.ndarray,
    time_s: np.ndarray,
    horizon: int,
    step_s: int,
    utc_offset_s: int,
    device: torch.device,
    batch_size: int = 512,
) -> np.ndarray:
    """Positions 1..``horizon`` steps after the last step of each context, (n, horizon, 2).

    ``xy``/``gap``/``fresh``/``time_s`` are contexts (n, C) whose last step is the origin;
    one forward pass per batch (the head forecasts every horizon directly, no rollout).
    """
    if horizon > model.config.horizons:
        raise ValueError(f"the model forecasts up to {model.config.horizons} steps, not {horizon}")
    model.eval().to(device)
    max_len = model.config.max_len
    out = np.empty((len(xy), horizon, 2), dtype=np.float32)
    for start in range(0, len(xy), batch_size):
        sl = slice(start, start + batch_size)
        cx = torch.from_numpy(np.ascontiguousarray(xy[sl, -max_len:], dtype=np.float32))
        cg = torch.from_numpy(np.ascontiguousarray(gap[sl, -max_len:]))
        cf = torch.from_numpy(np.ascontiguousarray(fresh[sl, -max_len:]))
        slot, dow = time_features(np.asarray(time_s[sl, -max_len:]), step_s, utc_offset_s)
        slot_t = torch.from_numpy(slot).to(device)
        cx, cg, cf = cx.to(device), cg.to(device), cf.to(device)
        hidden = model(cx, cg, slot_t, torch.from_numpy(dow).to(device), cf)
        pred = model.forecast_last(cx, hidden, slot_t, ~cg)
        out[sl] = pred[:, :horizon].float().cpu().numpy()
    return out


TEMPERATURES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


@torch.no_grad()
def calibrate_temperature(
    model: RawTransformer, windows: Windows, device: torch.device, batch_size: int = 64
) -> list[dict[float, float]]:
    """Set ``model.config.temperature`` to the one of :data:`TEMPERATURES` whose decisions
    are closest on ``windows``, pooled over horizons (validation windows of users kept out of
    training; every fresh origin with a fresh target); returns each horizon's mean distance
    per temperature ([] when no window has a target)."""
    model.eval().to(device)
    data = window_tensors(windows)
    horizons = model.config.horizons
    totals = np.zeros((horizons, len(TEMPERATURES)))
    counts = np.zeros(horizons)
    for start in range(0, len(windows.xy), batch_size):
        b = {k: v[start : start + batch_size].to(device) for k, v in data.items()}
        fresh = b["fresh"] & ~b["gap"]
        hidden = model(b["xy"], b["gap"], b["slot"], b["dow"], fresh)
        n = b["xy"].shape[1]
        for i, t in enumerate(TEMPERATURES):
            pred = model.forecast_all(b["xy"], hidden, b["slot"], ~b["gap"], temperature=t)
            for h in range(1, min(horizons, n - 1) + 1):
                keep = fresh[:, :-h] & fresh[:, h:]
                dist = torch.linalg.vector_norm(pred[:, :-h, h - 1] - b["xy"][:, h:], dim=-1)
                totals[h - 1, i] += float(dist[keep].sum())
                if i == 0:
                    counts[h - 1] += float(keep.sum())
    if not counts.any():
        return []
    means = totals / np.maximum(counts, 1)[:, None]
    # one temperature for every horizon (per-horizon choices overfit small validation sets)
    pooled = totals.sum(0) / counts.sum()
    model.config.temperature = float(TEMPERATURES[int(np.argmin(pooled))])
    return [dict(zip(TEMPERATURES, row, strict=True)) for row in means]
