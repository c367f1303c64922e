"""Attentive fusion (paper Eq. 8-10) and the InfoNCE alignment to POI vectors (Eq. 11)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AttentiveFusion(nn.Module):
    """``alpha_m = c^T ReLU(M e_m + b)``, ``beta = softmax_m(alpha)``, ``e = sum_m beta_m e_m``.

    ``M`` and ``b`` are ``self.M`` (a linear layer), ``c`` is ``self.c``; one set shared by
    every modality. Missing modalities (``mask`` False) get weight 0; a region with none
    gets a zero vector and zero weights.
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.M = nn.Linear(dim, hidden)
        self.c = nn.Parameter(torch.empty(hidden))
        nn.init.normal_(self.c, std=hidden**-0.5)

    def forward(
        self, embeddings: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``embeddings`` (B, n_modalities, dim) -> fused (B, dim), betas (B, n_modalities)."""
        alpha = torch.relu(self.M(embeddings)) @ self.c
        if mask is not None:
            alpha = alpha.masked_fill(~mask, float("-inf"))
        beta = torch.softmax(alpha, dim=1)
        beta = torch.nan_to_num(beta, nan=0.0)
        return (beta.unsqueeze(-1) * embeddings).sum(1), beta


def info_nce(fused: torch.Tensor, target: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Eq. 11 averaged over the mini-batch: ``-log softmax_j(sim(e_i, t_j) / tau)[i]``.

    ``sim`` is the cosine similarity; the paper's equation is ``temperature = 1``.
    """
    logits = F.normalize(fused, dim=-1) @ F.normalize(target, dim=-1).T / temperature
    labels = torch.arange(len(fused), device=fused.device)
    return F.cross_entropy(logits, labels)


class ProjectionHead(nn.Module):
    """``g(h) = W2 ReLU(W1 h)``: the InfoNCE space on top of the fused representation ``h``.

    As in SimCLR, the contrastive loss is applied to ``g(h)`` and the embedding is ``h``, so
    what the alignment target does not describe (e.g. density, when the target is the POI
    type mix) can be discarded by ``g`` without being erased from ``h``.
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)
