"""Pool trajectories to regions (RAW), and apply a trained RAW model."""

from __future__ import annotations

from ..columns import N_USERS
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm, help_html
from .params import HTML_FILTER, MODEL_FILTER, POINTS, POLYGONS, Param, help_table

PAPER = (
    "Regions are Who Walk Them: a Large Pre-trained Spatiotemporal Model Based on Human "
    "Mobility for Ubiquitous Urban Sensing (arXiv 2311.10471)."
)

TRAJECTORY_INPUTS = (
    Param(
        "TRAJECTORIES",
        "Trajectory table",
        "file",
        "CSV of user id, timestamp, lon, lat (WGS 84) or x, y",
        backend="inputs.trajectories",
        optional=True,
        file_filter="Tables (*.csv)",
    ),
    Param(
        "GEOLIFE_FOLDER",
        "GeoLife folder",
        "folder",
        "a GeoLife-layout folder of .plt files (one folder per user)",
        backend="inputs.trajectories",
        optional=True,
    ),
    Param(
        "TRAJECTORY_LAYER",
        "Trajectory point layer",
        "vector",
        "points with user id and timestamp fields",
        geometry=POINTS,
        backend="inputs.trajectories",
        optional=True,
    ),
    Param("USER_FIELD", "User id field", "string", "", default="user_id", advanced=True),
    Param("TIME_FIELD", "Timestamp field", "string", "", default="timestamp", advanced=True),
    Param(
        "ASSUME_TZ",
        "Time zone of naive timestamps",
        "string",
        "timestamps written without a time zone are read in this zone",
        default="UTC",
        advanced=True,
    ),
    Param(
        "UTC_OFFSET",
        "Local time offset (hours)",
        "string",
        "for time-of-day features and home/work; auto guesses it from the longitude",
        default="auto",
        advanced=True,
    ),
    Param(
        "MIN_STEPS",
        "Minimum steps per user",
        "int",
        "users with fewer observed steps are skipped (and counted)",
        default=12,
        minimum=1,
        advanced=True,
    ),
)
ONE_TRAJECTORY_SOURCE = (("TRAJECTORIES", "GEOLIFE_FOLDER", "TRAJECTORY_LAYER"),)

POOL_TABLE = (
    *TRAJECTORY_INPUTS,
    Param("REGIONS", "Region layer", "vector", "polygons to pool users into", geometry=POLYGONS),
    Param(
        "USER_LABELS",
        "User labels (evaluation)",
        "file",
        "a table of user_id and LABEL_FIELD (e.g. the demo city's users.csv)",
        optional=True,
        file_filter="Tables (*.csv)",
    ),
    Param(
        "LABEL_FIELD",
        "Label field",
        "string",
        "binary label to identify from user embeddings (e.g. is_commuter)",
        optional=True,
    ),
    Param(
        "STEP_MINUTES", "Time step (minutes)", "float", "resampling step", default=30.0, minimum=1.0
    ),
    Param(
        "MAX_GAP_MINUTES",
        "Longest carried gap (minutes)",
        "float",
        "longer gaps are marked, not filled",
        default=120.0,
        minimum=1.0,
        advanced=True,
    ),
    Param("SEQ_LEN", "Sequence length (steps)", "int", "", default=48, minimum=4),
    Param("LAYERS", "Transformer layers", "int", "", default=2, minimum=1, advanced=True),
    Param("WIDTH", "Width", "int", "hidden size", default=64, minimum=8, advanced=True),
    Param(
        "HEADS", "Attention heads", "int", "must divide WIDTH", default=4, minimum=1, advanced=True
    ),
    Param("EPOCHS", "Pre-training epochs", "int", "", default=20, minimum=1),
    Param("LR", "Peak learning rate", "float", "AdamW", default=0.001, minimum=1e-6, advanced=True),
    Param(
        "WARMUP",
        "Warm-up share",
        "float",
        "linear warm-up, then cosine decay",
        default=0.1,
        minimum=0.0,
        maximum=0.9,
        advanced=True,
    ),
    Param(
        "BATCH_SIZE", "Batch size", "int", "windows per batch", default=64, minimum=1, advanced=True
    ),
    Param(
        "POOLING",
        "Pooling",
        "enum",
        "sum (the paper's) or mean of user embeddings",
        options=("sum", "mean"),
        default="sum",
    ),
    Param(
        "MIN_VISITS",
        "Minimum visits",
        "int",
        "a user counts in a region after this many visits",
        default=1,
        minimum=1,
    ),
    Param(
        "HOLDOUT_FRACTION",
        "Held-out users",
        "float",
        "share of users kept out of pre-training for the evaluation",
        default=0.2,
        minimum=0.05,
        maximum=0.5,
        advanced=True,
    ),
    Param(
        "HORIZON_STEPS",
        "Forecast horizon (steps)",
        "int",
        "next-point errors are reported up to this many steps",
        default=5,
        minimum=1,
        advanced=True,
    ),
    Param(
        "MARKOV_CELL_M",
        "Markov baseline cell (m)",
        "float",
        "",
        default=500.0,
        minimum=10.0,
        advanced=True,
    ),
    Param(
        "MODEL",
        "Pre-trained model (skip pre-training)",
        "file",
        "",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "OUTPUT",
        "Regions with RAW embeddings",
        "vector_out",
        "regions with emb_000 ... and n_users",
        geometry=POLYGONS,
        style=StyleSpec("graduated", N_USERS),
    ),
    Param(
        "OUTPUT_USERS",
        "User table",
        "file_out",
        "user id, embedding, home and work estimates",
        optional=True,
        file_filter="CSV (*.csv)",
    ),
    Param(
        "MODEL_FILE",
        "Trained model file",
        "file_out",
        "",
        backend="outputs.output_model",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "REPORT",
        "Report",
        "file_out",
        "pre-training curve, next-point errors against baselines, commuter identification",
        backend="outputs.output_report",
        optional=True,
        file_filter=HTML_FILTER,
    ),
    Param(
        "CHECKPOINT",
        "Checkpoint",
        "file_out",
        "training checkpoint, resumed from when it exists",
        optional=True,
        advanced=True,
        file_filter="PyTorch checkpoint (*.pt)",
    ),
)

APPLY_TABLE = (
    *TRAJECTORY_INPUTS,
    Param(
        "MODEL",
        "Trained RAW model",
        "file",
        "a model saved by Pool trajectories (RAW)",
        file_filter=MODEL_FILTER,
    ),
    Param(
        "REGIONS",
        "Region layer (optional)",
        "vector",
        "pool the users into these",
        geometry=POLYGONS,
        optional=True,
    ),
    Param(
        "HORIZON_STEPS",
        "Forecast steps",
        "int",
        "steps to forecast after each user's last point",
        default=5,
        minimum=1,
    ),
    Param("POOLING", "Pooling", "enum", "", options=("sum", "mean"), default="sum"),
    Param("MIN_VISITS", "Minimum visits", "int", "", default=1, minimum=1),
    Param(
        "OUTPUT_USERS", "User embeddings", "file_out", "", optional=True, file_filter="CSV (*.csv)"
    ),
    Param(
        "OUTPUT_POINTS",
        "Forecast points",
        "vector_out",
        "the next points predicted for each user",
        geometry=POINTS,
        optional=True,
        style=StyleSpec("graduated", "step"),
    ),
    Param(
        "OUTPUT",
        "Regions with RAW embeddings",
        "vector_out",
        "",
        geometry=POLYGONS,
        optional=True,
        style=StyleSpec("graduated", N_USERS),
    ),
)


class PoolTrajectoriesRaw(UrbanSigAlgorithm):
    alg_id = "pooltrajectoriesraw"
    title = "Pool trajectories to regions (RAW)"
    group_name = "Methods"
    group_key = "methods"
    task = "pooltrajectoriesraw"
    table = POOL_TABLE
    one_of = ONE_TRAJECTORY_SOURCE
    help = help_html(
        "Pre-trains a GPT-like transformer to predict each user's next position from their "
        "resampled trajectory, embeds users (mean of the final hidden states) and pools "
        "the embeddings of the users who pass through each region into a region embedding "
        "(with the visitor count). Reports next-point errors in km against persistence and "
        "a Markov baseline, and commuter identification from the embeddings.",
        *help_table(POOL_TABLE),
        paper=PAPER,
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
    one_of = ONE_TRAJECTORY_SOURCE
    help = help_html(
        "Uses a model trained by Pool trajectories to regions (RAW) on new trajectories: "
        "user embeddings, forecasts of each user's next points, and optionally region "
        "embeddings. A model whose coordinate normalisation does not fit the new data is "
        "refused.",
        *help_table(APPLY_TABLE),
        paper=PAPER,
        example="qgis_process run urbansig:applyrawmodel -- TRAJECTORIES=new.csv "
        "MODEL=raw.pt OUTPUT_USERS=users.csv OUTPUT_POINTS=forecast.gpkg",
    )
