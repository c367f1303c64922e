"""Job ``embedregionsflows``: region embeddings from OD tables and per-region count tables.

Reads the regions (a layer or a plain table keyed by ID_FIELD), one or more OD tables (one
matrix per table and time slot) and optional count views, trains the flows encoder for a
fixed number of epochs (or applies a saved one) and writes the regions with ``emb_000 ...``,
the no-learning baseline ``base_000 ...`` and their trip totals, plus an optional model
file and HTML report.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.io.flows import FlowInputs
    from urbansig.io.vector import read_table
    from urbansig.models.flows import FlowData, FlowEmbedder, FlowSettings
    from urbansig.training import resolve_device, seed_everything

    inputs, params, outputs = spec.inputs, spec.params, spec.outputs
    device = resolve_device(spec.device)
    seed_everything(spec.seed)
    events.progress(0.0, "Reading the regions")
    regions = read_table(inputs["regions"], "REGIONS")
    if regions.empty:
        raise BadInput("REGIONS: the layer has no features.")
    found = FlowInputs()
    ids, od, views = _read_inputs(regions, inputs, params, found, events)
    for warning in found.warnings:
        events.warning(warning)
    data = FlowData(ids, od, views)
    events.log(
        f"{data.n_regions} regions, {od.shape[0]} OD matrices ({', '.join(found.slot_names)}), "
        f"{od.sum():g} trips; views: {', '.join(views) or 'none'}"
    )
    started = time.perf_counter()
    if inputs.get("trained_model"):
        model = FlowEmbedder.load(inputs["trained_model"], device, "TRAINED_MODEL")
        model.scalers.check(data, model.model.shape.n_slots)  # type: ignore[union-attr]
        train_seconds = 0.0
    else:
        settings = FlowSettings(
            dim=params["dim"], width=params["width"], epochs=params["epochs"], lr=params["lr"]
        )
        events.progress(0.1, "Training the flows encoder")
        model = FlowEmbedder(settings, device, spec.seed).fit(data, events.stage(0.1, 0.85))
        train_seconds = time.perf_counter() - started
    events.check_cancelled()
    events.progress(0.85, "Embedding the regions")
    embedding = model.transform(data)
    baseline = model.baseline(data)
    weights = model.view_weights(data)
    metrics = _metrics(model, data, found, embedding, train_seconds)
    for name, value in metrics.items():
        events.metric(name, value)
    events.progress(0.95, "Writing the outputs")
    if outputs.get("model_file") and not inputs.get("trained_model"):
        model.save(outputs["model_file"], {"training": {"regions": data.n_regions}})
    if outputs.get("report"):
        _report(spec, model, data, found, weights, metrics)
    _write_regions(regions, data, embedding, baseline, outputs["output"])
    events.progress(1.0, "Done")
    return {"outputs": {k: v for k, v in outputs.items() if v}, "metrics": metrics}


def _read_inputs(regions, inputs, params, found, events):
    from urbansig.io.flows import OdFields, read_od_matrices, read_views, region_ids, region_view

    id_field = params["id_field"]
    ids = region_ids(regions, id_field)
    fields = OdFields(
        params["origin_field"],
        params["destination_field"],
        params.get("count_field") or None,
        params.get("time_slot_field") or None,
    )
    events.progress(0.02, "Reading the OD tables")
    od = read_od_matrices(inputs["od"], ids, fields, found)
    events.check_cancelled()
    views = read_views(inputs.get("views") or [], ids, id_field, found)
    if params.get("view_fields"):
        names = [f.strip() for f in params["view_fields"].split(",") if f.strip()]
        views["region fields"] = region_view(regions, names, ids, found)
    return ids, od, views


def _metrics(model, data, found, embedding, train_seconds: float) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "n_regions": data.n_regions,
        "n_od_matrices": int(data.od.shape[0]),
        "trips": round(float(data.od.sum()), 3),
        "trips_outside_regions": round(found.trips_dropped, 3),
        "n_views": len(data.views),
        "embedding_columns": int(embedding.shape[1]),
        "train_seconds": round(train_seconds, 3),
    }
    if model.history is not None and model.history.train_loss:
        metrics["final_loss"] = round(float(model.history.train_loss[-1]), 5)
        metrics["first_loss"] = round(float(model.history.train_loss[0]), 5)
    if train_seconds:
        metrics["regions_per_s_train"] = round(data.n_regions / train_seconds, 2)
    return metrics


def _write_regions(regions, data, embedding: np.ndarray, baseline: np.ndarray, path: str) -> None:
    import geopandas as gpd
    import pandas as pd

    from urbansig.columns import BASELINE_PREFIX, embedding_columns
    from urbansig.io.vector import has_geometry, write_layer

    columns = dict(zip(embedding_columns(embedding.shape[1]), embedding.T.astype(np.float64)))
    names = embedding_columns(baseline.shape[1], BASELINE_PREFIX)
    columns.update(zip(names, baseline.T.astype(np.float64)))
    columns["trips_out"] = data.od.sum(axis=(0, 2))
    columns["trips_in"] = data.od.sum(axis=(0, 1))
    added = pd.DataFrame(columns, index=regions.index)
    frame = pd.concat([regions.drop(columns=[c for c in columns if c in regions]), added], axis=1)
    if has_geometry(regions):
        frame = gpd.GeoDataFrame(frame, geometry=regions.geometry.name, crs=regions.crs)
    write_layer(frame, path)


def _report(spec, model, data, found, weights: np.ndarray, metrics: dict[str, Any]) -> None:
    from urbansig.report import Report

    report = Report("Embed regions from mobility flows")
    report.section("Inputs")
    report.paragraph(
        f"{data.n_regions} regions; {data.od.shape[0]} OD matrices: "
        + "; ".join(found.slot_names)
        + ". Views: "
        + ("; ".join(f"{k} ({len(v)} fields)" for k, v in found.view_columns.items()) or "none")
        + "."
    )
    for warning in found.warnings:
        report.paragraph(f"Warning: {warning}")
    report.section("What the model learns")
    report.paragraph(
        "Each region is embedded from tokens: its outgoing and incoming trip shares per OD "
        "matrix and each count view (standardised, and on its count scale). Self-attention "
        "over the tokens is trained for a fixed number of epochs, with no downstream label, "
        "to predict where the region's trips go and come from, and to reconstruct its "
        "views. The emb_ columns are the learned block followed by the leading principal "
        "components of each view."
    )
    report.table(
        [
            {"token": name, "mean attention": float(weights[:, k].mean())}
            for k, name in enumerate(model.token_names[: weights.shape[1]])
        ],
        "Attention over the input tokens (mean over regions)",
    )
    if model.history is not None and model.history.train_loss:
        report.section("Training")
        report.figure(_loss_figure(model.history.train_loss), "loss", "Self-supervised loss")
    report.section("Baselines")
    report.paragraph(
        "On the public Chicago and San Francisco benchmarks the embeddings are compared with "
        "simple floors (PCA of the log OD matrix, log POI and land-use counts) in "
        "bench/RESULTS.md; chain this output with Predict indicator, whose report puts the "
        "baselines beside the embedding on your own labels."
    )
    report.section("Metrics")
    report.table([{"metric": k, "value": v} for k, v in metrics.items()])
    report.save(spec.outputs["report"])


def _loss_figure(loss: list[float]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.plot(np.arange(1, len(loss) + 1), loss)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


JOB = Job(
    task="embedregionsflows",
    summary="Region embeddings from OD tables (one matrix per slot) and per-region count tables",
    run=run,
)
