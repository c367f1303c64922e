"""Honest evaluation: repeated splits, test-part metrics on both scales, baselines side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from urbansig.evaluation import regression_metrics
from urbansig.models.predictor.estimator import (
    IndicatorPredictor,
    PredictorSettings,
    RegressionData,
)
from urbansig.models.predictor.splits import SPLIT, TEST, TRAIN, VALIDATION, make_splits
from urbansig.protocol import BadInput

METRICS = ("r2", "rmse", "mae")
SKEW_FOR_LOG = 1.0


def skewness(y: np.ndarray) -> float:
    """Sample skewness (Fisher-Pearson); 0 for a constant sample."""
    y = np.asarray(y, dtype=float)
    sd = y.std()
    return float(np.mean((y - y.mean()) ** 3) / sd**3) if sd > 0 else 0.0


def auto_log_target(y: np.ndarray) -> bool:
    """Log scale for non-negative targets that are counts (whole numbers) or right-skewed
    (skewness above 1: densities, prices), as MuseCL puts every indicator on log scale."""
    y = np.asarray(y, dtype=float)
    if not np.all(y >= 0):
        return False
    return bool(np.all(y == np.round(y)) or skewness(y) > SKEW_FOR_LOG)


def check_target(y: np.ndarray, log_target: bool, field: str = "TARGET_FIELD") -> None:
    """BadInput for a constant target or negative values on log scale."""
    y = np.asarray(y, dtype=float)
    if np.nanmax(y) == np.nanmin(y):
        raise BadInput(
            f"{field}: every labelled region has the value {y[0]:g}; a constant target "
            "cannot be predicted. Choose another field."
        )
    if log_target and np.any(y < 0):
        raise BadInput(
            f"{field}: {int((y < 0).sum())} labelled regions have negative values, which have "
            "no logarithm; set LOG_TARGET to false."
        )


def score(
    y_true: np.ndarray, y_pred: np.ndarray, log_target: bool, model_scale: bool = False
) -> dict[str, float]:
    """R2, RMSE, MAE on the log (model) scale and on the original scale.

    Inputs are on the original scale unless ``model_scale``. Keys: ``r2``, ``rmse``, ``mae``
    (model scale: log1p when ``log_target``) and ``r2_orig``, ``rmse_orig``, ``mae_orig``.
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if log_target:
        if model_scale:
            z_true, z_pred = y_true, y_pred
            y_true, y_pred = np.expm1(y_true), np.maximum(np.expm1(y_pred), 0.0)
        else:
            z_true, z_pred = np.log1p(y_true), np.log1p(np.maximum(y_pred, 0.0))
    else:
        z_true, z_pred = y_true, y_pred
    out = regression_metrics(z_true, z_pred)
    out.update({f"{k}_orig": v for k, v in regression_metrics(y_true, y_pred).items()})
    return out


def evaluate_split(
    X: np.ndarray,
    y: np.ndarray,
    part: np.ndarray,
    model: str,
    log_target: bool,
    seed: int = 0,
    events: Any = None,
    feature_names: Sequence[str] | None = None,
    **options: Any,
) -> tuple[IndicatorPredictor, dict[str, float], np.ndarray]:
    """Fit ``model`` on the train part (validation for early stopping), score the test part.

    Returns the fitted predictor, its test metrics (``n_clipped``: test predictions held to
    the training range) and its predictions (original scale) for every row of ``X``.
    ``options``: ``device`` and the other fields of :class:`PredictorSettings`.
    """
    train, val, test = (part == TRAIN), (part == VALIDATION), (part == TEST)
    device = options.pop("device", "auto")
    settings = PredictorSettings(model=model, log_target=log_target, **options)
    predictor = IndicatorPredictor(settings, device, seed)
    predictor.fit(RegressionData(X[train], y[train], X[val], y[val], feature_names), events)
    z_pred = predictor.predict_model_scale(X)
    z_test = predictor.held_to_training_range(z_pred[test])
    metrics = score(predictor.to_model_scale(y[test]), z_test, log_target, True)
    metrics["n_clipped"] = predictor.n_clipped
    z_pred = predictor.held_to_training_range(z_pred)
    return predictor, metrics, predictor.to_original_scale(z_pred)


def summarise(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over repeats of each model's test metrics."""
    rows = []
    for model in dict.fromkeys(r["model"] for r in records):
        mine = [r for r in records if r["model"] == model]
        row: dict[str, Any] = {"model": model, "repeats": len(mine)}
        for key in (*METRICS, *(f"{m}_orig" for m in METRICS)):
            values = np.array([r[key] for r in mine], dtype=float)
            row[f"{key}_mean"] = float(np.mean(values))
            row[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        row["n_train"] = int(np.mean([r["n_train"] for r in mine]))
        row["n_test"] = int(np.mean([r["n_test"] for r in mine]))
        rows.append(row)
    return rows


def evaluate_features(
    features: np.ndarray,
    target: np.ndarray,
    coords: np.ndarray | None = None,
    split: str = SPLIT,
    repeats: int = 3,
    seed: int = 0,
    models: tuple[str, ...] = ("mlp", "ridge"),
    log_target: bool = True,
    block_size: float | None = None,
    events: Any = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Test-part R2/RMSE/MAE (mean and std over ``repeats`` splits), one row per model.

    ``r2_mean``, ``rmse_mean``, ``mae_mean`` (and ``_std``) are on the log1p scale when
    ``log_target``, else on the original scale; ``*_orig_*`` keys are always on the original
    scale. Every model sees the same splits. ``options``: ``device`` and the fields of
    :class:`PredictorSettings` (hidden, epochs, lr, patience, ...). Rows with a NaN target
    are ignored.
    """
    X = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    keep = np.isfinite(y)
    X, y = X[keep], y[keep]
    if coords is not None:
        coords = np.asarray(coords, dtype=np.float64)[keep]
    check_target(y, log_target)
    splits = make_splits(len(y), split, repeats, seed, coords, block_size)
    records = []
    total = len(splits) * len(models)
    for r, part in enumerate(splits):
        for m, model in enumerate(models):
            if events is not None:
                events.check_cancelled()
                events.progress((r * len(models) + m) / total, f"repeat {r + 1}: {model}")
            _, metrics, _ = evaluate_split(X, y, part, model, log_target, seed + r, **options)
            records.append(
                {
                    "model": model,
                    "repeat": r,
                    "n_train": int((part == TRAIN).sum()),
                    "n_test": int((part == TEST).sum()),
                    **metrics,
                }
            )
    return summarise(records)


def literature_protocol(
    features: np.ndarray, target: np.ndarray, folds: int, seed: int = 2024
) -> tuple[dict[str, float], np.ndarray]:
    """The region-embedding literature's protocol (HAFusion, MGFN, HREP, MVURE).

    ``Ridge(alpha=1)`` on the features as given, ``KFold(folds, shuffle=True,
    random_state=seed)``, out-of-fold predictions below 0 set to 0, then R2 / RMSE / MAE
    on the original scale over all regions at once. Returns (metrics, out-of-fold
    predictions). Comparable with published tables; with one split and no repeats, it
    says nothing about the spread.
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold

    X = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if not 2 <= folds <= len(y):
        raise BadInput(f"FOLDS must be between 2 and the {len(y)} labelled regions, not {folds}.")
    pred = np.zeros_like(y)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        pred[test] = Ridge(alpha=1.0).fit(X[train], y[train]).predict(X[test])
    pred = np.maximum(pred, 0.0)
    return regression_metrics(y, pred), pred
