"""Parameters of ``generatedemocity``."""

from urbansig.parameters import Parameter

PARAMETERS = (
    Parameter(
        "SIZE",
        "City size",
        "enum",
        help="tiny (tests, seconds), small (the demo), medium, large (>= 100,000 tiles, benchmarks)",
        default="small",
        choices=("tiny", "small", "medium", "large"),
    ),
    Parameter(
        "DAYS",
        "Days of traffic and trajectories",
        "int",
        help="days from Monday 2019-03-25 (1..77; the 31 March daylight-saving day has 92 columns)",
        default=7,
        minimum=1,
        maximum=77,
    ),
    Parameter(
        "REGION_RESOLUTION",
        "H3 resolution of the regions",
        "int",
        help="regions and indicators are H3 cells at this resolution (7..10)",
        default=9,
        advanced=True,
        minimum=7,
        maximum=10,
    ),
    Parameter(
        "N_USERS",
        "Users with trajectories",
        "int",
        help="0: a number that fits the size",
        default=0,
        advanced=True,
        minimum=0,
    ),
    Parameter(
        "N_LAND_USES",
        "Number of land uses",
        "int",
        help="true land-use classes in the city (3..7): dense residential, business, suburban, "
        "park, commercial, transport hub, university, the first N of these",
        default=7,
        advanced=True,
        minimum=3,
        maximum=7,
    ),
    Parameter(
        "IMBALANCE",
        "Land-use imbalance",
        "float",
        help="0: the standard mix; larger values make frequent land uses more frequent and rare "
        "ones rarer (class probabilities raised to the power 1 + IMBALANCE)",
        default=0.0,
        advanced=True,
        minimum=0.0,
        maximum=5.0,
    ),
    Parameter(
        "NOISE",
        "Noise level",
        "float",
        help="scale of each tile's own variation (land-use mix, service tastes) and of the "
        "observation noise in the traffic; 1 is the standard city, 2 a hard one",
        default=1.0,
        advanced=True,
        minimum=0.0,
        maximum=5.0,
    ),
    Parameter(
        "OUTPUT",
        "Demo city folder",
        "folder_out",
        help="folder with the NetMob 2023 layout traffic, layers, tables, images and ground truth",
    ),
)
