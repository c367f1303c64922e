"""predictindicator with a TRAINED_MODEL: FEATURE_FIELDS other than the model's features
is a BadInput listing them, the same fields (any order) or none apply the model, a changed
FEATURE_PREFIX that does not select them is a warning; a bad model file names
TRAINED_MODEL."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from urbansig.protocol import BadInput, Events, JobSpec

gpd = pytest.importorskip("geopandas")


def write_regions(path: Path, n: int = 40) -> Path:
    """``n`` square regions with features emb_000..emb_002, lights and a population."""
    from shapely.geometry import box

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    cols = {f"emb_{i:03d}": X[:, i] for i in range(3)}
    cols["lights"] = X[:, 3]
    cols["population"] = np.round(np.expm1(3 + X[:, :3] @ np.array([0.8, -0.5, 0.3])))
    geometry = [box(i * 100, 0, i * 100 + 100, 100) for i in range(n)]
    gpd.GeoDataFrame(cols, geometry=geometry, crs="EPSG:3857").to_file(path)
    return path


def run_job(tmp_path: Path, regions: Path, params: dict, **inputs) -> tuple[dict, list[dict]]:
    from urbansig.runtime import run_spec

    spec = JobSpec(
        task="predictindicator",
        inputs={"input": str(regions), **{k: str(v) for k, v in inputs.items()}},
        params={"model": "ridge", "repeats": 1, "target_field": "population", **params},
        outputs={"output": str(tmp_path / "out.gpkg")},
        device="cpu",
    )
    stream = io.StringIO()
    result = run_spec(spec, Events(stream, min_interval=0))
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture()
def trained(tmp_path: Path) -> tuple[Path, Path]:
    """(the regions, a ridge model trained on emb_000..emb_002)."""
    from urbansig.runtime import run_spec

    regions = write_regions(tmp_path / "regions.gpkg")
    model = tmp_path / "model.pt"
    spec = JobSpec(
        task="predictindicator",
        inputs={"input": str(regions)},
        params={"model": "ridge", "repeats": 1, "target_field": "population"},
        outputs={"output": str(tmp_path / "trained.gpkg"), "model_file": str(model)},
        device="cpu",
    )
    run_spec(spec, Events(io.StringIO()))
    return regions, model


def _warnings(events: list[dict]) -> list[str]:
    """The warnings about the features (not, e.g., predictions held to the target range)."""
    return [e["message"] for e in events if e["event"] == "warning" and "FEATURE" in e["message"]]


def test_other_feature_fields_are_refused(tmp_path: Path, trained):
    regions, model = trained
    with pytest.raises(BadInput) as info:
        run_job(tmp_path, regions, {"feature_fields": "emb_000,lights"}, trained_model=model)
    message = str(info.value)
    assert message.startswith("FEATURE_FIELDS: the TRAINED_MODEL was trained on 3 features")
    assert "emb_000, emb_001, emb_002" in message and "leave FEATURE_FIELDS empty" in message
    assert not (tmp_path / "out.gpkg").exists()


def test_model_features_given_or_left_empty_apply_the_model(tmp_path: Path, trained):
    regions, model = trained
    listed = {"feature_fields": "emb_002,emb_000,emb_001"}  # the model's, another order
    first, events = run_job(tmp_path, regions, listed, trained_model=model)
    assert _warnings(events) == []
    again, events = run_job(tmp_path, regions, {}, trained_model=model)  # default prefix
    assert _warnings(events) == [] and again["metrics"]["r2"] == first["metrics"]["r2"]


def test_changed_prefix_that_misses_the_model_features_warns(tmp_path: Path, trained):
    regions, model = trained
    _, events = run_job(tmp_path, regions, {"feature_prefix": "lig"}, trained_model=model)
    [warning] = _warnings(events)
    assert warning.startswith("FEATURE_PREFIX 'lig' is not used with a TRAINED_MODEL")
    assert "emb_000, emb_001, emb_002" in warning


def test_unreadable_trained_model_names_the_parameter(tmp_path: Path):
    regions = write_regions(tmp_path / "regions.gpkg")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(512))
    with pytest.raises(BadInput, match=r"^TRAINED_MODEL: .*not an Urban Signatures model"):
        run_job(tmp_path, regions, {}, trained_model=junk)
