"""Indicator prediction from region features (the downstream task of MuseCL).

Public: :class:`IndicatorPredictor` (mlp / ridge / gbm / mean, built from
:class:`PredictorSettings`; a :class:`Method`: fit(RegressionData) / transform / save / load)
and :func:`evaluate_features` (repeated random or spatial-block splits, test-part metrics).
"""

from __future__ import annotations

from urbansig.models.predictor.estimator import (
    METHOD,
    MODEL_KINDS,
    IndicatorPredictor,
    PredictorSettings,
    RegressionData,
)
from urbansig.models.predictor.evaluate import (
    auto_log_target,
    check_target,
    evaluate_features,
    evaluate_split,
    literature_protocol,
    score,
    summarise,
)
from urbansig.models.predictor.splits import make_splits

__all__ = [
    "METHOD",
    "MODEL_KINDS",
    "IndicatorPredictor",
    "PredictorSettings",
    "RegressionData",
    "auto_log_target",
    "check_target",
    "evaluate_features",
    "evaluate_split",
    "literature_protocol",
    "make_splits",
    "score",
    "summarise",
]
