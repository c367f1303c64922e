"""Quality tier: the methods on the tiny demo city, with seeds fixed in advance, against the
simple baselines the job itself reports. Margins are constants in each test."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from urbansig.protocol import Events, JobSpec  # noqa: E402
from urbansig.runtime import run_spec  # noqa: E402

SEEDS = (0, 1, 2)  # training seeds, fixed before any result was seen
CITY_SEED = 0  # the tiny demo city's generator seed


def run_job(task: str, inputs: dict, params: dict, outputs: dict, seed: int) -> dict[str, Any]:
    """Run one job through the backend's runner (defaults, types, ranges from its table)."""
    spec = JobSpec(
        task=task, inputs=inputs, params=params, outputs=outputs, device="cpu", seed=seed
    )
    stream = io.StringIO()
    result = run_spec(spec, Events(stream, min_interval=0.0))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert not [e for e in events if e["event"] == "error"], events[-3:]
    return result


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory) -> Path:
    from urbansig import synth

    city = tmp_path_factory.mktemp("tiny") / "city"
    synth.generate_city(city, seed=CITY_SEED, size="tiny")
    return city
