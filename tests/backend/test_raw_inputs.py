"""RAW jobs' inputs: region ids that repeat are refused (one helper for every algorithm),
GeoLife folders reached through links are read, and messages name the parameter set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from urbansig.protocol import BadInput, Events, JobSpec

TINY = {"layers": 1, "width": 16, "heads": 2, "seq_len": 16, "epochs": 1, "batch_size": 64}
DUPLICATES = "ID_FIELD: {} has 2 duplicate values (e.g. {}); give a field that identifies each "


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_job(task: str, inputs: dict, params: dict, outputs: dict) -> tuple[dict, list[dict]]:
    from urbansig.runtime import run_spec

    stream = io.StringIO()
    spec = JobSpec(task=task, inputs=inputs, params=params, outputs=outputs, device="cpu")
    result = run_spec(spec, Events(stream, min_interval=0.0))
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """The tiny demo city, a RAW model trained on it, and its regions with repeated ids."""
    import geopandas as gpd

    from urbansig.synth import generate_city

    root = tmp_path_factory.mktemp("rawinputs")
    generate_city(root / "city", seed=0, size="tiny", days=2, n_users=12)
    inputs = {"trajectories": str(root / "city" / "trajectories.csv"),
              "regions": str(root / "city" / "regions.gpkg")}  # fmt: skip
    run_job("pooltrajectoriesraw", inputs, TINY,
            {"output": str(root / "raw.gpkg"), "output_model": str(root / "raw.pt")})  # fmt: skip
    regions = gpd.read_file(root / "city" / "regions.gpkg")
    regions.loc[1, "region_id"] = regions.loc[0, "region_id"]
    regions.loc[[3, 4], "region_id"] = regions.loc[2, "region_id"]
    regions.to_file(root / "repeated.gpkg", engine="pyogrio")
    regions.drop(columns="region_id").to_file(root / "no_id.gpkg", engine="pyogrio")
    return root


def duplicates_message(city: Path) -> str:
    import geopandas as gpd

    first = gpd.read_file(city / "city" / "regions.gpkg")["region_id"][0]
    return DUPLICATES.format("region_id", first) + "region once."


def test_check_unique_ids_counts_the_repeated_values():
    from urbansig.io.regions import check_unique_ids

    check_unique_ids(["a", "b", "c"], "zone")
    with pytest.raises(BadInput) as caught:
        check_unique_ids(["a", "b", "a", "c", "c", "c"], "zone")
    assert str(caught.value) == DUPLICATES.format("zone", "a") + "region once."


def test_every_region_reader_refuses_repeated_ids_with_the_same_message(city):
    import geopandas as gpd

    from urbansig.io.flows import region_ids
    from urbansig.io.musecl_inputs import read_numbered_regions
    from urbansig.io.regions import read_regions

    path = str(city / "repeated.gpkg")
    readers = (
        lambda: read_regions(path, id_field="region_id"),
        lambda: read_numbered_regions(path, "region_id"),
        lambda: region_ids(gpd.read_file(path), "region_id"),
    )
    for read in readers:
        with pytest.raises(BadInput) as caught:
            read()
        assert str(caught.value) == duplicates_message(city)


def test_both_raw_jobs_refuse_repeated_region_ids_and_write_nothing(city, tmp_path):
    out = tmp_path / "out.gpkg"
    trajectories = str(city / "city" / "trajectories.csv")
    jobs = (
        ("pooltrajectoriesraw", {"trajectories": trajectories}, TINY),
        ("applyrawmodel", {"trajectories": trajectories, "model": str(city / "raw.pt")}, {}),
    )
    for task, inputs, params in jobs:
        with pytest.raises(BadInput) as caught:
            run_job(task, {**inputs, "regions": str(city / "repeated.gpkg")}, params,
                    {"output": str(out)})  # fmt: skip
        assert str(caught.value) == duplicates_message(city), task
        with pytest.raises(BadInput, match="^ID_FIELD: land_use has .* duplicate values"):
            run_job(task, {**inputs, "regions": str(city / "city" / "regions.gpkg")},
                    {**params, "id_field": "land_use"}, {"output": str(out)})  # fmt: skip
        with pytest.raises(BadInput, match="^ID_FIELD: the regions have no field 'zone'"):
            run_job(task, {**inputs, "regions": str(city / "city" / "regions.gpkg")},
                    {**params, "id_field": "zone"}, {"output": str(out)})  # fmt: skip
    assert not out.exists()


def test_regions_without_the_default_id_field_are_pooled(city, tmp_path):
    import geopandas as gpd

    out = tmp_path / "out.gpkg"
    inputs = {"trajectories": str(city / "city" / "trajectories.csv"),
              "model": str(city / "raw.pt"), "regions": str(city / "no_id.gpkg")}  # fmt: skip
    run_job("applyrawmodel", inputs, {}, {"output": str(out)})
    assert len(gpd.read_file(out)) == len(gpd.read_file(city / "no_id.gpkg"))


def linked_geolife(city: Path, folder: Path) -> list[str]:
    """``folder`` whose user folders are links to the demo city's GeoLife users."""
    users = sorted(p.name for p in (city / "city" / "geolife").iterdir())[:6]
    folder.mkdir()
    for user in users:
        (folder / f"link_{user}").symlink_to(city / "city" / "geolife" / user)
    (folder / "loop").symlink_to(folder)  # a link back up is read once, not forever
    return [f"link_{user}" for user in users]


def test_applyrawmodel_follows_linked_user_folders_of_a_geolife_folder(city, tmp_path):
    import pandas as pd

    from urbansig.io.trajectories import read_trajectories

    users = linked_geolife(city, tmp_path / "geolife")
    frame, _ = read_trajectories(tmp_path / "geolife")
    assert sorted(frame["user_id"].unique()) == users
    out = tmp_path / "users.csv"
    inputs = {"trajectories": str(tmp_path / "geolife"), "model": str(city / "raw.pt")}
    _, events = run_job("applyrawmodel", inputs, {"min_steps": 1}, {"output_users": str(out)})
    assert sorted(pd.read_csv(out, dtype={"user_id": str})["user_id"]) == users
    told = [e["message"] for e in events if e["event"] in ("warning", "log")]
    geolife = [m for m in told if "GeoLife" in m or "points" in m]
    assert geolife and all(m.startswith("GEOLIFE_FOLDER: ") for m in geolife)


def test_geolife_messages_name_geolife_folder(city, tmp_path):
    from urbansig.io.trajectories import read_trajectories

    empty = tmp_path / "empty"
    empty.mkdir()
    inputs = {"trajectories": str(empty), "model": str(city / "raw.pt")}
    with pytest.raises(BadInput, match="^GEOLIFE_FOLDER: .* holds no .plt files"):
        run_job("applyrawmodel", inputs, {}, {"output_users": str(tmp_path / "users.csv")})
    (empty / "u1").mkdir()
    (empty / "u1" / "a.plt").write_text("not geolife\n")
    with pytest.raises(BadInput, match="^GEOLIFE_FOLDER: .*a.plt is not a GeoLife .plt file"):
        read_trajectories(empty)
    (empty / "u1" / "a.plt").unlink()
    (empty / "u1" / "a.plt").symlink_to(tmp_path / "missing.plt")
    with pytest.raises(BadInput, match="^GEOLIFE_FOLDER: cannot read .*a.plt"):
        read_trajectories(empty)


def test_trajectory_parameter_follows_the_kind_of_input(tmp_path):
    from urbansig.io.trajectories import trajectory_parameter

    (tmp_path / "points.gpkg").touch()
    assert trajectory_parameter(tmp_path) == "GEOLIFE_FOLDER"
    assert trajectory_parameter(tmp_path / "missing_folder") == "GEOLIFE_FOLDER"
    assert trajectory_parameter(tmp_path / "points.csv") == "TRAJECTORIES"
    assert trajectory_parameter(tmp_path / "points.gpkg") == "TRAJECTORY_LAYER"
