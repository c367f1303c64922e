"""What a user must choose for each algorithm on the demo city; everything else stays at its
default. Values are layers (picked in their widgets) or paths (typed)."""

from __future__ import annotations

from typing import Any


def required_inputs(algorithm_id: str, layers: dict, city: dict, prepared: dict) -> dict[str, Any]:
    """The required inputs of ``algorithm_id`` (the "one of" inputs: the first of them)."""
    return {
        "backenddiagnostics": {},
        "createh3grid": {"INPUT": layers["REGIONS"]},
        "generatedemocity": {},
        "clustertraffictiles": {"TRAFFIC_FOLDER": city["NETMOB"], "TILES": layers["TILES"]},
        "embedregionsmusecl": {
            "REGIONS": layers["REGIONS"],
            "POIS": layers["POIS"],
            "OD": city["OD_FLOWS"],
        },
        "embedregionsflows": {
            "REGIONS": layers["REGIONS"],
            "ID_FIELD": "region_id",
            "OD": [layers["OD"]],
        },
        "pooltrajectoriesraw": {"TRAJECTORIES": city["TRAJECTORIES"], "REGIONS": layers["REGIONS"]},
        # Every output of Apply RAW model is optional: a user asks for the forecast points.
        "applyrawmodel": {
            "TRAJECTORIES": city["TRAJECTORIES"],
            "MODEL": prepared["RAW_MODEL"],
            "OUTPUT_POINTS": "TEMPORARY_OUTPUT",
        },
        "predictindicator": {"INPUT": layers["EMBEDDED"], "TARGET_FIELD": "population_density"},
    }[algorithm_id]


# The layers each run must leave in the project (output names).
RESULT_LAYERS = {
    "backenddiagnostics": (),
    "createh3grid": ("OUTPUT",),
    "generatedemocity": ("TILES", "REGIONS", "POIS", "STATIONS", "STREETVIEW", "REMOTE_SENSING"),
    "clustertraffictiles": ("OUTPUT",),
    "embedregionsmusecl": ("OUTPUT",),
    "embedregionsflows": ("OUTPUT",),
    "pooltrajectoriesraw": ("OUTPUT",),
    "applyrawmodel": ("OUTPUT_POINTS",),
    "predictindicator": ("OUTPUT",),
}
