"""Parameters shared by the trajectory algorithms (RAW pooling and applying a model)."""

from urbansig.parameters import Parameter

TRAJECTORY_INPUTS = (
    Parameter(
        "TRAJECTORIES",
        "Trajectory table",
        "file",
        help="CSV of user id, timestamp and lon, lat (or x, y) in WGS 84 degrees",
        optional=True,
        file_filter="Tables (*.csv)",
    ),
    Parameter(
        "GEOLIFE_FOLDER",
        "GeoLife folder",
        "folder",
        help="a GeoLife-layout folder of .plt files (one folder per user)",
        optional=True,
        target="inputs.trajectories",
    ),
    Parameter(
        "TRAJECTORY_LAYER",
        "Trajectory point layer",
        "vector",
        help="points with user id and timestamp fields",
        optional=True,
        geometry="point",
        target="inputs.trajectories",
    ),
    Parameter("USER_FIELD", "User id field", "string", default="user_id", advanced=True),
    Parameter("TIME_FIELD", "Timestamp field", "string", default="timestamp", advanced=True),
    Parameter(
        "ASSUME_TZ",
        "Time zone of naive timestamps",
        "string",
        help="timestamps written without a time zone are read in this zone",
        default="UTC",
        advanced=True,
    ),
    Parameter(
        "UTC_OFFSET",
        "Local time offset (hours)",
        "string",
        help="for time-of-day features and home/work; auto guesses it from the longitude",
        default="auto",
        advanced=True,
    ),
    Parameter(
        "MIN_STEPS",
        "Minimum steps per user",
        "int",
        help="users with fewer observed steps are skipped (and counted)",
        default=12,
        advanced=True,
        minimum=1,
    ),
)

REGION_ID_FIELD = Parameter(
    "ID_FIELD",
    "Region id field",
    "field",
    help="must identify each region once (the default region_id may be absent)",
    default="region_id",
    optional=True,
    parent="REGIONS",
)

POOLING = (
    Parameter(
        "POOLING",
        "Pooling",
        "enum",
        help="sum (the paper's) or mean of user embeddings",
        default="sum",
        choices=("sum", "mean"),
    ),
    Parameter(
        "MIN_VISITS",
        "Minimum visits",
        "int",
        help="a user counts in a region after this many visits",
        default=1,
        minimum=1,
    ),
)
