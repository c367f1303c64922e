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
from urbansig.models.raw.evaluate import Fixes, ForecastCases
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

LAYOUT = "relative-xy+move+gap+fix/tod/dow/direct-horizons"
SCALE_M = 5000.0  # metres per model unit, the same in every city


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
    horizons: int = field(default_factory=lambda: _default("horizon_steps"))
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
        self.warm_start = False  # fit goes on from the current weights (a loaded model)

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
        """Pre-train on ``data.seq`` (the training users); a tenth of windows early-stops.

        With :attr:`warm_start` (a loaded model), training goes on from its weights; the
        coordinate frame is refitted to the data (the model reads positions relative to each
        window, at a fixed scale, so a model trained in one city goes on in another)."""
        from urbansig.models.raw.trainer import calibrate_temperature, pretrain
        from urbansig.training import seed_everything

        s, seq = self.settings, data.seq
        obs = ~seq.gap
        self.norm = Normaliser.fit(seq.x[obs], seq.y[obs], data.crs, scale_m=SCALE_M)
        length = s.seq_len
        windows = make_windows(seq, self.norm, length, max(1, length // 2), self.utc_offset_s)
        if not (windows.fresh[:, :-1] & windows.fresh[:, 1:]).any():
            raise BadInput(
                "SEQ_LEN: no training window has two consecutive steps with a fix; lower "
                "STEP_MINUTES or give denser trajectories."
            )
        generator = self.generator if self.generator is not None else seed_everything(self.seed)
        if self.model is None or not self.warm_start:
            config = RawConfig(
                layers=s.layers, width=s.width, heads=s.heads, max_len=length,
                horizons=s.horizons, slots_per_day=slots_per_day(self.step_s),
            )  # fmt: skip
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
        if val_w is not None:
            errors = calibrate_temperature(self.model, val_w, self.device)
            for h, t in enumerate(self.model.temperatures() if errors else [], start=1):
                self.metrics[f"temperature_h{h}"] = t
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
        """Validation windows for early stopping and calibration (when there are 50+): those
        of a random tenth of the users (10 users or more), so that both reward what carries
        over to people never seen; else a random tenth of the windows."""
        n = len(windows.xy)
        if n < 50:
            return windows, None
        rng = np.random.default_rng(self.seed + 1)
        users = np.unique(windows.user)
        if len(users) >= 10:
            val = np.isin(windows.user, rng.permutation(users)[: len(users) // 10])
        else:
            val = np.zeros(n, dtype=bool)
            val[rng.permutation(n)[: n // 10]] = True

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

    def forecast_errors(
        self,
        train: Resampled,
        held: Resampled,
        fixes: Fixes,
        horizon: int,
        markov_cell_m: float,
        tolerance_s: float,
        unit: str = "user",
    ) -> list[dict]:
        """Errors (km) on ``held`` users' observed fixes for RAW and the baselines, with RAW's
        paired bootstrap differences (see :func:`evaluate.error_rows`); [] without cases."""
        from urbansig.models.raw.evaluate import error_rows

        predictions, cases = self.forecast_predictions(
            train, held, fixes, horizon, markov_cell_m, tolerance_s
        )
        if cases is None:
            return []
        return error_rows(cases, predictions, self.step_s, "raw", unit, self.seed)

    def forecast_predictions(
        self,
        train: Resampled,
        held: Resampled,
        fixes: Fixes,
        horizon: int,
        markov_cell_m: float,
        tolerance_s: float,
    ) -> tuple[dict[str, np.ndarray], ForecastCases | None]:
        """RAW's and the baselines' forecasts (metres) on the held-out users' cases:
        persistence, last displacement, a Markov chain fitted on ``train``, and the user's
        routine from their own earlier days."""
        from urbansig.models.raw import baselines as bl

        predictions, cases = self.forecast_cases(held, fixes, horizon, tolerance_s)
        if cases is None:
            return predictions, None
        origin = np.stack([held.x[cases.origin], held.y[cases.origin]], -1)
        prev = cases.context[:, -2] if cases.context.shape[1] > 1 else cases.context[:, -1]
        prev_ok = (prev >= 0) & held.fresh[np.maximum(prev, 0)]
        pidx = np.maximum(prev, 0)
        target_t = cases.origin_t[:, None] + np.arange(1, horizon + 1)[None, :] * self.step_s
        markov = bl.MarkovGrid(markov_cell_m).fit(train, horizon)
        predictions |= {
            "persistence": bl.persistence(origin[:, 0], origin[:, 1], horizon),
            "last_displacement": bl.last_displacement(
                origin[:, 0], origin[:, 1], held.x[pidx], held.y[pidx], prev_ok, horizon
            ),
            "markov": markov.rollout(origin[:, 0], origin[:, 1], horizon),
            "routine": bl.routine(
                held, cases.user, cases.day, target_t, origin, self.utc_offset_s, markov_cell_m
            ),
        }
        return predictions, cases

    def forecast_cases(
        self, held: Resampled, fixes: Fixes, horizon: int, tolerance_s: float
    ) -> tuple[dict[str, np.ndarray], ForecastCases | None]:
        """RAW's forecasts (metres, under ``raw``) on the held-out users' forecast cases."""
        from urbansig.models.raw.evaluate import context_arrays, forecast_cases
        from urbansig.models.raw.trainer import forecast_contexts

        model = self._fitted()
        length = min(self.seq_len, model.config.max_len)
        cases = forecast_cases(
            held, fixes, length, horizon, tolerance_s, self.utc_offset_s, seed=self.seed
        )
        if not len(cases.user):
            return {}, None
        x, y, gap, fresh, time = context_arrays(held, cases)
        xy = self.normaliser.transform(x, y).astype(np.float32)
        pred = forecast_contexts(
            model, xy, gap, fresh, time, horizon, self.step_s, self.utc_offset_s, self.device
        )
        return {"raw": self.normaliser.inverse(pred)}, cases

    def forecast(self, seq: Resampled, horizon: int) -> dict[str, np.ndarray]:
        """Each user's next ``horizon`` positions after their last step with a fix.

        Returns flat arrays (user index, origin step index, step, time in UTC seconds, x, y
        in metres) for the users that have a fix; the caller builds the table. Forecast h is stamped with the
        end of the h-th step after the last one with a fix (a step's position is the last
        fix by its end).
        """
        from urbansig.models.raw.trainer import forecast_contexts

        model = self._fitted()
        if horizon > model.config.horizons:
            raise BadInput(
                f"HORIZON_STEPS: the model forecasts up to {model.config.horizons} steps "
                f"ahead, not {horizon}; lower HORIZON_STEPS or train a model with more."
            )
        offsets = seq.offsets
        fixed = np.flatnonzero(seq.fresh & ~seq.gap)
        pos_in = np.searchsorted(fixed, offsets[1:], side="left") - 1
        has = (pos_in >= 0) & (fixed[np.maximum(pos_in, 0)] >= offsets[:-1])
        users = np.flatnonzero(has)
        last = fixed[pos_in[users]]
        length = min(model.config.max_len, self.seq_len)
        pos = last[:, None] - length + 1 + np.arange(length)[None, :]
        pad = pos < offsets[users][:, None]
        pos = np.where(pad, last[:, None], pos)
        xy = self.normaliser.transform(seq.x[pos], seq.y[pos]).astype(np.float32)
        back = length - 1 - np.arange(length)
        time = np.where(pad, seq.time[last][:, None] - back[None, :] * seq.step_s, seq.time[pos])
        pred = forecast_contexts(
            model, xy, seq.gap[pos] | pad, seq.fresh[pos] & ~pad, time, horizon, self.step_s,
            self.utc_offset_s, self.device,
        )  # fmt: skip
        metres = self.normaliser.inverse(pred)
        steps = np.arange(1, horizon + 1)
        return {
            "user": np.repeat(users, horizon),
            "origin": np.repeat(last, horizon),
            "step": np.tile(steps, len(users)),
            "time": (seq.time[last][:, None] + (steps[None, :] + 1) * self.step_s).ravel(),
            "x": metres[..., 0].ravel(),
            "y": metres[..., 1].ravel(),
        }

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
        """A file written by :meth:`save` (files of RAW's first layout are refused: the
        inputs and the forecast head changed)."""
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
            heads=sizes.heads, horizons=sizes.horizons,
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
