"""FlowEmbedder: region embeddings from OD flows and per-region views, as a Method.

Fitted full-batch for a fixed number of epochs (nothing is chosen on downstream labels);
deterministic for a seed on the CPU. ``transform`` embeds the training regions or new ones
(trips are aligned to the training regions by id). Importable with torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from urbansig import parameters
from urbansig.models.base import Method
from urbansig.models.flows.data import FlowData
from urbansig.models.flows.encoder import EncoderShape, FlowEncoder, LossWeights
from urbansig.models.flows.features import (
    Scalers,
    baseline_features,
    flow_tokens,
    intensity_columns,
    mobility_targets,
    view_tokens,
)
from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory, ProgressSink, resolve_device

TASK = "embedregionsflows"
METHOD = TASK
MODEL_VERSION = 1


def _default(key: str) -> Any:
    return parameters.default(TASK, key)


@dataclass
class FlowSettings:
    """Sizes and training settings; the first four default to the parameter table."""

    dim: int = field(default_factory=lambda: _default("dim"))
    width: int = field(default_factory=lambda: _default("width"))
    epochs: int = field(default_factory=lambda: _default("epochs"))
    lr: float = field(default_factory=lambda: _default("lr"))
    weight_decay: float = 1e-4
    heads: int = 4
    dropout: float = 0.1
    mobility_weight: float = 1.0
    reconstruction_weight: float = 1.0
    raw_scale: bool = True
    output_scale: float = 0.3
    intensity: int = 2
    intensity_scale: float = 0.5
    linear_decoder: bool = True
    region_attention: bool = False


class FlowEmbedder(Method[FlowData, np.ndarray]):
    """Embeds regions from who goes where (OD per slot) and their count views."""

    method = METHOD
    version = MODEL_VERSION

    def __init__(
        self,
        settings: FlowSettings | None = None,
        device: str | torch.device = "auto",
        seed: int = 0,
    ) -> None:
        self.settings = settings or FlowSettings()
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.seed = int(seed)
        self.model: FlowEncoder | None = None
        self.scalers: Scalers | None = None
        self.history: FitHistory | None = None
        self.out_mean: np.ndarray | None = None
        self.out_std: np.ndarray | None = None
        self.metrics: dict[str, Any] = {}

    # -- fitting ------------------------------------------------------------------------
    def fit(self, data: FlowData, events: ProgressSink | None = None) -> Self:
        from urbansig.models.flows.encoder import self_supervised_loss
        from urbansig.training import fit, seed_everything

        if data.n_regions < 4:
            raise BadInput(f"REGIONS: {data.n_regions} regions; at least 4 are needed.")
        if data.od.sum() <= 0:
            raise BadInput("OD: the tables hold no trips between the regions given.")
        s = self.settings
        seed_everything(self.seed)
        self.scalers = Scalers.fit(data, s.intensity)
        tokens = self._tokens(data)
        shape = EncoderShape(
            tuple(int(t.shape[1]) for t in tokens),
            data.od.shape[0],
            s.width,
            s.dim,
            s.heads,
            s.dropout,
            s.linear_decoder,
            s.region_attention,
        )
        self.model = FlowEncoder(shape)
        out_dist, in_dist = (
            torch.as_tensor(m, dtype=torch.float32) for m in mobility_targets(data)
        )
        weights = LossWeights(s.mobility_weight, s.reconstruction_weight)
        batch = (tokens, out_dist, in_dist)
        self.history = fit(
            self.model,
            lambda: [batch],
            lambda model, b: self_supervised_loss(model, b[0], b[1], b[2], weights),
            FitConfig(
                epochs=s.epochs,
                lr=s.lr,
                weight_decay=s.weight_decay,
                amp=False,
                data_parallel=False,  # one batch: the whole city's flows
            ),
            self.device,
            events,
            batch_size_of=lambda b: data.n_regions,
        )
        raw = self._embed(tokens)
        self.out_mean = raw.mean(axis=0)
        # one scale for the whole learned block: its directions keep their relative variance
        self.out_std = np.full(raw.shape[1], max(float((raw - self.out_mean).std()), 1e-8))
        return self

    # -- applying -----------------------------------------------------------------------
    def transform(self, data: FlowData) -> np.ndarray:
        """Embeddings ``(n, dim + intensity * n_views)``: the learned block, centred and
        scaled as a whole to ``output_scale`` on the training regions, then the count
        intensity columns (unit std)."""
        if self.model is None or self.scalers is None or self.out_mean is None:
            raise RuntimeError("the flows model is not fitted")
        self.scalers.check(data, self.model.shape.n_slots)
        raw = self._embed(self._tokens(data))
        learned = (raw - self.out_mean) / self.out_std * self.settings.output_scale
        intensity = intensity_columns(data, self.scalers) * self.settings.intensity_scale
        return np.hstack([learned, intensity])

    def baseline(self, data: FlowData) -> np.ndarray:
        """The no-learning baseline of ``data`` (PCA of its log inputs + count intensity)."""
        if self.scalers is None:
            raise RuntimeError("the flows model is not fitted")
        return baseline_features(data, self.scalers)

    def view_weights(self, data: FlowData) -> np.ndarray:
        """Attention weight of each view token per region ``(n, K)`` (slots first)."""
        if self.model is None:
            raise RuntimeError("the flows model is not fitted")
        self.model.eval()
        with torch.no_grad():
            _, weights = self.model([t.to(self.device) for t in self._tokens(data)])
        return weights.cpu().numpy().astype(np.float64)

    @property
    def output_dim(self) -> int:
        """Columns of :meth:`transform`: the learned block and the intensity columns."""
        if self.model is None or self.scalers is None:
            raise RuntimeError("the flows model is not fitted")
        return self.model.shape.dim + sum(len(c) for c in self.scalers.components.values())

    @property
    def token_names(self) -> list[str]:
        if self.model is None or self.scalers is None:
            return []
        slots = [f"flows (slot {t + 1})" for t in range(self.model.shape.n_slots)]
        names = list(self.scalers.view_names)
        if self.settings.raw_scale:
            names += [f"{name} (counts)" for name in self.scalers.view_names]
        return slots + names

    def _tokens(self, data: FlowData) -> list[torch.Tensor]:
        assert self.scalers is not None
        arrays = flow_tokens(data, self.scalers) + view_tokens(
            data, self.scalers, self.settings.raw_scale
        )
        return [torch.as_tensor(a, dtype=torch.float32) for a in arrays]

    def _embed(self, tokens: list[torch.Tensor]) -> np.ndarray:
        assert self.model is not None
        self.model.to(self.device).eval()
        with torch.no_grad():
            emb, _ = self.model([t.to(self.device) for t in tokens])
        return emb.cpu().numpy().astype(np.float64)

    # -- files --------------------------------------------------------------------------
    def parts(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """(config, tensors) of the fitted model, for :meth:`save` or another model's file."""
        if self.model is None or self.scalers is None or self.out_mean is None:
            raise RuntimeError("the flows model is not fitted")
        sc = self.scalers
        state = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        state["out_mean"] = torch.as_tensor(self.out_mean)
        state["out_std"] = torch.as_tensor(self.out_std)
        for name in sc.view_names:
            state[f"view_mean.{name}"] = torch.as_tensor(sc.view_mean[name])
            state[f"view_std.{name}"] = torch.as_tensor(sc.view_std[name])
            state[f"raw_mean.{name}"] = torch.as_tensor(sc.raw_mean[name])
            state[f"raw_std.{name}"] = torch.as_tensor(sc.raw_std[name])
            state[f"components.{name}"] = torch.as_tensor(sc.components[name])
            state[f"score_std.{name}"] = torch.as_tensor(sc.score_std[name])
        config = {
            "version": MODEL_VERSION,
            "settings": asdict(self.settings),
            "shape": asdict(self.model.shape),
            "reference_ids": sc.reference_ids.tolist(),
            "flow_scale": sc.flow_scale,
            "view_names": list(sc.view_names),
            "seed": self.seed,
        }
        return config, state

    @classmethod
    def from_parts(
        cls,
        config: dict[str, Any],
        state: dict[str, torch.Tensor],
        device: str | torch.device = "cpu",
    ) -> Self:
        """The model :meth:`parts` describes (KeyError / RuntimeError when it does not)."""
        shape = dict(config["shape"])
        shape["token_dims"] = tuple(shape["token_dims"])
        embedder = cls(FlowSettings(**config["settings"]), device, int(config["seed"]))
        model = FlowEncoder(EncoderShape(**shape))
        model.load_state_dict(
            {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
        )
        embedder.model = model.to(embedder.device).eval()
        names = tuple(config["view_names"])
        embedder.scalers = Scalers(
            np.asarray(config["reference_ids"]),
            float(config["flow_scale"]),
            names,
            {n: state[f"view_mean.{n}"].numpy() for n in names},
            {n: state[f"view_std.{n}"].numpy() for n in names},
            {n: state[f"raw_mean.{n}"].numpy() for n in names},
            {n: state[f"raw_std.{n}"].numpy() for n in names},
            {n: state[f"components.{n}"].numpy() for n in names},
            {n: state[f"score_std.{n}"].numpy() for n in names},
        )
        embedder.out_mean = state["out_mean"].numpy()
        embedder.out_std = state["out_std"].numpy()
        embedder.metrics = config.get("metrics", {})
        return embedder

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        config, state = self.parts()
        config["metrics"] = metrics or self.metrics
        return save_model(path, METHOD, config, state)

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        config, state = load_model(path, METHOD, parameter)
        if config.get("version") != MODEL_VERSION:
            raise BadInput(f"{parameter}: {path} was written by another version of this method.")
        return cls.from_parts(config, state, device)
