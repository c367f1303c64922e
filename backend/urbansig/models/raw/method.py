"""RawModel: the RAW method (pre-train, embed users, forecast, save / load) as a Method.

The model state (transformer, normaliser, time layout, training history) lives in the
method object; reading files, pooling into regions and writing outputs are the jobs'.
Importable with torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from urbansig.models.base import Method
from urbansig.models.raw import MAX_GAP_S, METHOD, MODEL_VERSION, STEP_S
from urbansig.models.raw import default as _default
from urbansig.models.raw.model import RawConfig, RawTransformer, n_parameters
from urbansig.models.raw.sequences import (
    Normaliser,
    Resampled,
    Windows,
    make_windows,
    slots_per_day,
)
from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory, ProgressSink, resolve_device

LAYOUT = "xy+gap/tod/dow"
MAX_EVAL_SAMPLES = 4000


@dataclass
class RawSettings:
    """Sizes and training settings of RAW; defaults are the pooltrajectoriesraw table's."""

    seq_len: int = field(default_factory=lambda: _default("seq_len"))
    layers: int = field(default_factory=lambda: _default("layers"))
    width: int = field(default_factory=lambda: _default("width"))
    heads: int = field(default_factory=lambda: _default("heads"))
    epochs: int = field(default_factory=lambda: _default("epochs"))
    lr: float = field(default_factory=lambda: _default("lr"))
    warmup: float = field(default_factory=lambda: _default("warmup"))
    batch_size: int = field(default_factory=lambda: _default("batch_size"))
    checkpoint: str | None = None  # resumable training checkpoint file


@dataclass
class RawData:
    """Fixed-step sequences ``seq`` with coordinates in metres of ``crs``."""

    seq: Resampled
    crs: str


class RawModel(Method[RawData, np.ndarray]):
    """RAW: a GPT-like trajectory transformer; ``transform`` gives one embedding per user.

    ``step_s``, ``max_gap_s`` and ``utc_offset_s`` are the time layout the sequences were
    resampled with (defaults: the table's STEP_MINUTES and MAX_GAP_MINUTES); a loaded model
    keeps the one it was trained with. ``training`` (set by the job: what the run read) is
    written into the model file by :meth:`save`.
    """

    method = METHOD
    version = MODEL_VERSION

    def __init__(
        self,
        settings: RawSettings | None = None,
        step_s: int = STEP_S,
        max_gap_s: int = MAX_GAP_S,
        utc_offset_s: int = 0,
        device: str | torch.device = "auto",
        seed: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        self.settings = settings or RawSettings()
        self.step_s, self.max_gap_s = int(step_s), int(max_gap_s)
        self.utc_offset_s = int(utc_offset_s)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.seed = int(seed)
        self.generator = generator
        self.model: RawTransformer | None = None
        self.norm: Normaliser | None = None
        self.history: FitHistory | None = None
        self.metrics: dict[str, Any] = {}
        self.training: dict[str, Any] | None = None  # stored by save() when set
        self.config: dict[str, Any] = {}  # a loaded file's config

    @property
    def seq_len(self) -> int:
        return int(self.settings.seq_len)

    @property
    def normaliser(self) -> Normaliser:
        """The fitted coordinate normalisation (RuntimeError before fit or load)."""
        if self.norm is None:
            raise RuntimeError("the RAW model is not fitted")
        return self.norm

    @property
    def crs(self) -> str:
        return self.normaliser.crs

    # -- fitting ------------------------------------------------------------------------
    def fit(self, data: RawData, events: ProgressSink | None = None) -> Self:
        """Pre-train on ``data.seq`` (the training users); a tenth of windows early-stops."""
        from urbansig.models.raw.trainer import pretrain
        from urbansig.training import seed_everything

        s, seq = self.settings, data.seq
        obs = ~seq.gap
        self.norm = Normaliser.fit(seq.x[obs], seq.y[obs], data.crs)
        length = s.seq_len
        windows = make_windows(seq, self.norm, length + 1, max(1, length // 2), self.utc_offset_s)
        if len(windows.xy) == 0:
            raise BadInput("SEQ_LEN: no training window has two observed steps; lower SEQ_LEN.")
        config = RawConfig(
            layers=s.layers, width=s.width, heads=s.heads, max_len=length,
            slots_per_day=slots_per_day(self.step_s),
        )  # fmt: skip
        generator = self.generator if self.generator is not None else seed_everything(self.seed)
        self.model = RawTransformer(config)
        fit_config = FitConfig(
            epochs=s.epochs, lr=s.lr, weight_decay=0.01, warmup_fraction=s.warmup,
            cosine=True, grad_clip=1.0, optimizer="adamw",
            checkpoint=Path(s.checkpoint) if s.checkpoint else None,
        )  # fmt: skip
        train_w, val_w = self._validation_split(windows)
        if val_w is not None:
            fit_config.patience = max(3, s.epochs // 4)
        self.history = pretrain(
            self.model, train_w, fit_config, self.device, s.batch_size, generator,
            events, val_w,
        )  # fmt: skip
        self.model.to("cpu").eval()
        tokens = self.history.samples * length
        self.metrics["n_parameters"] = n_parameters(self.model)
        self.metrics["train_windows"] = len(windows.xy)
        self.metrics["final_train_loss"] = self.history.train_loss[-1]
        if self.history.val_loss:
            self.metrics["best_val_loss"] = min(self.history.val_loss)
            self.metrics["epochs_run"] = len(self.history.train_loss)
        if self.history.seconds > 0:
            self.metrics["tokens_per_s"] = tokens / self.history.seconds
        return self

    def _validation_split(self, windows: Windows) -> tuple[Windows, Windows | None]:
        """A random tenth of the training windows for early stopping (when there are 50+)."""
        n = len(windows.xy)
        if n < 50:
            return windows, None
        val = np.zeros(n, dtype=bool)
        val[np.random.default_rng(self.seed + 1).permutation(n)[: n // 10]] = True

        def part(mask: np.ndarray) -> Windows:
            return Windows(*(getattr(windows, f)[mask] for f in Windows.__dataclass_fields__))

        return part(~val), part(val)

    def _fitted(self) -> RawTransformer:
        if self.model is None or self.norm is None:
            raise RuntimeError("the RAW model is not fitted")
        return self.model

    # -- applying -----------------------------------------------------------------------
    def transform(self, data: RawData | Resampled) -> np.ndarray:
        """One embedding per user (see :meth:`embed`)."""
        return self.embed(data)

    def embed(self, data: RawData | Resampled, events: ProgressSink | None = None) -> np.ndarray:
        """Mean final hidden state per user over half-overlapping windows: each step counts
        once, from the window where it has at least half a window of context. ``events``
        receives progress and is asked for cancellation between batches."""
        from urbansig.models.raw.trainer import embed_users

        model = self._fitted()
        seq = data.seq if isinstance(data, RawData) else data
        length = min(self.seq_len, model.config.max_len)
        stride = max(1, length // 2)
        windows = make_windows(seq, self.normaliser, length, stride, self.utc_offset_s, 1)
        first = np.ones(len(windows.user), dtype=bool)
        first[1:] = windows.user[1:] != windows.user[:-1]
        count_from = np.where(first, 0, length - stride)
        return embed_users(
            model, windows, len(seq.user_ids), self.device, events=events,
            count_from=count_from,
        )  # fmt: skip

    def next_point_errors(
        self, train: Resampled, held: Resampled, horizon: int, markov_cell_m: float
    ) -> list[dict]:
        """Mean next-point errors (km) on ``held`` users against persistence and a grid
        Markov chain fitted on ``train``; [] when the window is too short."""
        from urbansig.models.raw.baselines import MarkovGrid
        from urbansig.models.raw.evaluate import forecast_samples, next_point_errors

        model = self._fitted()
        length = min(self.seq_len, model.config.max_len)
        if length < horizon + 2:
            return []
        markov = MarkovGrid(markov_cell_m).fit(train)
        windows = make_windows(held, self.normaliser, length, max(1, horizon), self.utc_offset_s)
        samples = forecast_samples(windows, self.normaliser, horizon)
        if len(samples.xy) > MAX_EVAL_SAMPLES:
            pick = np.sort(
                np.random.default_rng(self.seed).choice(len(samples.xy), MAX_EVAL_SAMPLES, False)
            )
            samples = type(samples)(
                *(getattr(samples, f)[pick] for f in samples.__dataclass_fields__)
            )
        return next_point_errors(
            model, samples, self.normaliser, markov, self.step_s, self.utc_offset_s, self.device
        )

    def forecast(self, seq: Resampled, horizon: int) -> dict[str, np.ndarray]:
        """Each user's next ``horizon`` positions after their last observed step.

        Returns flat arrays (user index, step, time in UTC seconds, x, y in metres), sorted
        by the order of the users' lengths; the caller builds the table. A step's position
        is the last one observed by the step's end, so forecast h is stamped with the end
        of the h-th step after the last observed one.
        """
        from urbansig.models.raw.trainer import rollout

        model = self._fitted()
        offsets = seq.offsets
        observed = np.flatnonzero(~seq.gap)
        last = observed[np.searchsorted(observed, offsets[1:], side="left") - 1]
        length = np.minimum(model.config.max_len, last - offsets[:-1] + 1)
        steps = np.arange(1, horizon + 1)
        parts: list[dict[str, np.ndarray]] = []
        for size in np.unique(length):
            users = np.flatnonzero(length == size)
            pos = last[users, None] - size + 1 + np.arange(size)[None, :]
            xy = self.normaliser.transform(seq.x[pos], seq.y[pos]).astype(np.float32)
            pred = rollout(
                model, xy, seq.gap[pos], seq.time[pos], horizon, self.step_s,
                self.utc_offset_s, self.device,
            )  # fmt: skip
            metres = self.normaliser.inverse(pred)
            parts.append(
                {
                    "user": np.repeat(users, horizon),
                    "step": np.tile(steps, len(users)),
                    "time": (
                        seq.time[last[users], None] + (steps[None, :] + 1) * self.step_s
                    ).ravel(),
                    "x": metres[..., 0].ravel(),
                    "y": metres[..., 1].ravel(),
                }
            )
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Weights, sizes, normalisation and time layout; :attr:`training` (when set) and
        ``metrics`` (numbers only) are stored alongside."""
        model = self._fitted()
        config = {
            "version": MODEL_VERSION,
            "layout": LAYOUT,
            "model": model.config.to_dict(),
            "normaliser": self.normaliser.to_config(),
            "step_s": self.step_s,
            "max_gap_s": self.max_gap_s,
            "utc_offset_s": self.utc_offset_s,
            "seq_len": self.seq_len,
        }
        if self.training is not None:
            config["training"] = self.training
        if metrics is not None:
            config["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        return save_model(path, METHOD, config, model.state_dict())

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        """A file written by :meth:`save` (or the earlier ``save_raw``, the same layout)."""
        config, state = load_model(path, METHOD, parameter)
        if config.get("layout") != LAYOUT or config.get("version") != MODEL_VERSION:
            raise BadInput(
                f"{parameter}: {path} is a RAW model of another layout or version "
                f"({config.get('layout')!r} v{config.get('version')}); train a new one."
            )
        model = RawTransformer(RawConfig.from_dict(config["model"]))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BadInput(
                f"{parameter}: the weights in {path} do not match its sizes ({exc})."
            ) from exc
        model.eval()
        sizes = model.config
        settings = RawSettings(
            seq_len=int(config["seq_len"]), layers=sizes.layers, width=sizes.width,
            heads=sizes.heads,
        )  # fmt: skip
        self = cls(
            settings,
            step_s=int(config["step_s"]),
            max_gap_s=int(config["max_gap_s"]),
            utc_offset_s=int(config["utc_offset_s"]),
            device=device,
        )
        self.model, self.norm = model, Normaliser.from_config(config["normaliser"])
        self.config = config
        return self
