"""The ``embedregionsflows`` job end to end in the backend: tables in, embedded regions out."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

N_REGIONS = 12
FAST = {"id_field": "region_id", "epochs": 40, "dim": 8, "width": 16}


def _city(folder, slots: bool = False, stray: bool = False) -> dict[str, object]:
    """A small city as CSV tables: two commuting groups, POI counts per region."""
    rng = np.random.default_rng(0)
    ids = np.arange(1, N_REGIONS + 1)
    pd.DataFrame({"region_id": ids, "area": rng.uniform(1, 3, N_REGIONS)}).to_csv(
        folder / "regions.csv", index=False
    )
    rows = []
    for o in ids:
        for d in ids:
            same = (o <= N_REGIONS // 2) == (d <= N_REGIONS // 2)
            trips = int(rng.poisson(30 if same else 3))
            if slots:
                rows += [(o, d, trips, "am"), (d, o, trips // 2 + 1, "pm")]
            else:
                rows.append((o, d, trips, ""))
    if stray:
        rows.append((999, 1, 50, "am" if slots else ""))
    od = pd.DataFrame(rows, columns=["origin", "destination", "count", "slot"])
    if not slots:
        od = od.drop(columns="slot")
    od.to_csv(folder / "od.csv", index=False)
    poi = pd.DataFrame(rng.poisson(5, (N_REGIONS, 4)), columns=[f"poi_{k}" for k in range(4)])
    poi.insert(0, "region_id", [f"{i}.0" for i in ids])  # ids written as floats elsewhere
    poi.to_csv(folder / "poi.csv", index=False)
    return {
        "regions": str(folder / "regions.csv"),
        "od": [str(folder / "od.csv")],
        "views": [str(folder / "poi.csv")],
    }


def _run(inputs, outputs, params=None, seed=0):
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    stream = io.StringIO()
    spec = JobSpec(
        task="embedregionsflows",
        inputs=inputs,
        params={**FAST, **(params or {})},
        outputs={k: str(v) for k, v in outputs.items()},
        device="cpu",
        seed=seed,
    )
    result = run_spec(spec, Events(stream=stream))
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return result, events


def _embedding(path) -> np.ndarray:
    from urbansig.io.vector import read_table

    frame = read_table(path)
    columns = [c for c in frame.columns if c.startswith("emb_")]
    return frame[columns].to_numpy(dtype=np.float64)


def test_plain_tables_in_plain_table_out_with_report_and_model(tmp_path):
    from urbansig.io.vector import has_geometry, read_table

    inputs = _city(tmp_path)
    out = tmp_path / "embedded.csv"
    result, events = _run(
        inputs, {"output": out, "report": tmp_path / "r.html", "model_file": tmp_path / "m.pt"}
    )
    frame = read_table(out)
    assert not has_geometry(frame)
    assert frame["region_id"].tolist() == list(range(1, N_REGIONS + 1))
    emb = _embedding(out)
    assert emb.shape[0] == N_REGIONS and emb.shape[1] >= FAST["dim"]
    assert np.isfinite(emb).all() and emb.std(axis=0).min() > 0
    od = pd.read_csv(tmp_path / "od.csv")
    assert frame["trips_out"].tolist() == od.groupby("origin")["count"].sum().tolist()
    assert frame["trips_in"].tolist() == od.groupby("destination")["count"].sum().tolist()
    metrics = result["metrics"]
    assert metrics["n_regions"] == N_REGIONS and metrics["n_views"] == 1
    assert metrics["final_loss"] < metrics["first_loss"]
    assert (tmp_path / "m.pt").stat().st_size > 0
    report = (tmp_path / "r.html").read_text()
    assert "Attention over the input tokens" in report and "poi" in report
    assert any(e["event"] == "progress" for e in events)
    # the poi table's ids "1.0" join the regions' 1: no region counted as missing
    assert not any("no row" in e.get("message", "") for e in events if e["event"] == "warning")


def test_time_slots_give_one_matrix_each_and_stray_ids_warn(tmp_path):
    inputs = _city(tmp_path, slots=True, stray=True)
    result, events = _run(inputs, {"output": tmp_path / "o.gpkg"}, {"time_slot_field": "slot"})
    assert result["metrics"]["n_od_matrices"] == 2
    assert result["metrics"]["trips_outside_regions"] == 50
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert any("50 trips" in w and "outside the regions" in w for w in warnings)


def test_seed_is_deterministic_and_trained_model_reproduces(tmp_path):
    inputs = _city(tmp_path)
    _run(inputs, {"output": tmp_path / "a.csv", "model_file": tmp_path / "m.pt"})
    _run(inputs, {"output": tmp_path / "b.csv"})
    np.testing.assert_allclose(_embedding(tmp_path / "a.csv"), _embedding(tmp_path / "b.csv"))
    result, _ = _run(
        {**inputs, "trained_model": str(tmp_path / "m.pt")}, {"output": tmp_path / "c.csv"}
    )
    assert result["metrics"]["train_seconds"] == 0
    np.testing.assert_allclose(
        _embedding(tmp_path / "a.csv"), _embedding(tmp_path / "c.csv"), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"params": {"id_field": "zone"}}, "ID_FIELD: the regions have no field 'zone'"),
        ({"params": {"origin_field": "from"}}, "ORIGIN_FIELD: .* has no field .from."),
        ({"views": "missing.csv"}, "VIEWS: "),
        ({"params": {"view_fields": "nope"}}, "VIEW_FIELDS: the regions have no field nope"),
    ],
)
def test_bad_input_names_the_parameter_and_writes_nothing(tmp_path, change, needle):
    from urbansig.protocol import BadInput

    inputs = _city(tmp_path)
    if "views" in change:
        inputs["views"] = [str(tmp_path / change["views"])]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(BadInput, match=needle):
        _run(inputs, {"output": tmp_path / "o.gpkg"}, change.get("params"))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # inputs untouched, no output, no temporary file left


def test_trained_model_refuses_other_views(tmp_path):
    from urbansig.protocol import BadInput

    inputs = _city(tmp_path)
    _run(inputs, {"output": tmp_path / "a.csv", "model_file": tmp_path / "m.pt"})
    with pytest.raises(BadInput, match="VIEWS: the model was trained with views"):
        _run(
            {**inputs, "views": [], "trained_model": str(tmp_path / "m.pt")},
            {"output": tmp_path / "c.csv"},
        )


def test_baseline_columns_are_the_benchmarks_floor(tmp_path):
    """base_ columns: PCA 16 of the z-scored log inputs (as sklearn's PCA gives them, up to
    sign) followed by the count-intensity columns, whatever the seed."""
    from sklearn.decomposition import PCA

    from urbansig.io.vector import read_table
    from urbansig.models.flows import FlowSettings

    inputs = _city(tmp_path)
    frames = []
    for seed in (0, 1):
        out = tmp_path / f"embedded_{seed}.gpkg"
        _run(inputs, {"output": out}, seed=seed)
        frames.append(read_table(out))
    base = [c for c in frames[0].columns if c.startswith("base_")]
    first = frames[0][base].to_numpy(float)
    np.testing.assert_allclose(first, frames[1][base].to_numpy(float), atol=1e-9)
    od = pd.read_csv(tmp_path / "od.csv")
    matrix = np.zeros((N_REGIONS, N_REGIONS))
    np.add.at(matrix, (od["origin"] - 1, od["destination"] - 1), od["count"])
    poi = pd.read_csv(tmp_path / "poi.csv").drop(columns="region_id").to_numpy(float)
    x = np.log1p(np.hstack([matrix, matrix.T, poi]))
    z = (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)
    expected = PCA(min(16, N_REGIONS), random_state=0).fit_transform(z)
    k = expected.shape[1]
    for j in range(k - 1):  # the last component of 12 centred rows is numerically zero
        np.testing.assert_allclose(np.abs(first[:, j]), np.abs(expected[:, j]), atol=1e-6)
    intensity = _embedding(tmp_path / "embedded_0.gpkg")[:, FAST["dim"] :]
    np.testing.assert_allclose(first[:, k:], intensity / FlowSettings().intensity_scale, atol=1e-9)
