"""Predict indicator: socioeconomic indicators from region features, evaluated honestly."""

from __future__ import annotations

from ..columns import PREDICTION
from ..parameter_tables import parameter_table
from ..runner import QgsProcessingException
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("predictindicator")


class PredictIndicator(UrbanSigAlgorithm):
    alg_id = "predictindicator"
    title = "Predict indicator"
    group_name = "Prediction"
    group_key = "prediction"
    task = "predictindicator"
    table = TABLE
    styles = {"OUTPUT": StyleSpec("graduated", PREDICTION)}
    layer_labels = {"OUTPUT": "Prediction"}
    help = Help(
        "Predicts a socioeconomic indicator (population, housing, crime, ...) of regions from "
        "numeric features such as the region embeddings of the other algorithms, and "
        "evaluates it honestly on held-out regions: R2, RMSE and MAE on the log and the "
        "original scale, mean and spread over repeats, beside ridge, gradient-boosting and "
        "mean baselines. Spatial block cross-validation keeps neighbours out of the test "
        "part. Regions with a NULL target get a prediction and a conformal interval.",
        *help_table(TABLE),
        paper="the MLP downstream task of MuseCL (Yong et al., IJCAI 2024), 60/20/20 split, "
        "log scale.",
        methods=(
            (
                "Splits",
                "each repeat (REPEATS) divides the regions with a known target into train, "
                "validation and test parts: a new random 60/20/20 split per repeat, or with "
                "SPLIT spatial, square blocks (BLOCK_SIZE) dealt into 5 folds, one fold for "
                "test and the next for validation, so 5 repeats make one complete spatial "
                "block cross-validation and neighbours do not leak between train and test.",
            ),
            (
                "Scores",
                "R2, RMSE and MAE on the test part only, on the log1p scale when the target "
                "is log-transformed and on the original scale, as mean and standard "
                "deviation over the repeats. The validation part stops the MLP early and "
                "calibrates the conformal interval.",
            ),
            (
                "Baselines",
                "with BASELINES, ridge regression, gradient boosting and the mean of the "
                "training targets are scored on the same splits beside the chosen model: a "
                "model that does not beat the mean has learned nothing.",
            ),
            (
                "Literature protocol",
                "with LITERATURE_PROTOCOL, also Ridge(alpha=1) scored on K-fold (FOLDS) "
                "out-of-fold predictions on the original scale, as in the published region "
                "embedding tables, for comparison with them.",
            ),
        ),
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
