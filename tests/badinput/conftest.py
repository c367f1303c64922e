"""Bad-input tier: the backend on the tiny demo city, one corrupted parameter per case."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import pytest

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
for folder in (BACKEND_DIR, Path(__file__).resolve().parent):  # the backend, cases.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (symlinks followed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    """A tiny demo city (2 days), a RAW model and a predictor model trained on it, and
    damaged copies of real files; the session checks at its end that none changed."""
    from urbansig.synth.writer import generate_city

    root = tmp_path_factory.mktemp("badinput")
    folder = root / "city"
    generate_city(folder, seed=0, size="tiny", days=2)
    _fixtures(folder)
    before = digests(folder)
    yield folder
    assert digests(folder) == before, "an input file changed during the bad-input tier"


def _fixtures(folder: Path) -> None:
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    quiet = Events(stream=io.StringIO())
    raw = JobSpec(
        task="pooltrajectoriesraw",
        inputs={
            "trajectories": str(folder / "trajectories.csv"),
            "regions": str(folder / "regions.gpkg"),
        },
        params={"epochs": 1, "width": 16, "layers": 1, "heads": 2},
        outputs={"output": str(folder / "raw_out.gpkg"), "output_model": str(folder / "raw.pt")},
        device="cpu",
    )
    run_spec(raw, quiet)
    predictor = JobSpec(
        task="predictindicator",
        inputs={"input": str(folder / "regions.gpkg")},
        params={
            "target_field": "population_density",
            "feature_fields": "in_flow,out_flow",
            "model": "ridge",
            "baselines": False,
            "literature_protocol": False,
        },
        outputs={"output": str(folder / "pred_out.gpkg"), "model_file": str(folder / "ridge.pt")},
        device="cpu",
    )
    run_spec(predictor, quiet)
    rng_bytes = hashlib.sha256(b"urbansig").digest() * 64
    (folder / "random.bin").write_bytes(rng_bytes)
    (folder / "random.gpkg").write_bytes(rng_bytes)
    (folder / "random.tif").write_bytes(rng_bytes)
    (folder / "random.csv").write_bytes(b"\x00\xff" * 300)
    (folder / "empty.csv").write_text("")
    tif = (folder / "remote_sensing.tif").read_bytes()
    (folder / "truncated.tif").write_bytes(tif[: len(tif) // 2])
    model = (folder / "raw.pt").read_bytes()
    (folder / "truncated.pt").write_bytes(model[: len(model) // 2])
    (folder / "empty_folder").mkdir()
    (folder / "notes.txt").write_text("a user's notes\n")
    (folder / "notes.gpkg").write_text("not a database\n")
