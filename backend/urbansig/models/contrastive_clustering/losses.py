"""The two contrastive losses of Contrastive Clustering (Li et al., AAAI 2021)."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from urbansig.distributed import gather_rows


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent between paired rows of ``a`` and ``b`` ``(N, D)``: row i of ``a`` and row i of
    ``b`` are positives, the other 2N - 2 rows negatives; cosine similarity / temperature,
    mean over the 2N anchors."""
    n = a.shape[0]
    z = F.normalize(torch.cat([a, b], dim=0).float(), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def instance_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Instance-level contrast: NT-Xent over the rows of the two views' feature matrices
    (under torch.distributed, every process's rows: the negatives of the global batch)."""
    return nt_xent(gather_rows(z_a), gather_rows(z_b), temperature)


def cluster_entropy(p: torch.Tensor) -> torch.Tensor:
    """log K - H(mean assignment): 0 when clusters are used evenly, log K when all collapse."""
    mass = p.float().sum(dim=0)
    mass = mass / mass.sum()
    return math.log(p.shape[1]) + (mass * torch.log(mass.clamp_min(1e-12))).sum()


def cluster_loss(
    p_a: torch.Tensor, p_b: torch.Tensor, temperature: float = 1.0, entropy_weight: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster-level contrast: NT-Xent over the K columns of the soft assignment matrices
    (column k of both views is a positive pair), plus the entropy term against collapse.
    Returns ``(contrast, entropy)``; the loss is ``contrast + entropy_weight * entropy``.
    Under torch.distributed the columns span every process's rows."""
    p_a, p_b = gather_rows(p_a), gather_rows(p_b)
    contrast = nt_xent(p_a.T, p_b.T, temperature)
    entropy = cluster_entropy(p_a) + cluster_entropy(p_b)
    return contrast, entropy_weight * entropy
