"""The MLP regressor of MuseCL's downstream task, trained with the shared loop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from urbansig.training import FitConfig, FitHistory, ProgressSink, fit, minibatches


class MLPRegressor(nn.Module):
    """Fully connected layers with ReLU, one linear output (a scalar per region)."""

    def __init__(self, n_features: int, hidden: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


SMALL_DATA = 50_000  # rows: below this a CPU thread pool costs more than it gives


@contextmanager
def cpu_threads_for(n_rows: int, device: torch.device) -> Iterator[None]:
    """One torch CPU thread for small data (tiny matrices; busy machines), restored after."""
    before = torch.get_num_threads()
    if device.type == "cpu" and n_rows < SMALL_DATA and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_mlp(
    model: MLPRegressor,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    config: FitConfig,
    device: torch.device,
    batch_size: int,
    generator: torch.Generator,
    events: ProgressSink | None = None,
) -> FitHistory:
    """Adam on the mean squared error; early stopping on the validation loss when given.

    ``X`` and ``y`` are already standardised. Data stay on ``device``; batches are slices.
    """
    xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.float32, device=device)
    order = minibatches(len(xt), min(batch_size, len(xt)), generator)

    def batches():
        for idx in order():
            idx = idx.to(device)
            yield xt[idx], yt[idx]

    val_batches = None
    if X_val is not None and y_val is not None and len(X_val):
        xv = torch.as_tensor(X_val, dtype=torch.float32, device=device)
        yv = torch.as_tensor(y_val, dtype=torch.float32, device=device)

        def val_batches():
            return [(xv, yv)]

    def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        xb, yb = batch
        return nn.functional.mse_loss(net(xb).float(), yb)

    with cpu_threads_for(len(xt), device):
        return fit(
            model, batches, loss_fn, config, device, events, val_batches=val_batches, stage="MLP"
        )


@torch.no_grad()
def mlp_predict(model: MLPRegressor, X: np.ndarray, device: torch.device) -> np.ndarray:
    """Predictions (standardised scale) in chunks, as float64."""
    model.eval()
    out = []
    for start in range(0, len(X), 65536):
        xb = torch.as_tensor(X[start : start + 65536], dtype=torch.float32, device=device)
        out.append(model(xb).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
