"""Model inputs from FlowData: flow tokens (who goes where) and scaled view tokens.

Scalers are fitted on the training data and kept in the model file, so new regions (or a
later period) are scaled as the training regions were. Importable with torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.models.flows.data import FlowData
from urbansig.protocol import BadInput

MIN_STD = 1e-6


@dataclass
class Scalers:
    """Training statistics: flow scale, per-view column means and stds (log1p scale)."""

    reference_ids: np.ndarray
    flow_scale: float
    view_names: tuple[str, ...]
    view_mean: dict[str, np.ndarray]
    view_std: dict[str, np.ndarray]

    @classmethod
    def fit(cls, data: FlowData) -> Scalers:
        logs = np.log1p(data.od)
        scale = float(logs[logs > 0].std()) if (logs > 0).any() else 1.0
        names = tuple(data.views)
        means, stds = {}, {}
        for name in names:
            values = np.log1p(np.maximum(data.views[name], 0.0))
            means[name] = values.mean(axis=0)
            stds[name] = np.maximum(values.std(axis=0), MIN_STD)
        return cls(np.asarray(data.region_ids), max(scale, MIN_STD), names, means, stds)

    def check(self, data: FlowData, n_slots: int) -> None:
        """BadInput when ``data`` has other views or slot counts than the training data."""
        if tuple(data.views) != self.view_names:
            raise BadInput(
                f"VIEWS: the model was trained with views {list(self.view_names)}, "
                f"given {list(data.views)}; give the same tables."
            )
        for name in self.view_names:
            if data.views[name].shape[1] != len(self.view_mean[name]):
                raise BadInput(
                    f"VIEWS: {name} has {data.views[name].shape[1]} columns; the model was "
                    f"trained with {len(self.view_mean[name])}."
                )
        if data.od.shape[0] != n_slots:
            raise BadInput(
                f"OD: {data.od.shape[0]} matrices (tables x time slots); the model was trained "
                f"with {n_slots}."
            )


def view_tokens(data: FlowData, scalers: Scalers) -> list[np.ndarray]:
    """Each view as z-scored log1p counts, (n, d_view), in the training's view order."""
    tokens = []
    for name in scalers.view_names:
        values = np.log1p(np.maximum(data.views[name], 0.0))
        tokens.append((values - scalers.view_mean[name]) / scalers.view_std[name])
    return tokens


def flow_tokens(data: FlowData, scalers: Scalers) -> list[np.ndarray]:
    """Per slot, log1p trips to and from each reference region, (n, 2 * n_ref) scaled."""
    aligned = np.log1p(data.aligned_to(scalers.reference_ids)) / scalers.flow_scale
    return [np.concatenate([aligned[t, 0], aligned[t, 1]], axis=1) for t in range(len(aligned))]


def mobility_targets(data: FlowData) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised out- and in-distributions ``(T, n, n)`` (rows without trips are 0)."""
    out = data.od / np.maximum(data.od.sum(axis=2, keepdims=True), 1e-12)
    incoming = data.od.transpose(0, 2, 1)
    inn = incoming / np.maximum(incoming.sum(axis=2, keepdims=True), 1e-12)
    return out, inn
