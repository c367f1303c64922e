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
        "OUTPUT",
        "Demo city folder",
        "folder_out",
        help="folder with the NetMob 2023 layout traffic, layers, tables, images and ground truth",
    ),
)
