"""Job ``pooltrajectoriesraw``: pre-train a RAW trajectory transformer, embed users, pool them
into region embeddings, and evaluate next-point prediction and user labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec


def validate(spec: JobSpec) -> None:
    """Checks across parameters; each one's type and range the runtime checks from the table."""
    p = spec.params
    if p["width"] % p["heads"]:
        raise BadInput(f"WIDTH ({p['width']}) must be a multiple of HEADS ({p['heads']}).")
    if p["max_gap_minutes"] < p["step_minutes"]:
        raise BadInput("MAX_GAP_MINUTES must be at least STEP_MINUTES.")
    if p["seq_len"] < p["horizon_steps"] + 2:
        raise BadInput("SEQ_LEN must exceed HORIZON_STEPS by at least 2 (context for rollouts).")
    if spec.inputs.get("user_labels") and not p.get("label_field"):
        raise BadInput("LABEL_FIELD: give the field of USER_LABELS that holds the user labels.")
    users = spec.outputs.get("output_users")
    if users and not str(users).lower().endswith((".csv", ".gpkg")):
        raise BadInput("OUTPUT_USERS must be a .csv or .gpkg file.")


def settings(params: dict[str, Any]):
    """RAW's sizes and training settings from the job's parameters."""
    from urbansig.models.raw.method import RawSettings

    return RawSettings(
        seq_len=params["seq_len"], layers=params["layers"], width=params["width"],
        heads=params["heads"], epochs=params["epochs"], lr=params["lr"],
        warmup=params["warmup"], batch_size=params["batch_size"],
        horizons=params["horizon_steps"],
    )  # fmt: skip


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    import torch

    from urbansig.io.regions import read_regions
    from urbansig.io.trajectories import read_points, trajectory_parameter
    from urbansig.io.users import read_labels
    from urbansig.models.raw import pipeline as pl
    from urbansig.models.raw import workflow as wf
    from urbansig.models.raw.method import RawData, RawModel
    from urbansig.training import resolve_device, seed_everything

    validate(spec)
    inputs, params, outputs = spec.inputs, spec.params, spec.outputs
    device = resolve_device(spec.device)
    generator = seed_everything(spec.seed)
    loaded = RawModel.load(inputs["model"], device=device) if inputs.get("model") else None
    resume = loaded is not None and bool(params["continue_training"])
    if loaded is not None:
        if params["seq_len"] != loaded.seq_len:
            events.log(f"SEQ_LEN: using the model's sequence length {loaded.seq_len}.")
            params["seq_len"] = loaded.seq_len
        horizons = loaded.model.config.horizons if loaded.model is not None else 0
        if params["horizon_steps"] > horizons:
            events.log(f"HORIZON_STEPS: the model forecasts up to {horizons} steps; using that.")
            params["horizon_steps"] = horizons
    elif params["continue_training"]:
        raise BadInput("CONTINUE_TRAINING: give the MODEL to continue training from.")
    events.progress(0.0, "Reading regions")
    regions = read_regions(inputs["regions"], id_field=params["id_field"])
    labels_path = inputs.get("user_labels")
    events.progress(0.02, "Reading trajectories")
    points, n_raw = read_points(
        inputs["trajectories"], params["user_field"], params["time_field"],
        params["assume_tz"], events,
    )  # fmt: skip
    if loaded is not None:
        method = loaded
        if method.step_s != int(params["step_minutes"] * 60):
            events.warning(
                f"STEP_MINUTES: using the model's step of {method.step_s // 60} minutes."
            )
    else:
        settings_ = settings(params)
        settings_.checkpoint = outputs.get("checkpoint")
        method = RawModel(
            settings_,
            step_s=int(params["step_minutes"] * 60),
            max_gap_s=int(params["max_gap_minutes"] * 60),
            utc_offset_s=pl.utc_offset(params["utc_offset"], points.lon),
            device=device,
            seed=spec.seed,
            generator=generator,
        )
    if loaded is not None and not resume:
        crs = loaded.crs
    else:  # a model reads positions relative to its windows: it trains on in any city
        crs = pl.choose_crs(points.lon, points.lat)
    x, y = pl.project(points.lon, points.lat, crs)
    if loaded is not None and not resume:
        loaded.normaliser.check_fits(x, y, "MODEL")
    if resume:
        method.warm_start = True
        method.settings.epochs, method.settings.lr = params["epochs"], params["lr"]
        method.settings.warmup, method.settings.batch_size = params["warmup"], params["batch_size"]
        method.settings.checkpoint = outputs.get("checkpoint")
        method.seed, method.generator = spec.seed, generator
    labels = None
    if labels_path:
        labels = read_labels(labels_path, params["label_field"], points.user_ids)
    events.check_cancelled()
    events.progress(0.05, "Resampling trajectories")
    seq, clean, dropped = pl.sequences(
        points, x, y, method.step_s, method.max_gap_s, params["min_steps"]
    )
    report_cleaning(
        events, clean, dropped, params["min_steps"], trajectory_parameter(inputs["trajectories"])
    )
    holdout = wf.split_users(len(seq.user_ids), params["holdout_fraction"], spec.seed)
    evaluation = wf.Evaluation()
    run_metrics = evaluation.metrics
    run_metrics["n_users"] = len(seq.user_ids)
    run_metrics["n_users_holdout"] = int(holdout.sum())
    if loaded is None or resume:
        train = RawData(seq.select(np.flatnonzero(~holdout)), crs)
        method.fit(train, events.stage(0.08, 0.75))
        run_metrics.update(method.metrics)
    embeddings = method.embed(seq, events.stage(0.75, 0.85))
    events.progress(0.85, "Evaluating forecasts")
    wf.evaluate_forecasts(
        method, seq, pl.fixes(points, x, y, seq), holdout, params["horizon_steps"],
        params["markov_cell_m"], params["truth_tolerance_minutes"] * 60.0, evaluation,
    )  # fmt: skip
    kept_labels = None
    if labels is not None:
        kept_labels = labels[np.searchsorted(points.user_ids, seq.user_ids)]
        wf.evaluate_labels(
            seq, embeddings, kept_labels, method.utc_offset_s, params["markov_cell_m"],
            spec.seed, events, evaluation,
        )  # fmt: skip
    events.check_cancelled()
    events.progress(0.9, "Pooling users into regions")
    region_layer = wf.pool(
        points, regions, seq, embeddings, method.step_s, params["pooling"],
        params["min_visits"], events, run_metrics,
    )  # fmt: skip
    metrics = run_metrics | {
        "n_points": n_raw,
        "duplicate_times": clean.duplicate_times,
        "unsorted_rows": clean.unsorted_rows,
        "users_skipped": int(len(dropped)),
    }
    for name, value in metrics.items():
        events.metric(name, value)
    events.progress(0.95, "Writing outputs")
    users = None
    if outputs.get("output_users"):
        users = wf.user_table(
            seq, embeddings, holdout, method.utc_offset_s, params["markov_cell_m"],
            labels=kept_labels,
        )  # fmt: skip
    method.training = {
        "n_points": n_raw,
        "n_users": len(seq.user_ids),
        "train_loss": method.history.train_loss if method.history else [],
        "torch_version": torch.__version__,
    }
    with torch.no_grad():
        written = write(method, region_layer, users, outputs, evaluation)
    events.progress(1.0, "Done")
    return {"outputs": written, "metrics": metrics}


def write(method, region_layer, users, outputs, evaluation) -> dict[str, str]:
    """The region layer, and when asked the user table, the model file and the report."""
    from urbansig.io.users import write_table
    from urbansig.io.vector import write_layer
    from urbansig.models.raw import workflow as wf

    written = {"output": str(write_layer(region_layer, outputs["output"]))}
    if users is not None:
        written["output_users"] = str(write_table(users, outputs["output_users"]))
    if outputs.get("output_model"):
        path = method.save(outputs["output_model"], evaluation.metrics)
        written["output_model"] = str(path)
    if outputs.get("output_report"):
        rep = wf.report(method, evaluation, evaluation.metrics)
        written["output_report"] = str(rep.save(outputs["output_report"]))
    if outputs.get("checkpoint"):
        written["checkpoint"] = outputs["checkpoint"]
    return written


def report_cleaning(events, clean, dropped: np.ndarray, min_steps: int, source: str) -> None:
    """Warnings on what resampling dropped; ``source`` names the trajectory parameter."""
    if clean.duplicate_times:
        events.warning(
            f"{source}: {clean.duplicate_times} points repeat a user's timestamp; "
            "the last of each was kept."
        )
    if clean.unsorted_rows:
        events.log(f"{source}: {clean.unsorted_rows} points were out of order and sorted.")
    if len(dropped):
        shown = ", ".join(map(str, dropped[:5])) + (" ..." if len(dropped) > 5 else "")
        events.warning(
            f"MIN_STEPS: skipped {len(dropped)} users with fewer than {min_steps} observed "
            f"steps ({shown})."
        )


JOB = Job(
    task="pooltrajectoriesraw",
    summary="Pre-train a trajectory transformer (RAW), embed users and pool them into regions",
    run=run,
)  # fmt: skip
