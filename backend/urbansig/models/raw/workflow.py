"""One RAW run, step by step: split users, pre-train (or use a model), embed users, evaluate,
pool into regions, write outputs. Geo libraries are imported inside the methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from urbansig.models.raw.baselines import MarkovGrid
from urbansig.models.raw.evaluate import forecast_samples, next_point_errors
from urbansig.models.raw.model import RawConfig, RawTransformer, n_parameters
from urbansig.models.raw.pooling import assign_regions, pool_regions, visit_counts
from urbansig.models.raw.profiles import classify_users, handcrafted_features, home_work
from urbansig.models.raw.sequences import (
    Normaliser,
    Resampled,
    Windows,
    make_windows,
    slots_per_day,
)
from urbansig.models.raw.trainer import embed_users, pretrain
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory

MAX_EVAL_SAMPLES = 4000


@dataclass
class RawRun:
    seq: Resampled
    crs: str
    step_s: int
    max_gap_s: int
    utc_offset_s: int
    params: dict[str, Any]
    device: torch.device
    generator: torch.Generator
    seed: int
    events: Any
    model: RawTransformer | None = None
    norm: Normaliser | None = None
    history: FitHistory | None = None
    holdout: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    embeddings: np.ndarray | None = None
    errors: list[dict] = field(default_factory=list)
    label_rows: list[dict] = field(default_factory=list)
    labels: np.ndarray | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    split_names: tuple[str, str] = ("train", "holdout")

    def split_users(self) -> None:
        n = len(self.seq.user_ids)
        rng = np.random.default_rng(self.seed)
        n_hold = int(round(n * self.params["holdout_fraction"])) if n >= 5 else 0
        self.holdout = np.zeros(n, dtype=bool)
        self.holdout[rng.permutation(n)[:n_hold]] = True
        self.metrics["n_users"] = n
        self.metrics["n_users_holdout"] = int(n_hold)

    def _train_seq(self) -> Resampled:
        return self.seq.select(np.flatnonzero(~self.holdout))

    def train(self, events, checkpoint: str | None) -> None:
        p = self.params
        train_seq = self._train_seq()
        obs = ~train_seq.gap
        self.norm = Normaliser.fit(train_seq.x[obs], train_seq.y[obs], self.crs)
        length = p["seq_len"]
        windows = make_windows(
            train_seq, self.norm, length + 1, max(1, length // 2), self.utc_offset_s
        )
        if len(windows.xy) == 0:
            raise BadInput("SEQ_LEN: no training window has two observed steps; lower SEQ_LEN.")
        config = RawConfig(
            layers=p["layers"], width=p["width"], heads=p["heads"], max_len=length,
            slots_per_day=slots_per_day(self.step_s),
        )  # fmt: skip
        self.model = RawTransformer(config)
        fit_config = FitConfig(
            epochs=p["epochs"], lr=p["lr"], weight_decay=0.01, warmup_fraction=p["warmup"],
            cosine=True, grad_clip=1.0, optimizer="adamw",
            checkpoint=Path(checkpoint) if checkpoint else None,
        )  # fmt: skip
        train_w, val_w = self._validation_split(windows)
        if val_w is not None:
            fit_config.patience = max(3, p["epochs"] // 4)
        self.history = pretrain(
            self.model, train_w, fit_config, self.device, p["batch_size"], self.generator,
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

    def use(self, model: RawTransformer, norm: Normaliser) -> None:
        self.model, self.norm = model, norm

    def embed(self, events) -> None:
        """Mean final hidden state per user over half-overlapping windows: each step counts
        once, from the window where it has at least half a window of context."""
        length = min(self.params["seq_len"], self.model.config.max_len)
        stride = max(1, length // 2)
        windows = make_windows(self.seq, self.norm, length, stride, self.utc_offset_s, 1)
        first = np.ones(len(windows.user), dtype=bool)
        first[1:] = windows.user[1:] != windows.user[:-1]
        count_from = np.where(first, 0, length - stride)
        self.embeddings = embed_users(
            self.model, windows, len(self.seq.user_ids), self.device, events=events,
            count_from=count_from,
        )  # fmt: skip

    def evaluate_next_points(self) -> None:
        p = self.params
        horizon, length = p["horizon_steps"], min(p["seq_len"], self.model.config.max_len)
        if not self.holdout.any() or length < horizon + 2:
            return
        markov = MarkovGrid(p["markov_cell_m"]).fit(self._train_seq())
        held = self.seq.select(np.flatnonzero(self.holdout))
        windows = make_windows(held, self.norm, length, max(1, horizon), self.utc_offset_s)
        samples = forecast_samples(windows, self.norm, horizon)
        if len(samples.xy) > MAX_EVAL_SAMPLES:
            pick = np.sort(
                np.random.default_rng(self.seed).choice(len(samples.xy), MAX_EVAL_SAMPLES, False)
            )
            samples = type(samples)(
                *(getattr(samples, f)[pick] for f in samples.__dataclass_fields__)
            )
        self.errors = next_point_errors(
            self.model, samples, self.norm, markov, self.step_s, self.utc_offset_s, self.device
        )
        for row in self.errors:
            tag = f"{int(round(row['horizon_min']))}min"
            for name in ("raw", "persistence", "markov"):
                self.metrics[f"{name}_km_{tag}"] = row[f"{name}_km"]

    def evaluate_labels(self, labels: np.ndarray) -> None:
        self.labels = labels
        known = labels != ""
        if known.sum() < 4:
            self.events.warning("USER_LABELS: fewer than 4 kept users have a label; no evaluation.")
            return
        features, _ = handcrafted_features(
            self.seq, self.utc_offset_s, self.params["markov_cell_m"]
        )
        for name, X in (("raw_embeddings", self.embeddings), ("handcrafted_baseline", features)):
            scores = classify_users(X[known], labels[known], self.seed)
            if scores is None:
                self.events.warning("USER_LABELS: each label needs 2 users; no evaluation.")
                return
            self.label_rows.append({"features": name, **scores, "n_users": int(known.sum())})
            self.metrics[f"label_accuracy_{name}"] = scores["accuracy_mean"]

    def pool(self, points, regions, how: str, min_visits: int):
        from urbansig.columns import N_USERS, embedding_columns
        from urbansig.models.raw.pipeline import project

        kept = np.isin(points.user_ids, self.seq.user_ids)[points.user]
        user = np.searchsorted(self.seq.user_ids, points.user_ids[points.user[kept]])
        x, y = project(points.lon[kept], points.lat[kept], regions.crs.to_string())
        region = assign_regions(x, y, regions)
        outside = int((region < 0).sum())
        self.metrics["points_outside_regions"] = outside
        if outside == len(region):
            raise BadInput(
                "REGIONS: no trajectory point falls in any region; give regions that cover the "
                "trajectories (check both layers' CRS)."
            )
        if outside:
            self.events.warning(
                f"REGIONS: {outside} of {len(region)} trajectory points fall outside every "
                "region and were not pooled."
            )
        counts = visit_counts(
            user, region, len(self.seq.user_ids), len(regions), points.t[kept] // self.step_s
        )
        pooled, n_users = pool_regions(counts, self.embeddings, how, min_visits)
        columns = embedding_columns(pooled.shape[1])
        layer = regions.drop(
            columns=[c for c in regions.columns if c in columns or c == N_USERS]
        ).copy()
        for i, name in enumerate(columns):
            layer[name] = pooled[:, i]
        layer[N_USERS] = n_users
        self.metrics["regions_with_users"] = int((n_users > 0).sum())
        return layer

    def predict_next(self, horizon: int):
        """Each user's next ``horizon`` positions after their last observed step (points)."""
        import geopandas as gpd
        import pandas as pd

        from urbansig.columns import USER_ID
        from urbansig.models.raw.trainer import rollout

        seq, max_len = self.seq, self.model.config.max_len
        offsets = seq.offsets
        observed = np.flatnonzero(~seq.gap)
        last = observed[np.searchsorted(observed, offsets[1:], side="left") - 1]
        length = np.minimum(max_len, last - offsets[:-1] + 1)
        frames = []
        for size in np.unique(length):
            users = np.flatnonzero(length == size)
            pos = last[users, None] - size + 1 + np.arange(size)[None, :]
            xy = self.norm.transform(seq.x[pos], seq.y[pos]).astype(np.float32)
            pred = rollout(
                self.model, xy, seq.gap[pos], seq.time[pos], horizon, self.step_s,
                self.utc_offset_s, self.device,
            )  # fmt: skip
            metres = self.norm.inverse(pred)
            steps = np.arange(1, horizon + 1)
            frames.append(
                pd.DataFrame(
                    {
                        USER_ID: np.repeat(seq.user_ids[users].astype(str), horizon),
                        "step": np.tile(steps, len(users)),
                        "horizon_min": np.tile(steps * self.step_s / 60.0, len(users)),
                        "time": pd.to_datetime(
                            (seq.time[last[users], None] + steps[None, :] * self.step_s).ravel(),
                            unit="s",
                            utc=True,
                        ).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "x": metres[..., 0].ravel(),
                        "y": metres[..., 1].ravel(),
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True).sort_values([USER_ID, "step"])
        geometry = gpd.points_from_xy(table["x"], table["y"])
        return gpd.GeoDataFrame(table.reset_index(drop=True), geometry=geometry, crs=self.crs)

    def user_table(self):
        import pandas as pd

        from urbansig.columns import SPLIT, USER_ID, embedding_columns

        hw = home_work(self.seq, self.utc_offset_s, self.params["markov_cell_m"])
        table = pd.DataFrame({USER_ID: self.seq.user_ids.astype(str)})
        held = self.holdout if len(self.holdout) == len(table) else np.zeros(len(table), bool)
        table[SPLIT] = np.where(held, self.split_names[1], self.split_names[0])
        table["n_steps"] = np.bincount(self.seq.user, minlength=len(table))
        table["n_observed"] = np.bincount(self.seq.user[~self.seq.gap], minlength=len(table))
        emb = pd.DataFrame(self.embeddings, columns=embedding_columns(self.embeddings.shape[1]))
        table = pd.concat([table, emb], axis=1)
        for key in ("home_x", "home_y", "work_x", "work_y"):
            table[key] = hw[key]
        if self.labels is not None:
            table["label"] = self.labels
        return table

    def write(self, region_layer, outputs: dict[str, str], n_raw: int, **meta) -> dict[str, str]:
        from urbansig.io.vector import write_layer
        from urbansig.models.raw.persist import save_raw
        from urbansig.models.raw.pipeline import write_table

        written = {"output": str(write_layer(region_layer, outputs["output"]))}
        if outputs.get("output_users"):
            written["output_users"] = str(write_table(self.user_table(), outputs["output_users"]))
        if outputs.get("output_model"):
            info = {
                "step_s": self.step_s,
                "max_gap_s": self.max_gap_s,
                "utc_offset_s": self.utc_offset_s,
                "seq_len": self.params["seq_len"],
                "training": {
                    "n_points": n_raw,
                    "n_users": len(self.seq.user_ids),
                    "train_loss": self.history.train_loss if self.history else [],
                    **meta,
                },
                "metrics": {k: v for k, v in self.metrics.items() if isinstance(v, (int, float))},
            }
            written["output_model"] = str(
                save_raw(outputs["output_model"], self.model, self.norm, info)
            )
        if outputs.get("output_report"):
            written["output_report"] = str(self.report().save(outputs["output_report"]))
        if outputs.get("checkpoint"):
            written["checkpoint"] = outputs["checkpoint"]
        return written

    def report(self):
        from urbansig.report import Report

        rep = Report("Pool trajectories to regions (RAW)")
        rep.paragraph(
            f"{self.metrics.get('n_users', 0)} users resampled every {self.step_s // 60} min "
            f"(gaps over {self.max_gap_s // 60} min marked), coordinates in {self.crs}, local "
            f"time = UTC{self.utc_offset_s / 3600:+g} h."
        )
        if self.history is not None and self.history.train_loss:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 3.2))
            epochs = range(1, len(self.history.train_loss) + 1)
            ax.plot(epochs, self.history.train_loss, "o-", label="training windows")
            if self.history.val_loss:
                ax.plot(epochs, self.history.val_loss, "s--", label="validation windows")
                ax.legend()
            ax.set_xlabel("epoch")
            ax.set_ylabel("next-point loss (Huber, normalised)")
            ax.set_yscale("log")
            rep.section("Pre-training").figure(fig, "pretraining_curve", "Pre-training loss")
            rep.table([{"parameters": self.metrics.get("n_parameters"),
                        "windows": self.metrics.get("train_windows"),
                        "tokens_per_s": self.metrics.get("tokens_per_s")}])  # fmt: skip
        if self.errors:
            rep.section("Next-point prediction on held-out users (mean error, km)")
            rep.table(self.errors, "autoregressive rollout vs persistence and grid Markov chain")
        if self.label_rows:
            rep.section("User labels from embeddings (held-out accuracy, stratified k-fold)")
            rep.table(self.label_rows)
        return rep
