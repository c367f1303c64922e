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
    raw_mean: dict[str, np.ndarray]
    raw_std: dict[str, np.ndarray]
    components: dict[str, np.ndarray]  # view -> (k, d) intensity directions
    score_std: dict[str, np.ndarray]  # view -> (k,) their std on the training regions

    @classmethod
    def fit(cls, data: FlowData, intensity: int = 0) -> Scalers:
        logs = np.log1p(data.od)
        scale = float(logs[logs > 0].std()) if (logs > 0).any() else 1.0
        names = tuple(data.views)
        means, stds, raw_means, raw_stds = {}, {}, {}, {}
        for name in names:
            values = np.log1p(np.maximum(data.views[name], 0.0))
            means[name] = values.mean(axis=0)
            stds[name] = np.maximum(values.std(axis=0), MIN_STD)
            raw_means[name] = data.views[name].mean(axis=0)
            raw_stds[name] = np.maximum(data.views[name].std(axis=0), MIN_STD)
        components, score_std = {}, {}
        for name in names:
            z = (data.views[name] - raw_means[name]) / raw_stds[name]
            components[name], score_std[name] = principal_directions(z, intensity)
        return cls(
            np.asarray(data.region_ids),
            max(scale, MIN_STD),
            names,
            means,
            stds,
            raw_means,
            raw_stds,
            components,
            score_std,
        )

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


def principal_directions(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` principal directions of ``z`` (sign fixed) and the std of its scores."""
    k = min(k, *z.shape)
    if k <= 0:
        return np.zeros((0, z.shape[1])), np.zeros(0)
    _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    directions = vt[:k] * np.sign(vt[:k].sum(axis=1, keepdims=True) + 1e-12)
    scores = z @ directions.T
    return directions, np.maximum(scores.std(axis=0), MIN_STD)


def intensity_columns(data: FlowData, scalers: Scalers) -> np.ndarray:
    """Each view's leading principal components of its counts on their own scale, unit std.

    Linear, heavy-tailed count intensity (how much there is) that the log-scale encoder
    compresses: a linear read-out of check-ins or sales needs it.
    """
    columns = [np.zeros((data.n_regions, 0))]
    for name in scalers.view_names:
        z = (data.views[name] - scalers.raw_mean[name]) / scalers.raw_std[name]
        columns.append(z @ scalers.components[name].T / scalers.score_std[name])
    return np.hstack(columns)


def view_tokens(data: FlowData, scalers: Scalers, raw_scale: bool) -> list[np.ndarray]:
    """Each view as z-scored log1p counts, (n, d_view), in the training's view order.

    With ``raw_scale`` each view also gives a token of z-scored counts on their own
    (linear) scale: totals that a linear read-out needs (check-ins grow with POI counts).
    """
    tokens = []
    for name in scalers.view_names:
        values = np.log1p(np.maximum(data.views[name], 0.0))
        tokens.append((values - scalers.view_mean[name]) / scalers.view_std[name])
    if raw_scale:
        for name in scalers.view_names:
            raw = (data.views[name] - scalers.raw_mean[name]) / scalers.raw_std[name]
            tokens.append(raw)
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


BASELINE_COMPONENTS = 16


def baseline_features(
    data: FlowData, scalers: Scalers, components: int = BASELINE_COMPONENTS
) -> np.ndarray:
    """The strongest no-learning baseline measured on the region benchmarks: the leading
    principal components of every log1p input column (trips to and from each region per
    slot, every view column), z-scored, followed by the count-intensity columns.

    Computed on ``data`` itself (label-free); the same construction as the benchmark's
    "floor PCA 16 + intensity" row, so a user can score it beside the embedding.
    """
    od = np.log1p(data.od)
    parts = [od[t] for t in range(len(od))] + [od[t].T for t in range(len(od))]
    parts += [np.log1p(np.maximum(data.views[name], 0.0)) for name in scalers.view_names]
    x = np.hstack(parts)
    z = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    pcs = _principal_scores(z, components)
    return np.hstack([pcs, intensity_columns(data, scalers)])


def _principal_scores(z: np.ndarray, k: int) -> np.ndarray:
    """Scores on the top ``k`` principal components (exact SVD; a randomised one for large
    inputs), signs fixed so that each component's largest loading is positive."""
    import torch

    centred = z - z.mean(axis=0)
    k = min(k, *centred.shape)
    if centred.size <= 25_000_000:
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        vt = vt[:k]
    else:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            _, _, v = torch.svd_lowrank(torch.from_numpy(centred), q=k + 10, niter=4)
        vt = v.numpy().T[:k]
    largest = np.take_along_axis(vt, np.abs(vt).argmax(axis=1)[:, None], axis=1)
    return centred @ (vt * np.sign(largest)).T
