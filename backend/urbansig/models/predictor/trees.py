"""Gradient-boosted trees as plain arrays: exported from scikit-learn, evaluated in numpy.

scikit-learn's HistGradientBoostingRegressor keeps its trees as structured node arrays
(``_predictors``); saving it would need pickle. Instead the fields needed for prediction
are copied into a :class:`TreeEnsemble` of flat arrays (stored as tensors in the model file)
and predictions are computed here, with the same rule as scikit-learn's raw-data predictor:
NaN follows ``missing_go_to_left``, otherwise ``x <= threshold`` goes left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
)


@dataclass
class TreeEnsemble:
    """All trees' nodes concatenated; ``roots[t]`` is the first node of tree t."""

    value: np.ndarray  # float64, leaf value (learning rate already applied)
    feature_idx: np.ndarray  # int64
    num_threshold: np.ndarray  # float64
    missing_go_to_left: np.ndarray  # bool
    left: np.ndarray  # int64, global node index
    right: np.ndarray  # int64, global node index
    is_leaf: np.ndarray  # bool
    roots: np.ndarray  # int64
    baseline: float

    @classmethod
    def from_sklearn(cls, model) -> TreeEnsemble:
        """Copy a fitted single-output HistGradientBoostingRegressor (numeric features)."""
        parts: dict[str, list[np.ndarray]] = {f: [] for f in _FIELDS}
        roots, offset = [], 0
        for iteration in model._predictors:
            nodes = iteration[0].nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            roots.append(offset)
            for f in _FIELDS:
                column = nodes[f].astype(np.int64) if f in ("left", "right") else nodes[f]
                parts[f].append(column + offset if f in ("left", "right") else column)
            offset += len(nodes)
        arrays = {f: np.concatenate(v) if v else np.zeros(0) for f, v in parts.items()}
        return cls(
            value=arrays["value"].astype(np.float64),
            feature_idx=arrays["feature_idx"].astype(np.int64),
            num_threshold=arrays["num_threshold"].astype(np.float64),
            missing_go_to_left=arrays["missing_go_to_left"].astype(bool),
            left=arrays["left"].astype(np.int64),
            right=arrays["right"].astype(np.int64),
            is_leaf=arrays["is_leaf"].astype(bool),
            roots=np.asarray(roots, dtype=np.int64),
            baseline=float(np.asarray(model._baseline_prediction).reshape(-1)[0]),
        )

    def predict(self, X: np.ndarray, chunk: int = 16384) -> np.ndarray:
        """Baseline plus the sum of every tree's leaf value, for each row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if len(X) > chunk:  # bounded memory: (chunk x trees) node indices at a time
            return np.concatenate(
                [self.predict(X[i : i + chunk], chunk) for i in range(0, len(X), chunk)]
            )
        n = len(X)
        if len(self.roots) == 0:
            return np.full(n, self.baseline)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        while True:
            inner = ~self.is_leaf[node]
            if not inner.any():
                break
            x = X[rows, self.feature_idx[node]]
            go_left = np.where(
                np.isnan(x), self.missing_go_to_left[node], x <= self.num_threshold[node]
            )
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, step, node)
        out = np.full(n, self.baseline)
        leaf_values = self.value[node]
        for t in range(leaf_values.shape[1]):  # tree by tree, as scikit-learn sums them
            out += leaf_values[:, t]
        return out

    def to_state(self, prefix: str = "gbm.") -> dict[str, torch.Tensor]:
        state = {
            prefix + f: torch.from_numpy(np.ascontiguousarray(getattr(self, f))) for f in _FIELDS
        }
        state[prefix + "roots"] = torch.from_numpy(self.roots)
        state[prefix + "baseline"] = torch.tensor([self.baseline], dtype=torch.float64)
        return state

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], prefix: str = "gbm.") -> TreeEnsemble:
        arrays = {f: state[prefix + f].numpy() for f in (*_FIELDS, "roots")}
        return cls(**arrays, baseline=float(state[prefix + "baseline"][0]))
