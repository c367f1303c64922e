"""Small MLP encoders for non-image modalities (flows, POI category counts, count tables).

Count inputs are ``log1p``-scaled (``log_inputs``; not for inputs that are already
embeddings) and standardised with statistics kept as buffers (saved with the weights). Like
the image encoders, ``features`` is the backbone and ``fc`` the projection.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MLPEncoder(nn.Module):
    """``log1p`` (counts) -> standardise -> MLP backbone -> linear projection ``fc``."""

    mean: torch.Tensor  # buffers
    std: torch.Tensor

    def __init__(
        self, in_dim: int, out_dim: int = 128, hidden: int = 128, log_inputs: bool = True
    ) -> None:
        super().__init__()
        self.log_inputs = log_inputs
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.backbone: nn.Module = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.feature_dim = hidden
        self.fc = nn.Linear(hidden, out_dim)

    @classmethod
    def pretrained(cls, in_dim: int, out_dim: int) -> MLPEncoder:
        """For inputs that are already an embedding (trained elsewhere): standardise, then an
        orthogonal linear projection (no hidden layers, nothing to train in stage 1)."""
        enc = cls(in_dim, out_dim, log_inputs=False)
        enc.backbone = nn.Identity()
        enc.feature_dim = in_dim
        enc.fc = nn.Linear(in_dim, out_dim)
        nn.init.orthogonal_(enc.fc.weight)
        nn.init.zeros_(enc.fc.bias)
        return enc

    def set_statistics(self, values: np.ndarray) -> None:
        """Standardisation statistics from the raw training inputs."""
        scaled = self._scale(np.asarray(values, dtype=np.float64))
        self.mean.copy_(torch.as_tensor(scaled.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(scaled.std(0) + 1e-6, dtype=torch.float32))

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(values, 0.0)) if self.log_inputs else values

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.log_inputs:
            x = torch.log1p(torch.clamp(x, min=0.0))
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
