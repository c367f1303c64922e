"""Time-series encoders over (channels x time), the two contrastive heads and the prototype
cluster head of the refinement stage."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# residual CNNs: name -> (stem width, widths of the residual stages); each stage halves time
ENCODER_SIZES: dict[str, tuple[int, tuple[int, ...]]] = {
    "small": (32, (32, 64)),
    "large": (64, (64, 128, 256)),
}
ENCODERS = ("dense", *ENCODER_SIZES)  # "dense" (TimeDenseEncoder) is the default
POOL_BINS = 24  # time bins kept before the projection (3 per day on a weekly layout)


class ResidualBlock(nn.Module):
    """Two circular 1-D convolutions with batch norm and a skip connection (strided: downsample)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 5) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(
            c_in, c_out, kernel, stride, pad, bias=False, padding_mode="circular"
        )
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, 1, pad, bias=False, padding_mode="circular")
        self.bn2 = nn.BatchNorm1d(c_out)
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


class TrafficEncoder(nn.Module):
    """1-D residual CNN over a ``(B, channels, steps)`` signature -> ``(B, dim)`` representation.

    A strided stem convolution and one strided residual block per stage (a weekly pattern is
    periodic, so convolutions pad circularly), then the feature map is average-pooled to
    ``POOL_BINS`` time bins and flattened into a linear layer. Keeping the bins, instead of
    pooling over all time, keeps *when* in the week each pattern happens: offices and
    nightlife differ by the hour and weekday of their peaks, not only by their shape.
    """

    def __init__(self, channels: int, size: str = "small") -> None:
        super().__init__()
        stem, stages = ENCODER_SIZES[size]
        self.stem = nn.Sequential(
            nn.Conv1d(channels, stem, 7, 2, 3, bias=False, padding_mode="circular"),
            nn.BatchNorm1d(stem),
            nn.ReLU(),
        )
        blocks, c_in = [], stem
        for width in stages:
            blocks.append(ResidualBlock(c_in, width, stride=2))
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(POOL_BINS)
        self.dim: int = 4 * c_in
        self.project = nn.Sequential(nn.Linear(c_in * POOL_BINS, self.dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.blocks(self.stem(x)))
        return self.project(h.flatten(1))


class TimeDenseEncoder(nn.Module):
    """A circular 1-D convolution over time (kernel ``kernel``, stride 2), then dense layers
    over the whole (channels x time) map: every hour of the week keeps its own weights, so
    *when* a pattern happens counts as much as its shape (the default; on the synthetic city
    it clusters land use better than the pooled residual CNNs, see bench/RESULTS.md)."""

    def __init__(self, channels: int, n_steps: int, width: int = 32, dim: int = 256) -> None:
        super().__init__()
        self.dim: int = dim
        self.net = nn.Sequential(
            nn.Conv1d(channels, width, 5, 2, 2, bias=False, padding_mode="circular"),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(width * ((n_steps + 1) // 2), 2 * dim),
            nn.BatchNorm1d(2 * dim),
            nn.ReLU(),
            nn.Linear(2 * dim, dim),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PrototypeHead(nn.Module):
    """Cluster head of the refinement stage: logits ``-|h - c_k|^2 / temperature`` over K
    learnable prototypes (a soft k-means), started from k-means centroids."""

    temperature: torch.Tensor  # buffer

    def __init__(self, prototypes: torch.Tensor, temperature: float) -> None:
        super().__init__()
        self.prototypes = nn.Parameter(prototypes.float().clone())
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        c = self.prototypes
        return (2 * h @ c.T - (c * c).sum(dim=1)) / self.temperature


def make_encoder(kind: str, channels: int, n_steps: int) -> TimeDenseEncoder | TrafficEncoder:
    """The encoder named ``kind`` (one of ENCODERS) for ``channels`` x ``n_steps`` inputs."""
    if kind == "dense":
        return TimeDenseEncoder(channels, n_steps)
    if kind in ENCODER_SIZES:
        return TrafficEncoder(channels, kind)
    raise ValueError(f"encoder must be one of {ENCODERS}, not {kind!r}")


class ContrastiveClusteringNet(nn.Module):
    """Backbone + instance head (L2-normalised projection) + cluster head (softmax over K).

    The cluster head is an MLP while the representation trains, then a
    :class:`PrototypeHead` (``prototype_head=True``) for the refinement stage.
    """

    def __init__(
        self,
        channels: int,
        n_clusters: int,
        encoder: str = "dense",
        feature_dim: int = 64,
        n_steps: int = 168,
        prototype_head: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = make_encoder(encoder, channels, n_steps)
        dim = self.encoder.dim
        self.instance_head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, feature_dim)
        )
        self.cluster_head: nn.Module = (
            PrototypeHead(torch.zeros(n_clusters, dim), 1.0)
            if prototype_head
            else nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, n_clusters))
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, p)``: unit-norm instance features and cluster probabilities."""
        h = self.encoder(x)
        z = F.normalize(self.instance_head(h), dim=1)
        p = torch.softmax(self.cluster_head(h), dim=1)
        return z, p

    @torch.no_grad()
    def infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h, p)``: backbone representation and cluster probabilities."""
        h = self.encoder(x)
        return h, torch.softmax(self.cluster_head(h), dim=1)
