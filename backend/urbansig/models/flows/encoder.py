"""The flows encoder: view tokens -> attention across views -> attention across regions.

Each region has one token per view (its trips to and from every region in one time slot,
or one table of counts). A transformer layer lets the views of a region attend to one
another, an attentive pooling fuses them (the weights are reported), a second transformer
layer lets regions attend to one another, and a linear head gives the embedding. The
self-supervised decoders ask the embedding to explain who goes where (source/target
distributions, as MVURE and HAFusion) and to reconstruct every view. Importable with
torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class EncoderShape:
    """Sizes: ``token_dims`` per view token, ``n_slots`` flow tokens first."""

    token_dims: tuple[int, ...]
    n_slots: int
    width: int
    dim: int
    heads: int = 4
    dropout: float = 0.1
    linear_decoder: bool = True
    region_attention: bool = True


class FlowEncoder(nn.Module):
    """Region tokens (list of (n, d_k)) -> embeddings (n, dim) and the view weights (n, K)."""

    def __init__(self, shape: EncoderShape) -> None:
        super().__init__()
        self.shape = shape
        w = shape.width
        self.project = nn.ModuleList(nn.Linear(d, w) for d in shape.token_dims)
        self.kind = nn.Parameter(torch.zeros(len(shape.token_dims), w))
        self.views = nn.TransformerEncoderLayer(
            w, shape.heads, 2 * w, shape.dropout, batch_first=True, norm_first=True
        )
        self.score = nn.Sequential(nn.Linear(w, w), nn.Tanh(), nn.Linear(w, 1, bias=False))
        self.regions = nn.TransformerEncoderLayer(
            w, shape.heads, 2 * w, shape.dropout, batch_first=True, norm_first=True
        )
        self.head = nn.Linear(w, shape.dim)
        # decoders (training only)
        self.source = nn.ModuleList(nn.Linear(shape.dim, shape.dim) for _ in range(shape.n_slots))
        self.target = nn.ModuleList(nn.Linear(shape.dim, shape.dim) for _ in range(shape.n_slots))
        self.reconstruct = nn.ModuleList(
            nn.Linear(shape.dim, d)
            if shape.linear_decoder
            else nn.Sequential(nn.Linear(shape.dim, w), nn.GELU(), nn.Linear(w, d))
            for d in shape.token_dims
        )

    def forward(self, tokens: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([p(t) for p, t in zip(self.project, tokens)], dim=1) + self.kind
        x = self.views(x)
        weights = torch.softmax(self.score(x).squeeze(-1), dim=1)
        fused = (weights.unsqueeze(-1) * x).sum(dim=1)
        if self.shape.region_attention:
            fused = self.regions(fused.unsqueeze(0)).squeeze(0)
        return self.head(fused), weights


@dataclass
class LossWeights:
    mobility: float = 1.0
    reconstruction: float = 1.0


def self_supervised_loss(
    model: FlowEncoder,
    tokens: list[torch.Tensor],
    out_dist: torch.Tensor,
    in_dist: torch.Tensor,
    weights: LossWeights,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mobility cross-entropy (out and in, per slot) plus reconstruction of every token."""
    emb, _ = model(tokens)
    mobility = emb.new_zeros(())
    for t in range(model.shape.n_slots):
        logits = model.source[t](emb) @ model.target[t](emb).T
        mobility = mobility + _cross_entropy(logits, out_dist[t])
        mobility = mobility + _cross_entropy(logits.T, in_dist[t])
    mobility = mobility / max(model.shape.n_slots, 1)
    recon = sum(
        (F.mse_loss(dec(emb), tok) for dec, tok in zip(model.reconstruct, tokens)),
        start=emb.new_zeros(()),
    ) / len(tokens)
    loss = weights.mobility * mobility + weights.reconstruction * recon
    return loss, {"mobility": float(mobility.detach()), "reconstruction": float(recon.detach())}


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over rows that have trips of the cross-entropy to the target distribution."""
    has = target.sum(dim=1) > 0
    if not bool(has.any()):
        return logits.new_zeros(())
    return -(target[has] * F.log_softmax(logits[has], dim=1)).sum(dim=1).mean()
