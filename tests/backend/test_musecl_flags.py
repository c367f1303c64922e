"""MuseCL's three switches are booleans: declared as checkboxes, converted by the runtime from
what a job spec may hold (JSON booleans from the plugin, true/false/1/0 text from older specs
or hand-written ones) and handed to the model's configuration as bools."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from urbansig.parameters import parameters
from urbansig.protocol import BadInput, Events, JobSpec

FLAGS = {"FINETUNE_HEADS": False, "PROJECTION_HEAD": True, "MODALITY_MAPS": True}


class ConfigCaptured(Exception):
    """Raised in place of training: the job built its configuration."""


def test_the_three_switches_are_booleans_with_their_defaults():
    table = {p.name: p for p in parameters("embedregionsmusecl")}
    for name, default in FLAGS.items():
        assert table[name].kind == "bool", name
        assert table[name].default is default, name
        assert not table[name].choices, name


@pytest.fixture(scope="module")
def small_city(tmp_path_factory) -> dict[str, Path]:
    """Nine square regions with POIs and OD flows: two modalities, nothing to download."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point, box

    root = tmp_path_factory.mktemp("musecl_flags")
    rng = np.random.default_rng(0)
    crs, cell = "EPSG:3857", 100.0
    polys = [
        box(c * cell, r * cell, (c + 1) * cell, (r + 1) * cell) for r in range(3) for c in range(3)
    ]
    ids = [f"r{i}" for i in range(len(polys))]
    paths = {"regions": root / "regions.gpkg", "pois": root / "pois.gpkg", "od": root / "od.csv"}
    gpd.GeoDataFrame({"region_id": ids}, geometry=polys, crs=crs).to_file(paths["regions"])
    rows = []
    for i, poly in enumerate(polys):
        cx, cy = poly.centroid.coords[0]
        for j in range(3):
            category = ("shop", "park", "school")[(i + j) % 3]
            rows.append((category, f"a {category}", Point(cx + 10 * j, cy)))
    gpd.GeoDataFrame(rows, columns=["category", "text", "geometry"], crs=crs).to_file(paths["pois"])
    od = [(ids[i], ids[j], int(rng.integers(1, 9))) for i in range(9) for j in range(9) if i != j]
    pd.DataFrame(od, columns=["origin", "destination", "count"]).to_csv(paths["od"], index=False)
    return paths


def _config(small_city, tmp_path, monkeypatch, **flags):
    """The MuseCLConfig the job builds from a spec with ``flags`` (job-spec keys)."""
    import urbansig.models.musecl as musecl
    from urbansig.runtime import run_spec

    seen = []

    def capture(config, device):
        seen.append(config)
        raise ConfigCaptured

    monkeypatch.setattr(musecl, "MuseCL", capture)
    spec = JobSpec(
        task="embedregionsmusecl",
        inputs={k: str(v) for k, v in small_city.items()},
        params={"dim": 8, **flags},
        outputs={"output": str(tmp_path / "emb.gpkg")},
        device="cpu",
    )
    with pytest.raises(ConfigCaptured):
        run_spec(spec, Events(open("/dev/null", "w")))
    assert not (tmp_path / "emb.gpkg").exists()
    return seen[0]


@pytest.mark.parametrize(
    ("given", "expected"),
    [(True, True), (False, False), ("true", True), ("false", False), ("1", True), (0, False)],
)
def test_a_spec_flag_reaches_the_job_as_a_bool(small_city, tmp_path, monkeypatch, given, expected):
    config = _config(
        small_city,
        tmp_path,
        monkeypatch,
        finetune_heads=given,
        projection_head=given,
        modality_maps=given,
    )
    for key in ("finetune_heads", "projection_head", "modality_maps"):
        value = getattr(config, key)
        assert isinstance(value, bool) and value is expected, (key, given, value)


def test_left_out_flags_are_the_declared_defaults(small_city, tmp_path, monkeypatch):
    config = _config(small_city, tmp_path, monkeypatch)
    assert config.finetune_heads is False
    assert config.projection_head is True
    assert config.modality_maps is True


def test_a_flag_that_is_no_boolean_is_bad_input_naming_it(small_city, tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="FINETUNE_HEADS"):
        _config(small_city, tmp_path, monkeypatch, finetune_heads="maybe")


@pytest.mark.parametrize("search", ["auto", "exact", "approximate"])
def test_pair_search_reaches_the_model(small_city, tmp_path, monkeypatch, search):
    assert _config(small_city, tmp_path, monkeypatch, pair_search=search).pair_search == search
    assert _config(small_city, tmp_path, monkeypatch).pair_search == "auto"


def test_an_unknown_pair_search_is_bad_input_naming_it(small_city, tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="PAIR_SEARCH"):
        _config(small_city, tmp_path, monkeypatch, pair_search="fast")
