"""Pool trajectories to regions (RAW), and apply a trained RAW model."""

from __future__ import annotations

from ..columns import N_USERS
from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

PAPER = (
    "Regions are Who Walk Them: a Large Pre-trained Spatiotemporal Model Based on Human "
    "Mobility for Ubiquitous Urban Sensing (arXiv 2311.10471)."
)

ONE_TRAJECTORY_SOURCE = (("TRAJECTORIES", "GEOLIFE_FOLDER", "TRAJECTORY_LAYER"),)

POOL_TABLE = parameter_table("pooltrajectoriesraw")

APPLY_TABLE = parameter_table("applyrawmodel")


class PoolTrajectoriesRaw(UrbanSigAlgorithm):
    alg_id = "pooltrajectoriesraw"
    title = "Pool trajectories to regions (RAW)"
    group_name = "Methods"
    group_key = "methods"
    task = "pooltrajectoriesraw"
    table = POOL_TABLE
    styles = {"OUTPUT": StyleSpec("graduated", N_USERS)}
    one_of = ONE_TRAJECTORY_SOURCE
    layer_labels = {"OUTPUT": "Region embeddings (RAW)"}
    help = Help(
        "Pre-trains a GPT-like transformer to predict each user's next position from their "
        "resampled trajectory, embeds users (mean of the final hidden states) and pools "
        "the embeddings of the users who pass through each region into a region embedding "
        "(with the visitor count). Reports next-point errors in km against persistence and "
        "a Markov baseline, and commuter identification from the embeddings.",
        *help_table(POOL_TABLE),
        paper=PAPER,
        methods=(
            (
                "Pre-training",
                "each user's trajectory is resampled to fixed time steps (STEP_MINUTES; longer "
                "gaps are marked, not filled) and cut into windows. A GPT-like transformer, "
                "whose causal self-attention lets each step see only the steps before it, "
                "learns to predict the next position from the positions, time of day and day "
                "of week so far.",
            ),
            (
                "User embedding",
                "the mean of the transformer's final hidden states over the user's observed "
                "steps (gap steps left out).",
            ),
            (
                "Region pooling",
                "a region's embedding is the sum (POOLING; the paper's) or the mean of the "
                "embeddings of the users with at least MIN_VISITS visits there; n_users "
                "counts them.",
            ),
            (
                "Evaluation",
                "next-point errors in km on users kept out of pre-training, up to "
                "HORIZON_STEPS ahead, against persistence (staying put) and a Markov chain on "
                "a grid; with USER_LABELS, the cross-validated accuracy of a logistic "
                "regression predicting LABEL_FIELD from the user embeddings.",
            ),
        ),
        example="qgis_process run urbansig:pooltrajectoriesraw -- "
        "TRAJECTORIES=city/trajectories.csv REGIONS=city/regions.gpkg OUTPUT=raw.gpkg",
    )


class ApplyRawModel(UrbanSigAlgorithm):
    alg_id = "applyrawmodel"
    title = "Apply a RAW model to trajectories"
    group_name = "Methods"
    group_key = "methods"
    task = "applyrawmodel"
    table = APPLY_TABLE
    styles = {
        "OUTPUT_POINTS": StyleSpec("categorized", "step"),
        "OUTPUT": StyleSpec("graduated", N_USERS),
    }
    one_of = ONE_TRAJECTORY_SOURCE
    layer_labels = {
        "OUTPUT": "Region embeddings (RAW model)",
        "OUTPUT_POINTS": "Forecast points (RAW)",
    }
    help = Help(
        "Uses a model trained by Pool trajectories to regions (RAW) on new trajectories: "
        "user embeddings, forecasts of each user's next points, and optionally region "
        "embeddings. A model whose coordinate normalisation does not fit the new data is "
        "refused.",
        *help_table(APPLY_TABLE),
        paper=PAPER,
        example="qgis_process run urbansig:applyrawmodel -- TRAJECTORIES=new.csv "
        "MODEL=raw.pt OUTPUT_USERS=users.csv OUTPUT_POINTS=forecast.gpkg",
    )
