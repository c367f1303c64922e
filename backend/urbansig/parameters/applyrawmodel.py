"""Parameters of ``applyrawmodel``."""

from urbansig.parameters import MODEL_FILTER, Parameter
from urbansig.parameters.trajectories import POOLING, REGION_ID_FIELD, TRAJECTORY_INPUTS

PARAMETERS = (
    *TRAJECTORY_INPUTS,
    Parameter(
        "MODEL",
        "Trained RAW model",
        "file",
        help="a model saved by Pool trajectories (RAW)",
        file_filter=MODEL_FILTER,
    ),
    Parameter(
        "REGIONS",
        "Region layer (to pool users into)",
        "vector",
        help="pool the users into these",
        optional=True,
        geometry="polygon",
    ),
    REGION_ID_FIELD,
    Parameter(
        "HORIZON_STEPS",
        "Forecast steps",
        "int",
        help="steps to forecast after each user's last point",
        default=5,
        minimum=1,
    ),
    *POOLING,
    Parameter(
        "OUTPUT_USERS", "User embeddings", "file_out", optional=True, file_filter="CSV (*.csv)"
    ),
    Parameter(
        "OUTPUT_POINTS",
        "Forecast points",
        "vector_out",
        help="each user's next points: RAW's forecast and their routine baseline (forecaster)",
        optional=True,
        geometry="point",
    ),
    Parameter(
        "OUTPUT", "Regions with RAW embeddings", "vector_out", optional=True, geometry="polygon"
    ),
)
