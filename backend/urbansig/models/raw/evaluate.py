"""Next-point evaluation: RAW rollout against persistence and a grid Markov chain (km errors).

Importable with torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from urbansig.evaluation import euclidean_km
from urbansig.models.raw.baselines import MarkovGrid, persistence
from urbansig.models.raw.model import RawTransformer
from urbansig.models.raw.sequences import Normaliser, Windows
from urbansig.models.raw.trainer import rollout


@dataclass
class ForecastSamples:
    """Contexts cut from held-out windows and the true positions that follow them."""

    xy: np.ndarray  # (n, C, 2) normalised context
    gap: np.ndarray  # (n, C)
    time: np.ndarray  # (n, C)
    truth: np.ndarray  # (n, H, 2) metres
    truth_ok: np.ndarray  # (n, H) the true step is observed


def forecast_samples(windows: Windows, norm: Normaliser, horizon: int) -> ForecastSamples:
    """From each window: context = all but the last ``horizon`` steps, targets = the rest.

    Windows whose last context step is a gap, or whose targets are all gaps, are skipped.
    """
    context = windows.xy.shape[1] - horizon
    if context < 1:
        raise ValueError("windows are too short for this horizon")
    ok = windows.gap[:, context:] == 0
    keep = ~windows.gap[:, context - 1] & ok.any(1)
    truth = norm.inverse(windows.xy[keep, context:])
    return ForecastSamples(
        windows.xy[keep, :context],
        windows.gap[keep, :context],
        windows.time[keep, :context],
        truth,
        ok[keep],
    )


def next_point_errors(
    model: RawTransformer,
    samples: ForecastSamples,
    norm: Normaliser,
    markov: MarkovGrid,
    step_s: int,
    utc_offset_s: int,
    device: torch.device,
) -> list[dict]:
    """Mean error (km) per horizon for RAW, persistence and the Markov chain on the same steps."""
    horizon = samples.truth.shape[1]
    if not len(samples.xy):
        return []
    predicted = norm.inverse(
        rollout(model, samples.xy, samples.gap, samples.time, horizon, step_s, utc_offset_s, device)
    )
    last = norm.inverse(samples.xy[:, -1])
    methods = {
        "raw": predicted,
        "persistence": persistence(last[:, 0], last[:, 1], horizon),
        "markov": markov.rollout(last[:, 0], last[:, 1], horizon),
    }
    rows = []
    for h in range(horizon):
        ok = samples.truth_ok[:, h]
        row: dict = {"horizon_min": (h + 1) * step_s / 60.0, "n": int(ok.sum())}
        for name, pred in methods.items():
            err = euclidean_km(samples.truth[ok, h], pred[ok, h])
            row[f"{name}_km"] = float(err.mean()) if len(err) else float("nan")
        rows.append(row)
    return rows
