"""Predict indicator: socioeconomic indicators from region features, evaluated honestly."""

from __future__ import annotations

from qgis.core import QgsProcessingException

from ..columns import EMBEDDING_PREFIX, PREDICTION
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm, help_html
from .params import HTML_FILTER, MODEL_FILTER, POLYGONS, Param, help_table

TABLE = (
    Param(
        "INPUT",
        "Region layer",
        "vector",
        "regions with numeric feature fields and the target",
        geometry=POLYGONS,
    ),
    Param(
        "TARGET_FIELD",
        "Target field",
        "field",
        "numeric indicator to predict; regions where it is NULL get a prediction only",
        parent="INPUT",
        numeric=True,
        optional=True,
    ),
    Param(
        "FEATURE_FIELDS",
        "Feature fields",
        "fields",
        "fields used as features (leave empty to use FEATURE_PREFIX)",
        parent="INPUT",
        numeric=True,
        optional=True,
    ),
    Param(
        "FEATURE_PREFIX",
        "Feature field prefix",
        "string",
        "use every field whose name starts with this (the embeddings' emb_ columns)",
        default=EMBEDDING_PREFIX,
        optional=True,
    ),
    Param(
        "LOG_TARGET",
        "Log-transform the target",
        "enum",
        "auto: log1p when the target is non-negative and skewed (counts, densities), as the paper",
        options=("auto", "true", "false"),
        default="auto",
    ),
    Param(
        "MODEL",
        "Model",
        "enum",
        "mlp (the paper's setup: hidden layers, Adam, early stopping), ridge or gradient "
        "boosting (scikit-learn)",
        options=("mlp", "ridge", "gbm"),
        default="mlp",
    ),
    Param(
        "SPLIT",
        "Evaluation split",
        "enum",
        "random 60/20/20 as the paper, or spatial block cross-validation (neighbouring "
        "regions do not leak between train and test)",
        options=("random", "spatial"),
        default="random",
    ),
    Param(
        "BLOCK_SIZE",
        "Spatial block size",
        "float",
        "side of the spatial blocks in layer units (empty: a fifth of the extent)",
        optional=True,
        minimum=0.0,
        advanced=True,
    ),
    Param(
        "REPEATS",
        "Repeats",
        "int",
        "repeated splits with different seeds (spatial: folds)",
        default=5,
        minimum=1,
        maximum=100,
    ),
    Param(
        "COVERAGE",
        "Prediction interval coverage",
        "float",
        "split-conformal interval coverage (pred_lower, pred_upper)",
        default=0.9,
        minimum=0.5,
        maximum=0.99,
        advanced=True,
    ),
    Param(
        "BASELINES",
        "Compare with baselines",
        "bool",
        "also score ridge, gradient boosting and the mean side by side",
        default=True,
    ),
    Param(
        "HIDDEN",
        "MLP hidden layers",
        "string",
        "comma-separated sizes",
        default="64,32",
        advanced=True,
    ),
    Param("EPOCHS", "MLP epochs (at most)", "int", "", default=300, minimum=1, advanced=True),
    Param(
        "LR",
        "MLP learning rate",
        "float",
        "Adam learning rate",
        default=0.001,
        minimum=1e-6,
        maximum=1.0,
        advanced=True,
    ),
    Param(
        "PATIENCE",
        "MLP early-stopping patience",
        "int",
        "epochs without validation improvement",
        default=30,
        minimum=1,
        advanced=True,
    ),
    Param("BATCH_SIZE", "MLP batch size", "int", "", default=32, minimum=1, advanced=True),
    Param(
        "TRAINED_MODEL",
        "Trained model (apply instead of training)",
        "file",
        "a model saved by this algorithm; its feature list must match",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "OUTPUT",
        "Predicted regions",
        "vector_out",
        "the regions with prediction, residual, split, pred_lower and pred_upper",
        geometry=POLYGONS,
        style=StyleSpec("graduated", PREDICTION),
    ),
    Param(
        "MODEL_FILE",
        "Trained model file",
        "file_out",
        "scalers, feature list, log flag and weights; applies to new regions",
        backend="outputs.model_file",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "REPORT",
        "Report",
        "file_out",
        "scatter of predicted against true, residual map, metric table with baselines",
        optional=True,
        file_filter=HTML_FILTER,
    ),
)


class PredictIndicator(UrbanSigAlgorithm):
    alg_id = "predictindicator"
    title = "Predict indicator"
    group_name = "Prediction"
    group_key = "prediction"
    task = "predictindicator"
    table = TABLE
    help = help_html(
        "Predicts a socioeconomic indicator (population, housing, crime, ...) of regions from "
        "numeric features such as the region embeddings of the other algorithms, and "
        "evaluates it honestly on held-out regions: R2, RMSE and MAE on the log and the "
        "original scale, mean and spread over repeats, beside ridge, gradient-boosting and "
        "mean baselines. Spatial block cross-validation keeps neighbours out of the test "
        "part. Regions with a NULL target get a prediction and a conformal interval.",
        *help_table(TABLE),
        paper="the MLP downstream task of MuseCL (Yong et al., IJCAI 2024), 60/20/20 split, "
        "log scale.",
        example="qgis_process run urbansig:predictindicator -- INPUT=embedded.gpkg "
        "TARGET_FIELD=population_density FEATURE_PREFIX=emb_ OUTPUT=predicted.gpkg "
        "REPORT=report.html",
    )

    def validate_sections(self, sections, parameters, context) -> None:
        params = sections["params"]
        if "trained_model" not in sections["inputs"] and not params.get("target_field"):
            raise QgsProcessingException(
                "TARGET_FIELD is required to train (or give TRAINED_MODEL to apply a model)."
            )
        if not params.get("feature_fields") and not params.get("feature_prefix"):
            raise QgsProcessingException("Give FEATURE_FIELDS or FEATURE_PREFIX.")
