"""The tester's cases that are not one corrupted parameter, on the tiny city."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from cases import BASE, expand


def _run(task: str, city: Path, out: Path, capsys, **changes) -> tuple[int, list[dict]]:
    """Run ``task``'s base spec with ``changes`` ({section.key: value}); (exit code, events)."""
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_reported

    sections = {name: dict(BASE[task][name]) for name in ("inputs", "params", "outputs")}
    for target, value in changes.items():
        section, key = target.split("__")
        if value is None:
            sections[section].pop(key, None)
        else:
            sections[section][key] = value
    spec = JobSpec(
        task=task, device="cpu", **{k: expand(v, city, out) for k, v in sections.items()}
    )
    stream = io.StringIO()
    code = run_reported(lambda: spec, Events(stream=stream, min_interval=0.0))
    assert "Traceback" not in capsys.readouterr().err
    return code, [json.loads(line) for line in stream.getvalue().splitlines()]


def _error(events: list[dict]) -> str:
    errors = [e for e in events if e["event"] == "error"]
    assert errors, "the run succeeded"
    return errors[0]["message"]


@pytest.fixture()
def out(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def duplicated(city, tmp_path_factory) -> Path:
    """The regions with one region twice."""
    import geopandas as gpd
    import pandas as pd

    regions = gpd.read_file(city / "regions.gpkg")
    path = tmp_path_factory.mktemp("dup") / "regions_dup.gpkg"
    pd.concat([regions, regions.iloc[:1]]).to_file(path)
    return path


@pytest.mark.parametrize("task", ["pooltrajectoriesraw", "applyrawmodel"])
def test_duplicate_region_ids_are_refused(task, city, out, duplicated, capsys):
    code, events = _run(task, city, out, capsys, inputs__regions=str(duplicated))
    assert code == 2 and _error(events).startswith("ID_FIELD: region_id has 1 duplicate")
    assert list(out.iterdir()) == []


def test_auto_k_on_too_few_tiles_names_k_max(city, out, capsys, tmp_path):
    import geopandas as gpd

    few = tmp_path / "few.gpkg"
    gpd.read_file(city / "tiles.gpkg").iloc[:5].to_file(few)
    code, events = _run(
        "clustertraffictiles", city, out, capsys, inputs__tiles=str(few), params__n_clusters="auto"
    )
    assert code == 2 and "K_MAX" in _error(events)


def test_trained_model_with_other_feature_fields_is_refused(city, out, capsys):
    code, events = _run(
        "predictindicator",
        city,
        out,
        capsys,
        inputs__trained_model="{city}/ridge.pt",
        params__feature_fields="population",
    )
    assert code == 2 and _error(events).startswith("FEATURE_FIELDS: the TRAINED_MODEL")


def test_a_netmob_file_cut_short_is_named_with_the_tiles_missing(city, out, capsys, tmp_path):
    root = tmp_path / "netmob"
    shutil.copytree(city / "netmob", root)
    files = sorted((root / "Demoville").rglob("*.txt"))
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 3])
    code, events = _run(
        "clustertraffictiles", city, out, capsys, inputs__input=str(root), params__label_field=None
    )
    assert code == 0, _error(events)
    cut = [
        e["message"] for e in events if e["event"] == "warning" and files[0].name in e["message"]
    ]
    assert cut and "tiles" in cut[0]
    assert files[0].name in (out / "cc.html").read_text()


def test_an_existing_geopackage_keeps_its_other_layers(city, out, capsys):
    import pyogrio

    shared = out / "shared.gpkg"
    shutil.copy(city / "stations.gpkg", shared)
    target = f"{shared}|layername=grid"
    code, events = _run("createh3grid", city, out, capsys, outputs__output=target)
    assert code == 0
    assert sorted(str(r[0]) for r in pyogrio.list_layers(shared)) == ["grid", "stations"]


def test_a_region_twice_is_refused_for_training(city, out, duplicated, capsys):
    code, events = _run("predictindicator", city, out, capsys, inputs__input=str(duplicated))
    assert code == 2 and _error(events).startswith("INPUT: 1 regions repeat another region")
    assert list(out.iterdir()) == []
