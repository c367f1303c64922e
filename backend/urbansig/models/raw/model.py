"""The RAW trajectory transformer: a GPT-like decoder over fixed-step GPS sequences.

Each step is encoded by a feed-forward layer (normalised x, y and a gap flag), plus a learned
positional encoding, plus time-of-day and day-of-week embeddings; pre-LN blocks of causal
multi-head self-attention and an MLP; a linear head predicts the displacement to the next
step. Importable with torch alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from urbansig.models.raw import default as _default


@dataclass
class RawConfig:
    """Size and layout of a :class:`RawTransformer` (sizes default to the job's table)."""

    layers: int = field(default_factory=lambda: _default("layers"))
    width: int = field(default_factory=lambda: _default("width"))
    heads: int = field(default_factory=lambda: _default("heads"))
    max_len: int = field(default_factory=lambda: _default("seq_len"))
    slots_per_day: int = 48
    dropout: float = 0.0
    huber_delta: float = 0.1  # in normalised units: quadratic below, linear above (L1-like)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RawConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width % heads:
            raise ValueError("width must be a multiple of heads")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(out.transpose(1, 2).reshape(b, n, w))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, dropout)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class RawTransformer(nn.Module):
    """``forward`` -> final hidden states (B, L, width); ``predict`` -> next normalised points."""

    def __init__(self, config: RawConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.point = nn.Sequential(nn.Linear(3, w), nn.GELU(), nn.Linear(w, w))
        self.pos = nn.Embedding(config.max_len, w)
        self.tod = nn.Embedding(config.slots_per_day, w)
        self.dow = nn.Embedding(7, w)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(w, config.heads, config.dropout) for _ in range(config.layers)
        )
        self.ln_f = nn.LayerNorm(w)
        self.head = nn.Linear(w, 2)
        self.apply(_init_weights)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(
        self, xy: torch.Tensor, gap: torch.Tensor, slot: torch.Tensor, dow: torch.Tensor
    ) -> torch.Tensor:
        n = xy.shape[1]
        if n > self.config.max_len:
            raise ValueError(f"sequence of {n} steps is longer than max_len {self.config.max_len}")
        gapf = gap.to(xy.dtype).unsqueeze(-1)
        tokens = self.point(torch.cat([xy * (1 - gapf), gapf], -1))
        positions = torch.arange(n, device=xy.device)
        h = self.drop(tokens + self.pos(positions)[None] + self.tod(slot) + self.dow(dow))
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h)

    def predict(self, xy: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Next normalised position after each step: the current one plus a displacement."""
        return xy + self.head(hidden).to(xy.dtype)

    def next_point_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Huber loss of the next-point prediction on non-gap steps (inputs and targets)."""
        xy, gap = batch["xy"], batch["gap"]
        hidden = self(xy[:, :-1], gap[:, :-1], batch["slot"][:, :-1], batch["dow"][:, :-1])
        pred = self.predict(xy[:, :-1], hidden)
        keep = ~(gap[:, 1:] | gap[:, :-1])
        loss = F.huber_loss(
            pred.float(), xy[:, 1:].float(), reduction="none", delta=self.config.huber_delta
        ).sum(-1)
        return (loss * keep).sum() / keep.sum().clamp_min(1)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
