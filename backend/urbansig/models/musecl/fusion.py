"""Attentive fusion (paper Eq. 8-10) and the InfoNCE alignment to POI vectors (Eq. 11)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from urbansig.distributed import gather_rows


class AttentiveFusion(nn.Module):
    """``alpha_m = c^T ReLU(M e_m + b)``, ``beta = softmax_m(alpha)``, ``e = sum_m beta_m e_m``.

    ``M`` and ``b`` are ``self.M`` (a linear layer), ``c`` is ``self.c``; one set shared by
    every modality. Missing modalities (``mask`` False) get weight 0; a region with none
    gets a zero vector and zero weights.

    ``modality_maps=k`` (not in the paper): each of the ``k`` modalities first goes through
    its own map into the fused space, ``e_m <- e_m + W2_m ReLU(W1_m e_m + b1_m) + b2_m``
    (:class:`ResidualMap`, the identity at the start): the unit vectors of different encoders
    live in unrelated spaces, and summing them as they are mixes coordinates that mean
    different things; the non-linear part lets the fused vector carry features that a
    weighted sum (or a concatenation) of the inputs only holds implicitly.
    """

    def __init__(self, dim: int, hidden: int | None = None, modality_maps: int = 0) -> None:
        super().__init__()
        hidden = hidden or dim
        self.M = nn.Linear(dim, hidden)
        self.c = nn.Parameter(torch.empty(hidden))
        nn.init.normal_(self.c, std=hidden**-0.5)
        # drawn on a side stream: adding the maps leaves the random stream of what follows
        # (the projection head, stage 1's data order) as it was without them
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, ())))
            self.maps = nn.ModuleList(ResidualMap(dim) for _ in range(modality_maps))

    def forward(
        self, embeddings: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``embeddings`` (B, n_modalities, dim) -> fused (B, dim), betas (B, n_modalities)."""
        if len(self.maps):
            embeddings = torch.stack([w(embeddings[:, j]) for j, w in enumerate(self.maps)], 1)
        alpha = torch.relu(self.M(embeddings)) @ self.c
        if mask is not None:
            alpha = alpha.masked_fill(~mask, float("-inf"))
        beta = torch.softmax(alpha, dim=1)
        beta = torch.nan_to_num(beta, nan=0.0)
        return (beta.unsqueeze(-1) * embeddings).sum(1), beta


class ResidualMap(nn.Module):
    """``x + W2 ReLU(W1 x + b1) + b2`` with ``W2``, ``b2`` zero at the start (the identity)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        first, last = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.net = nn.Sequential(first, nn.ReLU(inplace=True), last)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def neg_entropy(beta: torch.Tensor) -> torch.Tensor:
    """Mean over regions of ``sum_m beta_m log beta_m`` (0 for one-hot, -log k for uniform).

    Added to the loss with a positive weight it keeps the attention from collapsing onto
    the modality nearest to the alignment target: a region-dependent weight multiplies each
    modality's vector by a factor that is noise for a downstream predictor.
    """
    return (beta * beta.clamp(min=1e-12).log()).sum(1).mean()


def info_nce(fused: torch.Tensor, target: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Eq. 11 averaged over the mini-batch: ``-log softmax_j(sim(e_i, t_j) / tau)[i]``.

    ``sim`` is the cosine similarity; the paper's equation is ``temperature = 1``. Under
    torch.distributed the batch is every process's rows (the global batch's negatives).
    """
    fused, target = gather_rows(fused), gather_rows(target)
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
