"""Traffic augmentations on batches of normalised profiles, vectorised on tensors.

Each one can be switched off. ``neighbour_mix`` (off by default: the model's neighbour pairs
already contrast a tile with a neighbour) mixes a tile's signature with a random spatial
neighbour's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from urbansig import parameters


def _switch(name: str) -> Any:
    """The table default of the algorithm's AUG_<NAME> switch."""
    return field(default_factory=lambda: parameters.default("clustertraffictiles", f"aug_{name}"))


@dataclass
class AugmentConfig:
    """Switches and strengths of the traffic augmentations (on log/z-scored signatures)."""

    # circular time shift of up to max_shift steps (same for all services)
    shift: bool = _switch("shift")
    max_shift: int = 1
    # per-service amplitude scaling: log-space offset in +- scale_range
    scale: bool = _switch("scale")
    scale_range: float = 0.3
    # additive Gaussian noise
    jitter: bool = _switch("jitter")
    jitter_std: float = 0.1
    # each step of the week blanked (all services) with this probability
    mask_hours: bool = _switch("mask_hours")
    mask_hours_p: float = 0.1
    # each service row blanked with this probability
    mask_services: bool = _switch("mask_services")
    mask_services_p: float = 0.1
    # mix with a random neighbour's signature, weight U(0, mix_max)
    neighbour_mix: bool = _switch("neighbour_mix")
    mix_max: float = 0.5
    context_dropout: float = 0.2  # spatial model: context replaced by the tile itself

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def none(cls) -> AugmentConfig:
        """Every augmentation switched off: a view is the tile itself (and its context)."""
        off = {f.name: False for f in fields(cls) if f.type in ("bool", bool)}
        return cls(**off, context_dropout=0.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class TrafficAugment:
    """Makes one random view of a batch: ``view(x, neighbour, context) -> (B, C, T)``.

    ``x`` and ``neighbour`` are ``(B, S, T)`` (``neighbour``: one random neighbour of each
    tile, the tile itself when it has none); ``context`` (spatial model only) is the mean of
    the neighbours, appended as S more channels after the same time shift.
    """

    def __init__(self, config: AugmentConfig | None = None) -> None:
        self.config = config or AugmentConfig()

    def view(
        self,
        x: torch.Tensor,
        neighbour: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        c = self.config
        b, s, t = x.shape
        dev = x.device
        if c.neighbour_mix and neighbour is not None and c.mix_max > 0:
            lam = torch.rand(b, 1, 1, device=dev) * c.mix_max
            x = (1 - lam) * x + lam * neighbour
        if context is not None:
            if c.context_dropout > 0:
                drop = torch.rand(b, 1, 1, device=dev) < c.context_dropout
                context = torch.where(drop, x, context)
            x = torch.cat([x, context], dim=1)
        if c.shift and c.max_shift > 0:
            x = circular_shift(x, torch.randint(-c.max_shift, c.max_shift + 1, (b,), device=dev))
        channels = x.shape[1]
        if c.scale and c.scale_range > 0:
            # profiles are log traffic: scaling a service's traffic shifts its row
            x = x + (torch.rand(b, channels, 1, device=dev) * 2 - 1) * c.scale_range
        if c.jitter and c.jitter_std > 0:
            x = x + torch.randn_like(x) * c.jitter_std
        keep = torch.ones(b, channels, t, device=dev, dtype=x.dtype)
        if c.mask_hours and c.mask_hours_p > 0:
            keep = keep * (torch.rand(b, 1, t, device=dev) >= c.mask_hours_p)
        if c.mask_services and c.mask_services_p > 0 and s > 1:
            rows = torch.rand(b, s, 1, device=dev) >= c.mask_services_p
            rows[rows.sum(dim=1).squeeze(-1) == 0, 0] = True  # keep at least one service
            keep = keep * rows.repeat(1, channels // s, 1)
        return x * keep


def circular_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Roll each sample of ``x`` ``(B, C, T)`` along time by its own number of steps."""
    b, c, t = x.shape
    index = (torch.arange(t, device=x.device)[None, :] - shifts[:, None]) % t
    return torch.gather(x, 2, index[:, None, :].expand(b, c, t))
