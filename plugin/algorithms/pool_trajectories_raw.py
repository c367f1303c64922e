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
        "Pre-trains a GPT-like transformer to forecast where each user will be 1 to "
        "HORIZON_STEPS steps ahead from their resampled trajectory, embeds users (mean of the "
        "final hidden states) and pools the embeddings of the users who pass through each "
        "region into a region embedding (with the visitor count). Reports forecast errors in "
        "km on held-out users' GPS fixes beside four baselines (persistence, last "
        "displacement, a Markov chain, the user's routine), and commuter identification "
        "from the embeddings.",
        *help_table(POOL_TABLE),
        paper=PAPER,
        methods=(
            (
                "Pre-training",
                "each user's trajectory is resampled to fixed time steps (STEP_MINUTES; longer "
                "gaps are marked, not filled) and cut into windows. A GPT-like transformer, "
                "whose causal self-attention lets each step see only the steps before it, "
                "reads positions relative to the window (so a model trained in one city goes "
                "on in another, CONTINUE_TRAINING), time of day and day of week, and learns "
                "to forecast the position 1 to HORIZON_STEPS steps ahead, conditioned on the "
                "target's time of day, with the distance in metres as the loss; only steps "
                "with a GPS fix are origins and targets.",
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
                "forecast errors in km (mean and median) on users kept out of pre-training, "
                "scored against their GPS fix nearest each target time "
                "(TRUTH_TOLERANCE_MINUTES), never a carried position; beside persistence, "
                "last displacement, a Markov chain on a grid fitted on the training users, "
                "and each user's routine (their usual place at that time from their own "
                "earlier days), with paired bootstrap intervals over users (user-days with "
                "fewer than 5 users); the report says which forecaster to use. With "
                "USER_LABELS, the cross-validated accuracy of a logistic regression "
                "predicting LABEL_FIELD from the user embeddings.",
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
        "user embeddings, forecasts of each user's next points (RAW's and, beside them, the "
        "user's routine baseline: column forecaster), and optionally region embeddings. "
        "Points far outside the area the model was trained on are skipped with a warning "
        "naming their users.",
        *help_table(APPLY_TABLE),
        paper=PAPER,
        example="qgis_process run urbansig:applyrawmodel -- TRAJECTORIES=new.csv "
        "MODEL=raw.pt OUTPUT_USERS=users.csv OUTPUT_POINTS=forecast.gpkg",
    )
