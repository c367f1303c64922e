"""IndicatorPredictor: features -> one indicator, with an MLP, ridge, gradient boosting or mean.

Features are standardised with the training part's mean and spread; the target is moved to
log scale with ``log1p`` when ``log_target`` (counts and densities, as MuseCL), and for the
MLP also standardised. Every kind is saved without pickle: MLP weights, ridge coefficients,
the boosted trees as flat node arrays (see trees.py), or the mean, all as tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from urbansig import parameters
from urbansig.models.base import Method
from urbansig.models.predictor.conformal import conformal_halfwidth
from urbansig.models.predictor.mlp import MLPRegressor
from urbansig.models.predictor.trees import TreeEnsemble
from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, ProgressSink, resolve_device, seed_everything

METHOD = "predictindicator"
MODEL_KINDS = ("mlp", "ridge", "gbm", "mean")
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def _default(key: str) -> Any:
    return parameters.default(METHOD, key)


def _default_hidden() -> tuple[int, ...]:
    return tuple(int(v) for v in str(_default("hidden")).split(",") if v.strip())


@dataclass
class PredictorSettings:
    """The model kind and its training settings; defaults are the predictindicator table's.

    ``log_target`` (fit on ``log1p`` of the target) is the resolved LOG_TARGET choice (the
    table's ``auto`` is decided from the data by the job); ``weight_decay`` is the MLP's.
    """

    model: str = field(default_factory=lambda: _default("model"))
    hidden: tuple[int, ...] = field(default_factory=_default_hidden)
    log_target: bool = True
    epochs: int = field(default_factory=lambda: _default("epochs"))
    lr: float = field(default_factory=lambda: _default("lr"))
    patience: int = field(default_factory=lambda: _default("patience"))
    batch_size: int = field(default_factory=lambda: _default("batch_size"))
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise BadInput(f"MODEL must be one of {', '.join(MODEL_KINDS)}, not {self.model!r}.")
        self.hidden = tuple(int(h) for h in self.hidden)
        self.log_target = bool(self.log_target)
        self.epochs, self.lr, self.patience = int(self.epochs), float(self.lr), int(self.patience)
        self.batch_size, self.weight_decay = int(self.batch_size), float(self.weight_decay)


@dataclass
class RegressionData:
    """Features ``X`` (n, d) and target ``y`` (n,, original scale) to fit on.

    ``X_val``/``y_val`` (optional) drive the MLP's early stopping; ``feature_names`` name
    the columns of ``X`` (default x0, x1, ...).
    """

    X: np.ndarray
    y: np.ndarray | None = None
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    feature_names: Sequence[str] | None = field(default=None)


class IndicatorPredictor(Method[RegressionData, np.ndarray]):
    """Predict an indicator from region features: fit / transform (= predict) / save / load.

    Constructed from :class:`PredictorSettings` (defaults: the ``predictindicator`` table);
    ``model``, ``hidden`` and ``log_target`` read them. ``training`` (set by the job: what
    the run was) is written into the model file by :meth:`save`.
    """

    method = METHOD

    def __init__(
        self,
        settings: PredictorSettings | None = None,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.settings = settings or PredictorSettings()
        self.device, self.seed = device, int(seed)
        self.training: dict[str, Any] | None = None
        self.feature_names: list[str] = []
        self.x_mean = self.x_std = np.zeros(0)
        self.y_mean, self.y_std = 0.0, 1.0
        self.coverage: float | None = None
        self.halfwidth: float | None = None  # conformal half-width on the model (log) scale
        self.z_range: tuple[float, float] | None = None  # training target range, model scale
        self.n_clipped = 0  # predictions of the last predict() held to that range
        self.info: dict[str, Any] = {}
        self._net: MLPRegressor | None = None
        self._coef: np.ndarray | None = None
        self._intercept = 0.0
        self._trees: TreeEnsemble | None = None
        self._mean = 0.0

    @property
    def model(self) -> str:
        """The model kind: mlp, ridge, gbm or mean."""
        return self.settings.model

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.settings.hidden

    @property
    def log_target(self) -> bool:
        return self.settings.log_target

    # -- target scale -------------------------------------------------------------------
    def to_model_scale(self, y: np.ndarray) -> np.ndarray:
        """The target as the model sees it: ``log1p(y)`` when ``log_target``, else ``y``."""
        y = np.asarray(y, dtype=np.float64)
        if self.log_target:
            if np.any(y < 0):
                raise BadInput(
                    "TARGET_FIELD has negative values; they have no logarithm. "
                    "Set LOG_TARGET to false."
                )
            return np.log1p(y)
        return y

    def to_original_scale(self, z: np.ndarray) -> np.ndarray:
        """Back from the model scale; on log scale clipped at 0 (the target is non-negative)."""
        z = np.asarray(z, dtype=np.float64)
        return np.maximum(np.expm1(z), 0.0) if self.log_target else z

    # -- fitting ------------------------------------------------------------------------
    def fit(self, data: RegressionData, events: ProgressSink | None = None) -> Self:
        """Fit on ``data.X`` (n, d) and ``data.y`` (n,) on the original scale.

        ``data.X_val``/``data.y_val`` drive the MLP's early stopping (without them it trains
        for ``epochs``); other kinds ignore them.
        """
        if data.y is None:
            raise BadInput("TARGET_FIELD: fitting needs a target.")
        X = _check_features(data.X)
        z = self.to_model_scale(data.y)
        X_val, y_val, feature_names = data.X_val, data.y_val, data.feature_names
        if len(z) != len(X) or len(X) == 0:
            raise BadInput("TARGET_FIELD: features and target must be non-empty and aligned.")
        self.feature_names = (
            list(feature_names) if feature_names else [f"x{i}" for i in range(X.shape[1])]
        )
        self.x_mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.x_std = np.where(std > 0, std, 1.0)
        Xs = self._scale(X)
        if self.model == "mlp":
            self._fit_mlp(Xs, z, X_val, y_val, events)
        elif self.model == "ridge":
            from sklearn.linear_model import RidgeCV

            ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(Xs, z)
            self._coef = np.asarray(ridge.coef_, dtype=np.float64)
            self._intercept = float(ridge.intercept_)
            self.info["alpha"] = float(ridge.alpha_)
        elif self.model == "gbm":
            from sklearn.ensemble import HistGradientBoostingRegressor
            from threadpoolctl import threadpool_limits

            gbm = HistGradientBoostingRegressor(
                min_samples_leaf=int(np.clip(len(X) // 10, 2, 20)), random_state=self.seed
            )
            # OpenMP threads cost far more than they give on small data (and on busy CPUs)
            with threadpool_limits(1 if len(X) < 20000 else None, user_api="openmp"):
                gbm.fit(Xs, z)
            self._trees = TreeEnsemble.from_sklearn(gbm)
            self.info["n_trees"] = len(self._trees.roots)
        else:
            self._mean = float(z.mean())
        self.info["n_train"] = len(X)
        self.z_range = (float(z.min()), float(z.max()))
        return self

    def _fit_mlp(self, Xs, z, X_val, y_val, events) -> None:
        from urbansig.models.predictor.mlp import MLPRegressor, train_mlp

        s = self.settings
        device = resolve_device(self.device)
        generator = seed_everything(self.seed)
        self.y_mean = float(z.mean())
        self.y_std = float(z.std()) or 1.0
        Xv = zv = None
        if X_val is not None and y_val is not None and len(y_val):
            Xv = self._scale(_check_features(X_val, self.x_mean.shape[0]))
            zv = (self.to_model_scale(y_val) - self.y_mean) / self.y_std
        self._net = MLPRegressor(Xs.shape[1], self.hidden)
        config = FitConfig(
            epochs=s.epochs,
            lr=s.lr,
            weight_decay=s.weight_decay,
            amp=False,  # bfloat16 would cost regression precision
            patience=s.patience if Xv is not None else None,
        )
        history = train_mlp(
            self._net,
            Xs,
            (z - self.y_mean) / self.y_std,
            Xv,
            zv,
            config,
            device,
            s.batch_size,
            generator,
            events,
        )
        self._net.cpu()
        self.info["epochs_run"] = len(history.train_loss)
        self.info["best_epoch"] = history.best_epoch + 1 if history.best_epoch >= 0 else None

    # -- prediction ---------------------------------------------------------------------
    def predict_model_scale(self, X: np.ndarray) -> np.ndarray:
        """Predictions on the model scale (log1p when ``log_target``)."""
        Xs = self._scale(_check_features(X, self.x_mean.shape[0]))
        if self.model == "mlp":
            if self._net is None:
                raise RuntimeError("the predictor is not fitted")
            from urbansig.models.predictor.mlp import mlp_predict

            return mlp_predict(self._net, Xs, torch.device("cpu")) * self.y_std + self.y_mean
        if self.model == "ridge":
            if self._coef is None:
                raise RuntimeError("the predictor is not fitted")
            return Xs @ self._coef + self._intercept
        if self.model == "gbm":
            if self._trees is None:
                raise RuntimeError("the predictor is not fitted")
            return self._trees.predict(Xs)
        return np.full(len(Xs), self._mean)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions on the original scale, held to the training range (log target)."""
        return self.to_original_scale(self.held_to_training_range(self.predict_model_scale(X)))

    def held_to_training_range(self, z: np.ndarray) -> np.ndarray:
        """Model-scale predictions clipped to the training target's range (log target only).

        The back-transform turns a model-scale overshoot of a few units into an error of
        orders of magnitude; ``n_clipped`` counts the predictions held back.
        """
        self.n_clipped = 0
        if not self.log_target or self.z_range is None:
            return z
        low, high = self.z_range
        self.n_clipped = int(((z < low) | (z > high)).sum())
        return np.clip(z, low, high)

    def transform(self, data: RegressionData | np.ndarray) -> np.ndarray:
        """Predictions on the original scale for ``data.X`` (or a feature array)."""
        return self.predict(data.X if isinstance(data, RegressionData) else data)

    def calibrate(
        self, X_val: np.ndarray, y_val: np.ndarray, coverage: float | None = None
    ) -> bool:
        """Split-conformal calibration on held-out data; returns whether it is exact.

        ``coverage`` defaults to the table's COVERAGE."""
        coverage = _default("coverage") if coverage is None else coverage
        residual = self.to_model_scale(y_val) - self.held_to_training_range(
            self.predict_model_scale(X_val)
        )
        self.halfwidth, exact = conformal_halfwidth(residual, coverage)
        self.coverage = float(coverage)
        return exact

    def predict_interval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds on the original scale (needs :meth:`calibrate`)."""
        if self.halfwidth is None:
            raise RuntimeError("call calibrate() before predict_interval()")
        z = self.held_to_training_range(self.predict_model_scale(X))
        lower = self.to_original_scale(z - self.halfwidth)
        upper = self.to_original_scale(z + self.halfwidth)
        return lower, upper

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) / self.x_std

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write one model file (tensors + JSON config, loadable with weights_only).

        ``metrics`` land under the config's ``metrics`` key, :attr:`training` (when set)
        under ``training``.
        """
        if not self.feature_names:
            raise RuntimeError("fit the predictor before saving it")
        state = {
            "x_mean": torch.from_numpy(np.asarray(self.x_mean, dtype=np.float64)),
            "x_std": torch.from_numpy(np.asarray(self.x_std, dtype=np.float64)),
        }
        if self.model == "mlp" and self._net is not None:
            state.update({f"mlp.{k}": v for k, v in self._net.state_dict().items()})
        elif self.model == "ridge":
            state["ridge.coef"] = torch.from_numpy(self._coef)
            state["ridge.intercept"] = torch.tensor([self._intercept], dtype=torch.float64)
        elif self.model == "gbm" and self._trees is not None:
            state.update(self._trees.to_state())
        else:
            state["mean"] = torch.tensor([self._mean], dtype=torch.float64)
        config = {
            "model": self.model,
            "hidden": list(self.hidden),
            "log_target": self.log_target,
            "log_transform": "log1p" if self.log_target else None,
            "features": self.feature_names,
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "coverage": self.coverage,
            "halfwidth": self.halfwidth,
            "target_range": list(self.z_range) if self.z_range is not None else None,
            "info": self.info,
            **({"metrics": metrics} if metrics is not None else {}),
            **({"training": self.training} if self.training is not None else {}),
        }
        return save_model(path, METHOD, config, state)

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        """Read a file written by :meth:`save`; another method's model is a BadInput."""
        config, state = load_model(path, METHOD, parameter)
        kind = config.get("model")
        if kind not in MODEL_KINDS:
            raise BadInput(f"{parameter}: {path} holds an unknown model kind {kind!r}.")
        settings = PredictorSettings(
            model=kind, hidden=tuple(config["hidden"]), log_target=config["log_target"]
        )
        self = cls(settings, device=device.type if isinstance(device, torch.device) else device)
        self.feature_names = list(config["features"])
        self.x_mean = state["x_mean"].numpy()
        self.x_std = state["x_std"].numpy()
        self.y_mean, self.y_std = float(config["y_mean"]), float(config["y_std"])
        self.coverage, self.halfwidth = config.get("coverage"), config.get("halfwidth")
        target_range = config.get("target_range")  # absent in older model files: no clip
        self.z_range = (float(target_range[0]), float(target_range[1])) if target_range else None
        self.info = dict(config.get("info") or {})
        self.info["config"] = {k: v for k, v in config.items() if k not in ("info",)}
        if kind == "mlp":
            from urbansig.models.predictor.mlp import MLPRegressor

            self._net = MLPRegressor(len(self.feature_names), self.hidden)
            weights = {k[4:]: v for k, v in state.items() if k.startswith("mlp.")}
            try:
                self._net.load_state_dict(weights)
            except RuntimeError as exc:
                raise BadInput(f"{parameter}: the MLP weights in {path} are damaged.") from exc
            self._net.eval()
        elif kind == "ridge":
            self._coef = state["ridge.coef"].numpy()
            self._intercept = float(state["ridge.intercept"][0])
        elif kind == "gbm":
            self._trees = TreeEnsemble.from_state(state)
        else:
            self._mean = float(state["mean"][0])
        return self


def _check_features(X: np.ndarray, n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise BadInput("The features must be a 2-D array (regions x features).")
    if n_features is not None and X.shape[1] != n_features:
        raise BadInput(f"The model expects {n_features} features, not {X.shape[1]}.")
    bad = ~np.isfinite(X)
    if bad.any():
        columns = np.flatnonzero(bad.any(axis=0))
        raise BadInput(
            f"The features have {int(bad.sum())} missing or non-finite values "
            f"(columns {', '.join(map(str, columns[:10]))}); fill or drop them first."
        )
    return X
