"""Small MLP encoders for non-image modalities (flow profiles, POI category count vectors).

Inputs are ``log1p``-scaled and standardised with statistics kept as buffers (saved with the
weights). Like the image encoders, ``features`` is the backbone and ``fc`` the projection.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MLPEncoder(nn.Module):
    """``log1p`` -> standardise -> MLP backbone -> linear projection ``fc``."""

    mean: torch.Tensor  # buffers
    std: torch.Tensor

    def __init__(self, in_dim: int, out_dim: int = 128, hidden: int = 128) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.backbone = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.feature_dim = hidden
        self.fc = nn.Linear(hidden, out_dim)

    def set_statistics(self, values: np.ndarray) -> None:
        """Standardisation statistics from raw (non-negative) training inputs."""
        scaled = np.log1p(np.maximum(np.asarray(values, dtype=np.float64), 0.0))
        self.mean.copy_(torch.as_tensor(scaled.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(scaled.std(0) + 1e-6, dtype=torch.float32))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = (torch.log1p(torch.clamp(x, min=0.0)) - self.mean) / self.std
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
