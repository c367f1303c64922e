"""RAW (Regions are Who Walk Them): a GPT-like trajectory transformer, users and regions.

Every default of RAW's settings and helpers is the ``pooltrajectoriesraw`` table's
(:func:`default`), so a default changes in one place.
"""

from __future__ import annotations

from typing import Any

from urbansig import parameters

METHOD = "raw"
MODEL_VERSION = 2
TASK = "pooltrajectoriesraw"


def default(key: str) -> Any:
    """The declared default of the ``pooltrajectoriesraw`` parameter ``key``."""
    return parameters.default(TASK, key)


STEP_S = int(default("step_minutes") * 60)  # resampling step, seconds
MAX_GAP_S = int(default("max_gap_minutes") * 60)  # longest carried gap, seconds
MARKOV_CELL_M = float(default("markov_cell_m"))  # grid of the Markov baseline and home/work
