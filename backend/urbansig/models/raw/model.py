"""The RAW trajectory transformer: a GPT-like decoder over fixed-step GPS sequences.

Each step is encoded by a feed-forward layer (its position relative to the window's first
observed step, its displacement since the previous step, gap and fix flags), plus a learned
positional encoding, plus time-of-day and day-of-week embeddings; pre-LN blocks of causal
multi-head self-attention and an MLP. The forecast head reads the hidden state of an origin
step with the horizon and the target step's time of day, and predicts the displacement from
the origin to where the user will be: one head for every horizon (no rollout), trained with
the Euclidean distance itself, so it learns movement where movement is predictable and the
geometric median ("stay") where it is not. Positions relative to the window make the model
the same anywhere: a model trained in one city goes on training or forecasting in another.
Importable with torch alone.
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
    horizons: int = field(default_factory=lambda: _default("horizon_steps"))
    slots_per_day: int = 48
    dropout: float = 0.0
    distance_eps: float = 0.01  # normalised units: the distance loss is smooth within this
    temperature: float | list[float] = 1.0  # of the choice probabilities, per horizon
    choice_loss: str = "expected"  # expected distance of the choice, or "ce" (nearest)

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
    """``forward`` -> final hidden states (B, L, width); ``forecast`` -> positions ahead."""

    def __init__(self, config: RawConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.point = nn.Sequential(nn.Linear(N_POINT_FEATURES, w), nn.GELU(), nn.Linear(w, w))
        self.pos = nn.Embedding(config.max_len, w)
        self.tod = nn.Embedding(config.slots_per_day, w)
        self.dow = nn.Embedding(7, w)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(w, config.heads, config.dropout) for _ in range(config.layers)
        )
        self.ln_f = nn.LayerNorm(w)
        self.horizon = nn.Embedding(config.horizons, w)
        self.target_tod = nn.Embedding(config.slots_per_day, w)
        self.head = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 2))
        self.query = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w))
        self.key = nn.Linear(w, w)
        self.free_logit = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 1))
        self.apply(_init_weights)
        last = self.head[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)  # starts as persistence
        nn.init.zeros_(last.bias)

    def forward(
        self,
        xy: torch.Tensor,
        gap: torch.Tensor,
        slot: torch.Tensor,
        dow: torch.Tensor,
        fresh: torch.Tensor | None = None,
    ) -> torch.Tensor:
        n = xy.shape[1]
        if n > self.config.max_len:
            raise ValueError(f"sequence of {n} steps is longer than max_len {self.config.max_len}")
        known = (~gap).to(xy.dtype).unsqueeze(-1)
        freshf = known if fresh is None else (fresh & ~gap).to(xy.dtype).unsqueeze(-1)
        rel = (xy - window_anchor(xy, gap)) * known
        moved = torch.zeros_like(rel)
        both = known[:, 1:] * known[:, :-1]
        moved[:, 1:] = (rel[:, 1:] - rel[:, :-1]) * both
        features = torch.cat([rel.clamp(-20, 20), moved.clamp(-20, 20), 1 - known, freshf], -1)
        tokens = self.point(features)
        positions = torch.arange(n, device=xy.device)
        h = self.drop(tokens + self.pos(positions)[None] + self.tod(slot) + self.dow(dow))
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h)

    def forecast_parts(
        self, xy: torch.Tensor, hidden: torch.Tensor, slot: torch.Tensor, known: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """For every origin step and horizon: the free forecast (B, L, H, 2) and the logits
        (B, L, H, L + 1) of choosing among the places seen so far (candidate j < L: the
        position of step j, at or before the origin and known) and the free forecast (L).

        The free forecast is the origin plus a displacement; the choice is a pointer over
        the context (a place the user was, such as where they were at this time yesterday,
        or the origin itself: staying), scored by the origin's query for that horizon and
        target time of day against every earlier step's key.
        """
        b, n, w = hidden.shape
        steps = torch.arange(1, self.config.horizons + 1, device=xy.device)
        target_slot = (slot[..., None] + steps) % self.config.slots_per_day
        query = hidden[:, :, None, :] + self.horizon(steps - 1) + self.target_tod(target_slot)
        free = xy[:, :, None, :] + self.head(query).to(xy.dtype)
        q = self.query(query)
        k = self.key(hidden)
        scores = torch.einsum("blhw,bjw->blhj", q, k) / w**0.5
        earlier = torch.ones(n, n, dtype=torch.bool, device=xy.device).tril()
        allowed = earlier[None, :, None, :] & known[:, None, None, :]
        scores = scores.masked_fill(~allowed, -1e4)
        logits = torch.cat([scores, self.free_logit(query)], -1)
        return free, logits

    def forecast_all(
        self,
        xy: torch.Tensor,
        hidden: torch.Tensor,
        slot: torch.Tensor,
        known: torch.Tensor,
        temperature: float | None = None,
    ) -> torch.Tensor:
        """Positions 1..horizons steps after every step, (B, L, H, 2), normalised units: the
        candidate of :meth:`forecast_parts` with the least expected distance to where the
        user will be, under the choice probabilities at ``temperature`` (default: the
        calibrated one). This decision minimises the mean error: a confident choice is
        taken, an unsure one falls back on a central place such as the origin.

        ``xy``, ``slot`` and ``known`` (not a gap) are the steps' own (B, L).
        """
        free, logits = self.forecast_parts(xy, hidden, slot, known)
        if temperature is None:
            t = torch.tensor(self.temperatures(), device=xy.device)[:, None]
        else:
            t = torch.full((self.config.horizons, 1), float(temperature), device=xy.device)
        prob = (logits.float() / t).softmax(-1)
        n = xy.shape[1]
        seen = xy.float()
        p_seen, p_free = prob[..., :n], prob[..., n]
        between = torch.cdist(seen, seen)  # (B, L, L)
        to_free = torch.linalg.vector_norm(
            free.float()[..., None, :] - seen[:, None, None, :, :], dim=-1
        )  # (B, L, H, L): free forecast of origin i, horizon h, to step j
        # expected distance of choosing step k, and of choosing the free forecast
        cost_seen = torch.einsum("bihj,bkj->bihk", p_seen, between) + p_free[..., None] * to_free
        cost_free = (p_seen * to_free).sum(-1)
        cost_seen = cost_seen.masked_fill(logits[..., :n] <= -1e4, float("inf"))
        best = cost_seen.argmin(-1)
        batch = torch.arange(xy.shape[0], device=xy.device)[:, None, None]
        chosen = xy[batch, best]
        use_free = (cost_free <= cost_seen.gather(-1, best[..., None])[..., 0])[..., None]
        return torch.where(use_free, free, chosen)

    def temperatures(self) -> list[float]:
        """The calibrated temperature of each horizon (one value given: all horizons)."""
        t = self.config.temperature
        values = list(t) if isinstance(t, (list, tuple)) else [float(t)] * self.config.horizons
        return [float(v) for v in values]

    def forecast_last(
        self, xy: torch.Tensor, hidden: torch.Tensor, slot: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`forecast_all` of each window's last step only, (B, H, 2)."""
        return self.forecast_all(xy, hidden, slot, known)[:, -1]

    def forecast_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy of choosing the candidate nearest the fix that follows, plus the free
        forecast's Euclidean distance to it (normalised units): origins and targets are
        fresh steps (a fix within the step), every horizon whose target is in the window."""
        xy, gap, slot = batch["xy"], batch["gap"], batch["slot"]
        fresh = batch["fresh"] & ~gap
        hidden = self(xy, gap, slot, batch["dow"], fresh)
        free, logits = self.forecast_parts(xy, hidden, slot, ~gap)
        n, horizons = xy.shape[1], self.config.horizons
        total = free.new_zeros((), dtype=torch.float32)
        count = free.new_zeros((), dtype=torch.float32)
        eps = self.config.distance_eps

        def distance(diff: torch.Tensor) -> torch.Tensor:
            return torch.sqrt((diff.float() ** 2).sum(-1) + eps**2) - eps

        for h in range(1, min(horizons, n - 1) + 1):
            keep = (fresh[:, :-h] & fresh[:, h:]).float()
            target = xy[:, h:]  # (B, n - h, 2): the fix h steps after each origin
            d_free = distance(free[:, :-h, h - 1] - target)
            d_seen = distance(xy[:, None, :, :] - target[:, :, None, :])  # (B, n - h, n)
            every = torch.cat([d_seen, d_free[..., None]], -1)
            scores = logits[:, :-h, h - 1].float()
            if self.config.choice_loss == "expected":  # the mean distance of the choice
                choice = (scores.softmax(-1) * every).sum(-1)
            else:  # cross-entropy of the nearest candidate
                nearest = every.masked_fill(scores <= -1e4, float("inf")).detach().argmin(-1)
                choice = F.cross_entropy(
                    scores.flatten(0, 1), nearest.flatten(), reduction="none"
                ).view_as(d_free)
            total = total + ((choice + d_free) * keep).sum()
            count = count + keep.sum()
        return total / count.clamp_min(1)


def window_anchor(xy: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
    """The position of each window's first known step (B, 1, 2); zeros for an empty window.

    Causal: every later step is expressed relative to a step at or before it."""
    first = (~gap).to(torch.int64).argmax(1)  # 0 when none is known
    return xy.gather(1, first[:, None, None].expand(-1, 1, 2))


N_POINT_FEATURES = 6  # relative x, y; displacement x, y; gap; fix within the step


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
