"""The steps of a RAW run around :class:`RawModel`: split users, evaluate labels, pool users
into regions, the user and forecast tables, the report. Geo libraries are imported inside
the functions; nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from urbansig.models.raw.evaluate import Fixes
from urbansig.models.raw.method import RawModel
from urbansig.models.raw.pooling import assign_regions, pool_regions, visit_counts
from urbansig.models.raw.profiles import classify_users, handcrafted_features, home_work
from urbansig.models.raw.sequences import Resampled
from urbansig.protocol import BadInput


@dataclass
class Evaluation:
    """What a run measured: next-point errors, label accuracy rows and flat metrics."""

    errors: list[dict] = field(default_factory=list)
    label_rows: list[dict] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def split_users(n: int, fraction: float, seed: int) -> np.ndarray:
    """A random ``fraction`` of the ``n`` users held out (none below 5 users)."""
    rng = np.random.default_rng(seed)
    n_hold = int(round(n * fraction)) if n >= 5 else 0
    holdout = np.zeros(n, dtype=bool)
    holdout[rng.permutation(n)[:n_hold]] = True
    return holdout


FORECASTERS = ("raw", "persistence", "last_displacement", "markov", "routine")


def evaluate_forecasts(
    method: RawModel,
    seq: Resampled,
    fixes: Fixes,
    holdout: np.ndarray,
    horizon: int,
    markov_cell_m: float,
    tolerance_s: float,
    evaluation: Evaluation,
) -> None:
    """Forecast errors on the held-out users' observed fixes, into ``evaluation``."""
    if not holdout.any():
        return
    train_idx, held_idx = np.flatnonzero(~holdout), np.flatnonzero(holdout)
    train, held = seq.select(train_idx), seq.select(held_idx)
    remap = np.full(len(seq.user_ids), -1, dtype=np.int64)
    remap[held_idx] = np.arange(len(held_idx))
    keep = remap[fixes.user] >= 0
    held_fixes = type(fixes)(remap[fixes.user[keep]], fixes.t[keep], fixes.x[keep], fixes.y[keep])
    unit = "user" if len(held_idx) >= 5 else "user-day"
    evaluation.errors = method.forecast_errors(
        train, held, held_fixes, horizon, markov_cell_m, tolerance_s, unit
    )
    evaluation.metrics["bootstrap_unit"] = unit
    for row in evaluation.errors:
        tag = f"{int(round(row['horizon_min']))}min"
        evaluation.metrics[f"cases_{tag}"] = row["cases"]
        for name in FORECASTERS:
            for kind in ("km", "median_km"):
                if f"{name}_{kind}" in row:
                    evaluation.metrics[f"{name}_{kind}_{tag}"] = row[f"{name}_{kind}"]


def evaluate_labels(
    seq: Resampled,
    embeddings: np.ndarray,
    labels: np.ndarray,
    utc_offset_s: int,
    markov_cell_m: float,
    seed: int,
    events,
    evaluation: Evaluation,
) -> None:
    """Held-out accuracy of user labels from the embeddings and from handcrafted features."""
    known = labels != ""
    if known.sum() < 4:
        events.warning("USER_LABELS: fewer than 4 kept users have a label; no evaluation.")
        return
    features, _ = handcrafted_features(seq, utc_offset_s, markov_cell_m)
    for name, X in (("raw_embeddings", embeddings), ("handcrafted_baseline", features)):
        scores = classify_users(X[known], labels[known], seed)
        if scores is None:
            events.warning("USER_LABELS: each label needs 2 users; no evaluation.")
            return
        evaluation.label_rows.append({"features": name, **scores, "n_users": int(known.sum())})
        evaluation.metrics[f"label_accuracy_{name}"] = scores["accuracy_mean"]
        evaluation.metrics[f"label_balanced_accuracy_{name}"] = scores["balanced_accuracy_mean"]


def pool(
    points,
    regions,
    seq: Resampled,
    embeddings: np.ndarray,
    step_s: int,
    how: str,
    min_visits: int,
    events,
    metrics: dict[str, Any],
):
    """The regions with the pooled embeddings of the users who visit them, and n_users."""
    from urbansig.columns import N_USERS, embedding_columns
    from urbansig.models.raw.pipeline import project

    kept = np.isin(points.user_ids, seq.user_ids)[points.user]
    user = np.searchsorted(seq.user_ids, points.user_ids[points.user[kept]])
    x, y = project(points.lon[kept], points.lat[kept], regions.crs.to_string())
    region = assign_regions(x, y, regions)
    outside = int((region < 0).sum())
    metrics["points_outside_regions"] = outside
    if outside == len(region):
        raise BadInput(
            "REGIONS: no trajectory point falls in any region; give regions that cover the "
            "trajectories (check both layers' CRS)."
        )
    if outside:
        events.warning(
            f"REGIONS: {outside} of {len(region)} trajectory points fall outside every "
            "region and were not pooled."
        )
    counts = visit_counts(user, region, len(seq.user_ids), len(regions), points.t[kept] // step_s)
    pooled, n_users = pool_regions(counts, embeddings, how, min_visits)
    columns = embedding_columns(pooled.shape[1])
    layer = regions.drop(
        columns=[c for c in regions.columns if c in columns or c == N_USERS]
    ).copy()
    for i, name in enumerate(columns):
        layer[name] = pooled[:, i]
    layer[N_USERS] = n_users
    metrics["regions_with_users"] = int((n_users > 0).sum())
    return layer


def forecast_table(method: RawModel, seq: Resampled, horizon: int, cell_m: float):
    """Each user's next ``horizon`` positions after their last fix (points): RAW's forecast
    and, beside it (column ``forecaster``), the user's routine baseline on the same times."""
    import geopandas as gpd
    import pandas as pd

    from urbansig.columns import USER_ID
    from urbansig.models.raw.baselines import routine
    from urbansig.models.raw.sequences import SECONDS_PER_DAY

    f = method.forecast(seq, horizon)
    origins = f["origin"][::horizon]
    origin_xy = np.stack([seq.x[origins], seq.y[origins]], -1)
    day = (seq.time[origins] + method.utc_offset_s) // SECONDS_PER_DAY
    usual = routine(
        seq, f["user"][::horizon], day, f["time"].reshape(-1, horizon), origin_xy,
        method.utc_offset_s, cell_m,
    ).reshape(-1, 2)  # fmt: skip
    parts = []
    for name, x, y in (("raw", f["x"], f["y"]), ("routine", usual[:, 0], usual[:, 1])):
        parts.append(
            pd.DataFrame(
                {
                    USER_ID: seq.user_ids[f["user"]].astype(str),
                    "forecaster": name,
                    "step": f["step"],
                    "horizon_min": f["step"] * method.step_s / 60.0,
                    "time": pd.to_datetime(f["time"], unit="s", utc=True).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "x": x,
                    "y": y,
                }
            )
        )
    table = pd.concat(parts).sort_values([USER_ID, "forecaster", "step"])
    geometry = gpd.points_from_xy(table["x"], table["y"])
    return gpd.GeoDataFrame(table.reset_index(drop=True), geometry=geometry, crs=method.crs)


def user_table(
    seq: Resampled,
    embeddings: np.ndarray,
    holdout: np.ndarray,
    utc_offset_s: int,
    markov_cell_m: float,
    split_names: tuple[str, str] = ("train", "holdout"),
    labels: np.ndarray | None = None,
):
    """One row per kept user: split, step counts, embedding, home/work, the hand-crafted
    baseline's features (``base_`` columns) and label."""
    import pandas as pd

    from urbansig.columns import BASELINE_PREFIX, SPLIT, USER_ID, embedding_columns

    hw = home_work(seq, utc_offset_s, markov_cell_m)
    table = pd.DataFrame({USER_ID: seq.user_ids.astype(str)})
    held = holdout if len(holdout) == len(table) else np.zeros(len(table), bool)
    table[SPLIT] = np.where(held, split_names[1], split_names[0])
    table["n_steps"] = np.bincount(seq.user, minlength=len(table))
    table["n_observed"] = np.bincount(seq.user[~seq.gap], minlength=len(table))
    emb = pd.DataFrame(embeddings, columns=embedding_columns(embeddings.shape[1]))
    table = pd.concat([table, emb], axis=1)
    for key in ("home_x", "home_y", "work_x", "work_y"):
        table[key] = hw[key]
    features, names = handcrafted_features(seq, utc_offset_s, markov_cell_m)
    for i, name in enumerate(names):  # the hand-crafted baseline, beside the embedding
        table[f"{BASELINE_PREFIX}{name}"] = features[:, i]
    if labels is not None:
        table["label"] = labels
    return table


def report(method: RawModel, evaluation: Evaluation, metrics: dict[str, Any]):
    """The run's report: resampling, the pre-training curve, next-point and label tables."""
    from urbansig.report import Report

    history = method.history
    rep = Report("Pool trajectories to regions (RAW)")
    rep.paragraph(
        f"{metrics.get('n_users', 0)} users resampled every {method.step_s // 60} min "
        f"(gaps over {method.max_gap_s // 60} min marked), coordinates in {method.crs}, local "
        f"time = UTC{method.utc_offset_s / 3600:+g} h."
    )
    if history is not None and history.train_loss:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.2))
        epochs = range(1, len(history.train_loss) + 1)
        ax.plot(epochs, history.train_loss, "o-", label="training windows")
        if history.val_loss:
            ax.plot(epochs, history.val_loss, "s--", label="validation windows")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel("next-point loss (Huber, normalised)")
        ax.set_yscale("log")
        rep.section("Pre-training").figure(fig, "pretraining_curve", "Pre-training loss")
        rep.table([{"parameters": metrics.get("n_parameters"),
                    "windows": metrics.get("train_windows"),
                    "tokens_per_s": metrics.get("tokens_per_s")}])  # fmt: skip
    if evaluation.errors:
        rep.section("Forecasts on held-out users' observed fixes (km: mean, median)")
        rows, verdict = forecast_summary(evaluation.errors)
        rep.table(
            rows,
            "truth = the user's GPS fix nearest the target time (within the tolerance); "
            "interval = 95% paired bootstrap over "
            f"{evaluation.metrics.get('bootstrap_unit', 'user')}s",
        )
        rep.paragraph(verdict)
    if evaluation.label_rows:
        rep.section("User labels from embeddings (held-out accuracy, stratified k-fold)")
        rep.table(evaluation.label_rows)
    return rep


def forecast_summary(errors: list[dict]) -> tuple[list[dict], str]:
    """The report's forecast table (one row per horizon) and which forecaster to use."""
    rows, ahead, behind = [], [], []
    for row in errors:
        if "raw_km" not in row:
            continue
        out: dict = {"horizon (min)": f"{row['horizon_min']:g}", "cases": row["cases"],
                     "users": row["users"]}  # fmt: skip
        for name in FORECASTERS:
            out[name] = f"{row[f'{name}_km']:.2f} ({row[f'{name}_median_km']:.2f})"
        base = [n for n in FORECASTERS[1:] if f"raw_minus_{n}_km" in row]
        best = min(base, key=lambda n: row[f"{n}_km"])
        low, high = row[f"raw_minus_{best}_low"], row[f"raw_minus_{best}_high"]
        out["RAW - best baseline"] = (
            f"{row[f'raw_minus_{best}_km']:+.3f} [{low:+.3f}, {high:+.3f}] vs {best}"
        )
        if high < 0:
            ahead.append(f"{row['horizon_min']:g}")
        elif low > 0:
            behind.append(f"{row['horizon_min']:g} min ({best})")
        rows.append(out)
    parts = []
    if ahead:
        parts.append(
            f"RAW is closer than every baseline at {', '.join(ahead)} min (interval below 0)."
        )
    if behind:
        parts.append(
            "A baseline is reliably closer than RAW at "
            + ", ".join(behind)
            + ": use that baseline's forecast there (applyrawmodel writes it beside RAW's)."
        )
    if not parts:
        parts.append("RAW and the best baseline are not reliably apart at any horizon.")
    return rows, " ".join(parts)
