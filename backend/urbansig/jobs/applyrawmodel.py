"""Job ``applyrawmodel``: apply a trained RAW model to new trajectories: user embeddings,
home/work estimates, next-point forecasts, and optionally region embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from urbansig.jobs import Job
from urbansig.jobs.pooltrajectoriesraw import report_cleaning
from urbansig.models.raw import MARKOV_CELL_M  # home/work grid: the training job's default
from urbansig.protocol import BadInput, Events, JobSpec


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.io.regions import read_regions
    from urbansig.io.trajectories import read_points, trajectory_parameter
    from urbansig.models.raw import pipeline as pl
    from urbansig.models.raw import workflow as wf
    from urbansig.models.raw.method import RawModel
    from urbansig.training import resolve_device, seed_everything

    inputs, params, outputs = spec.inputs, spec.params, spec.outputs
    if bool(inputs.get("regions")) != bool(outputs.get("output")):
        raise BadInput("REGIONS and OUTPUT go together: give both to pool users into regions.")
    if not (outputs.get("output") or outputs.get("output_users") or outputs.get("output_points")):
        raise BadInput("Give at least one of OUTPUT_USERS, OUTPUT_POINTS or OUTPUT.")
    users_path = outputs.get("output_users")
    if users_path and not str(users_path).lower().endswith((".csv", ".gpkg")):
        raise BadInput("OUTPUT_USERS must be a .csv or .gpkg file.")
    device = resolve_device(spec.device)
    seed_everything(spec.seed)
    method = RawModel.load(inputs["model"], device=device)
    method.seed = spec.seed
    regions = None
    if inputs.get("regions"):
        regions = read_regions(inputs["regions"], id_field=params["id_field"])
    events.progress(0.02, "Reading trajectories")
    points, n_raw = read_points(
        inputs["trajectories"], params["user_field"], params["time_field"],
        params["assume_tz"], events,
    )  # fmt: skip
    x, y = pl.project(points.lon, points.lat, method.crs)
    points, x, y = pl.skip_outside(
        points, x, y, method.normaliser, events, trajectory_parameter(inputs["trajectories"])
    )
    if str(params["utc_offset"]).strip().lower() != "auto":
        method.utc_offset_s = pl.utc_offset(params["utc_offset"], points.lon)
    seq, clean, dropped = pl.sequences(
        points, x, y, method.step_s, method.max_gap_s, params["min_steps"]
    )
    report_cleaning(
        events, clean, dropped, params["min_steps"], trajectory_parameter(inputs["trajectories"])
    )
    run_metrics: dict[str, Any] = {"n_users": len(seq.user_ids)}
    events.progress(0.1, "Embedding users")
    embeddings = method.embed(seq, events.stage(0.1, 0.6))
    from urbansig.io.users import write_table
    from urbansig.io.vector import write_layer

    written: dict[str, str] = {}
    if outputs.get("output_points"):
        events.progress(0.6, "Forecasting next points")
        forecast = wf.forecast_table(method, seq, int(params["horizon_steps"]), MARKOV_CELL_M)
    if regions is not None:
        events.progress(0.8, "Pooling users into regions")
        layer = wf.pool(
            points, regions, seq, embeddings, method.step_s, params["pooling"],
            params["min_visits"], events, run_metrics,
        )  # fmt: skip
    events.check_cancelled()
    events.progress(0.9, "Writing outputs")
    if outputs.get("output_points"):
        written["output_points"] = str(write_layer(forecast, outputs["output_points"]))
    if users_path:
        held = np.zeros(len(seq.user_ids), dtype=bool)
        table = wf.user_table(
            seq, embeddings, held, method.utc_offset_s, MARKOV_CELL_M, ("applied", "applied")
        )
        written["output_users"] = str(write_table(table, users_path))
    if regions is not None:
        written["output"] = str(write_layer(layer, outputs["output"]))
    metrics = run_metrics | {
        "n_points": n_raw,
        "users_skipped": int(len(dropped)),
        "duplicate_times": clean.duplicate_times,
    }
    for name, value in metrics.items():
        events.metric(name, value if not isinstance(value, np.generic) else value.item())
    events.progress(1.0, "Done")
    return {"outputs": written, "metrics": metrics}


JOB = Job(
    task="applyrawmodel",
    summary="Apply a trained RAW model to trajectories: user embeddings and next-point forecasts",
    run=run,
)  # fmt: skip
