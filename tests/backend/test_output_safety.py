"""Outputs never destroy a user's file: inputs, folders, other layers, half-finished runs."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest


def _regions(path: Path, layer: str = "regions") -> Path:
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(0)
    n = 40
    features = rng.normal(size=(n, 3))
    frame = gpd.GeoDataFrame(
        {f"emb_{k}": features[:, k] for k in range(3)},
        geometry=[shapely.Point(116 + i * 0.01, 40) for i in range(n)],
        crs="EPSG:4326",
    )
    frame["region_id"] = np.arange(n)
    frame["target"] = 10 + features @ [3.0, -2.0, 1.0] + rng.normal(0, 0.3, n)
    frame.to_file(path, layer=layer, engine="pyogrio")
    return path


def _spec(inputs: dict, outputs: dict, **params):
    from urbansig.protocol import JobSpec

    return JobSpec(
        task="predictindicator",
        inputs={k: str(v) for k, v in inputs.items()},
        params={"target_field": "target", "model": "ridge", "baselines": False, **params},
        outputs={k: str(v) for k, v in outputs.items()},
        device="cpu",
    )


def _run(spec):
    from urbansig.protocol import Events
    from urbansig.runtime import run_spec

    return run_spec(spec, Events(stream=io.StringIO()))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("output", "spelling"),
    [
        ("output", lambda p: p),
        ("model_file", lambda p: p),
        ("report", lambda p: p.parent / "." / p.name),
        ("output", lambda p: p.parent / "link.gpkg"),
    ],
)
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, output, spelling):
    from urbansig.protocol import BadInput

    source = _regions(tmp_path / "in.gpkg")
    (tmp_path / "link.gpkg").symlink_to(source)
    before = _digest(source)
    outputs = {"output": tmp_path / "out.gpkg", output: spelling(source)}
    with pytest.raises(BadInput, match=rf"^{output.upper()}: .* is also the input INPUT"):
        _run(_spec({"input": source}, outputs))
    assert _digest(source) == before
    assert _files(tmp_path) == ["in.gpkg", "link.gpkg"]


def test_an_existing_folder_is_refused_and_kept(tmp_path):
    from urbansig.protocol import BadInput

    source = _regions(tmp_path / "in.gpkg")
    folder = tmp_path / "report.html"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    spec = _spec({"input": source}, {"output": tmp_path / "out.gpkg", "report": folder})
    with pytest.raises(BadInput, match="^REPORT: .* is an existing folder"):
        _run(spec)
    assert (folder / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "out.gpkg").exists()


def test_two_outputs_on_one_file_are_refused(tmp_path):
    from urbansig.protocol import BadInput

    source = _regions(tmp_path / "in.gpkg")
    spec = _spec(
        {"input": source}, {"output": tmp_path / "out.gpkg", "model_file": tmp_path / "out.gpkg"}
    )
    with pytest.raises(BadInput, match="^MODEL_FILE: .* is also the output OUTPUT"):
        _run(spec)


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path):
    from urbansig.io.output_checks import writable
    from urbansig.protocol import BadInput

    read_only = Path("/sys")  # not writable even for root
    assert not writable(read_only)
    source = _regions(tmp_path / "in.gpkg")
    spec = _spec({"input": source}, {"output": tmp_path / "out.gpkg", "report": "/sys/r.html"})
    with pytest.raises(BadInput, match="^REPORT: cannot write in /sys"):
        _run(spec)
    assert _files(tmp_path) == ["in.gpkg"]


def test_a_file_that_is_not_a_geopackage_is_not_replaced(tmp_path):
    from urbansig.protocol import BadInput

    source = _regions(tmp_path / "in.gpkg")
    notes = tmp_path / "notes.gpkg"
    notes.write_text("not a database")
    with pytest.raises(BadInput, match="^OUTPUT: .* not a readable GeoPackage"):
        _run(_spec({"input": source}, {"output": notes}))
    assert notes.read_text() == "not a database"


def test_an_existing_geopackage_keeps_its_other_layers(tmp_path):
    import pyogrio

    from urbansig.io.vector import read_layer

    source = _regions(tmp_path / "in.gpkg")
    shared = _regions(tmp_path / "shared.gpkg", layer="keep_me")
    result = _run(_spec({"input": source}, {"output": f"{shared}|layername=predicted"}))
    layers = sorted(str(row[0]) for row in pyogrio.list_layers(shared))
    assert layers == ["keep_me", "predicted"]
    assert len(read_layer(f"{shared}|layername=keep_me")) == 40
    assert "prediction" in read_layer(f"{shared}|layername=predicted").columns
    assert result["outputs"]["output"] == f"{shared}|layername=predicted"
    _run(_spec({"input": source}, {"output": f"{shared}|layername=predicted"}))  # replaced
    assert sorted(str(row[0]) for row in pyogrio.list_layers(shared)) == layers


def test_a_failure_while_writing_leaves_no_output_at_all(tmp_path, monkeypatch):
    """The model file is written after the layer; when it fails, the layer is not kept."""
    from urbansig.models import serialization

    source = _regions(tmp_path / "in.gpkg")
    previous = tmp_path / "out.gpkg"
    previous.write_bytes((tmp_path / "in.gpkg").read_bytes())
    before = _digest(previous)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / ".model.partial-1.pt"))

    monkeypatch.setattr(serialization.torch, "save", disk_full)
    spec = _spec(
        {"input": source},
        {"output": previous, "model_file": tmp_path / "model.pt", "report": tmp_path / "r.html"},
    )
    from urbansig.protocol import BadInput

    with pytest.raises(BadInput, match="^MODEL_FILE: cannot write .*No space left on device"):
        _run(spec)
    assert _digest(previous) == before
    assert _files(tmp_path) == ["in.gpkg", "out.gpkg"]


def test_transaction_moves_everything_or_nothing(tmp_path):
    from urbansig.io.atomic import atomic_path, output_transaction

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError):
        with output_transaction():
            with atomic_path(a) as tmp:
                tmp.write_text("new a")
            raise RuntimeError("the second output failed")
    assert a.read_text() == "old a" and _files(tmp_path) == ["a.txt"]
    with output_transaction():
        for target in (a, b):
            with atomic_path(target) as tmp:
                tmp.write_text("new")
        assert a.read_text() == "old a" and not b.exists()
    assert a.read_text() == b.read_text() == "new"
    assert _files(tmp_path) == ["a.txt", "b.txt"]


def test_the_child_removes_its_spec_file_once_read(tmp_path, run_cli):
    spec_path = tmp_path / "spec.json"
    spec = _spec({"input": _regions(tmp_path / "in.gpkg")}, {"output": tmp_path / "out.gpkg"})
    spec_path.write_text(json.dumps(spec.to_dict()))
    done = run_cli("run", str(spec_path), "--remove-spec")
    assert done.returncode == 0, done.stderr
    assert not spec_path.exists()
    assert (tmp_path / "out.gpkg").is_file()
