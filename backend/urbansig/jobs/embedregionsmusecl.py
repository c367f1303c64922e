"""Job ``embedregionsmusecl``: MuseCL multi-semantic contrastive region embeddings.

Reads a region layer (or a plain table of ids, for the non-image modalities) and any two or
more modalities (remote-sensing raster, street-view images, POIs, OD flows or in/out
fields, per-region count tables; the readers are :mod:`urbansig.io.musecl_inputs`), trains
MuseCL (or applies a saved model) and writes the regions with ``emb_000 ...`` (fused),
``base_000 ...`` (the fused modalities side by side), per-modality attention weights,
per-region counts and a ``no_data`` flag, plus an optional model file and HTML report.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from urbansig.io.musecl_inputs import read_numbered_regions
from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.io.musecl_inputs import read_modalities
    from urbansig.models.musecl import MuseCL, MuseCLConfig
    from urbansig.training import resolve_device, seed_everything

    inputs, params, outputs = spec.inputs, spec.params, spec.outputs
    device = resolve_device(spec.device)
    seed_everything(spec.seed)
    _check_params(params)
    events.progress(0.0, "Reading the regions")
    regions = read_numbered_regions(inputs["regions"], params["id_field"])
    model = None
    if inputs.get("model"):
        model = MuseCL.load(inputs["model"], device, "MODEL")
        wanted = (*model.fused, model.target)
    else:
        wanted = tuple(m.strip() for m in (params["modalities"] or "").split(",") if m.strip())
    data, notes = read_modalities(regions, inputs, params, wanted, events.stage(0.0, 0.2))
    ablation_field = params.get("ablation_field") or ""
    if ablation_field and ablation_field not in regions.columns:
        raise BadInput(
            f"ABLATION_FIELD: the regions have no field {ablation_field!r}; "
            f"fields are {', '.join(c for c in regions.columns if c != 'geometry')}."
        )
    if model is None:
        config = MuseCLConfig(
            dim=params["dim"],
            modalities=wanted,
            epochs_image=params["epochs_image"],
            epochs_tabular=params["epochs_tabular"],
            epochs_fusion=params["epochs_fusion"],
            epochs_text=params["epochs_text"],
            batch_image=params["batch_image"],
            batch_tabular=params["batch_tabular"],
            batch_fusion=params["batch_fusion"],
            lr=params["lr"],
            margin=params["margin"],
            temperature=params["temperature"],
            image_size=params["image_size"],
            encoder_size=params["encoder_size"],
            finetune_heads=params["finetune_heads"],
            fusion_triplet_weight=params["fusion_triplet_weight"],
            projection_head=params["projection_head"],
            modality_maps=params["modality_maps"],
            beta_entropy=params["beta_entropy"],
            flow_encoder=params["flow_encoder"],
            pair_search=params["pair_search"],
            max_images_per_epoch=params["images_per_epoch"],
            seed=spec.seed,
        )
        model = MuseCL(config, device)
        model.prepare(data)  # checks the modalities and settings against the data first
        _load_pretrained(model, inputs)
        events.log(f"Modalities fused: {', '.join(model.fused)}; aligned to: {model.target}")
        started = time.perf_counter()
        model.fit_prepared(data, events.stage(0.2, 0.8))
        train_seconds = time.perf_counter() - started
    else:
        model.check_inputs(data, "MODEL")
        train_seconds = 0.0
    events.progress(0.8, "Embedding the regions")
    started = time.perf_counter()
    result = model.transform(data)
    embed_seconds = time.perf_counter() - started
    events.check_cancelled()
    ablation_rows: list[dict[str, Any]] = []
    if ablation_field:
        ablation_rows = _ablation(model, result, regions, ablation_field, params, spec.seed, events)
    metrics = _metrics(model, result, data.n, train_seconds, embed_seconds, ablation_rows)
    for name, value in metrics.items():
        events.metric(name, value)
    events.progress(0.95, "Writing the outputs")
    _write_outputs(spec, regions, model, result, ablation_rows, ablation_field, notes, metrics)
    events.progress(1.0, "Done")
    return {"outputs": {k: v for k, v in outputs.items() if v}, "metrics": metrics}


# ------------------------------------------------------------------ inputs
def _check_params(params: dict[str, Any]) -> None:
    positive = (
        "dim",
        "epochs_image",
        "epochs_tabular",
        "epochs_fusion",
        "epochs_text",
        "batch_image",
        "batch_tabular",
        "batch_fusion",
        "n_clusters",
        "images_per_epoch",
        "ablation_repeats",
    )
    for name in positive:
        if int(params[name]) < 1:
            raise BadInput(f"{name.upper()} must be at least 1, not {params[name]}.")
    if params["batch_fusion"] < 2:
        raise BadInput("BATCH_FUSION must be at least 2 (InfoNCE contrasts the mini-batch).")
    if not 0 < params["temperature"] <= 10:
        raise BadInput(f"TEMPERATURE must be in (0, 10], not {params['temperature']}.")
    if not 0 <= params["margin"] <= 2:
        raise BadInput(f"MARGIN must be in [0, 2] (cosine similarities), not {params['margin']}.")
    if params["fusion_triplet_weight"] < 0:
        raise BadInput("FUSION_TRIPLET_WEIGHT must not be negative.")
    if params["beta_entropy"] < 0:
        raise BadInput("BETA_ENTROPY must not be negative.")
    if params["lr"] <= 0:
        raise BadInput(f"LR must be positive, not {params['lr']}.")
    if not 16 <= params["image_size"] <= 512:
        raise BadInput(f"IMAGE_SIZE must be between 16 and 512, not {params['image_size']}.")


def _load_pretrained(model, inputs) -> None:
    from urbansig.models.musecl.encoders import load_backbone_weights

    for modality, key in (("rs", "rs_weights"), ("sv", "sv_weights")):
        if inputs.get(key):
            if modality not in model.encoders:
                raise BadInput(f"{key.upper()}: given, but the {modality} modality is not used.")
            load_backbone_weights(model.encoders[modality], inputs[key], key.upper())


# ----------------------------------------------------------------- outputs
def _ablation(model, result, regions, field, params, seed, events):
    import pandas as pd

    from urbansig.models.musecl.ablation import ablation_variants, run_ablation

    target = np.array(pd.to_numeric(regions[field], errors="coerce"), dtype=float)
    target[result["no_data"]] = np.nan
    if np.isfinite(target).sum() < 10:
        raise BadInput(f"ABLATION_FIELD: fewer than 10 regions have a value in {field!r}.")
    variants = ablation_variants(result, model.fused)
    models = tuple(m.strip() for m in params["ablation_models"].split(",") if m.strip())
    unknown = [m for m in models if m not in ("mlp", "ridge", "gbm")]
    if unknown or not models:
        raise BadInput(f"ABLATION_MODELS: choose among mlp, ridge, gbm (got {unknown or 'none'}).")
    coords = None
    return run_ablation(
        variants,
        target,
        coords=coords,
        split="random",
        repeats=params["ablation_repeats"],
        seed=seed,
        models=models,
        events=events.stage(0.85, 0.95),
    )


def _metrics(model, result, n, train_seconds, embed_seconds, rows) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "n_regions": n,
        "n_no_data": int(result["no_data"].sum()),
        "modalities": ",".join((*model.fused, model.target)),
        "train_seconds": round(train_seconds, 3),
        "embed_seconds": round(embed_seconds, 3),
        "regions_per_s_embed": round(n / max(embed_seconds, 1e-9), 1),
    }
    if train_seconds:
        metrics["regions_per_s_train"] = round(n / train_seconds, 2)
    for name, history in model.summary.histories.items():
        if history.train_loss:
            metrics[f"loss_{name}"] = round(history.train_loss[-1], 5)
    for m, beta in result["betas"].items():
        metrics[f"mean_beta_{m}"] = round(float(beta[~result["no_data"]].mean()), 4)
    for row in rows:
        if row["model"] == rows[0]["model"]:
            metrics[f"r2_{row['variant'].replace('single: ', '')}"] = round(row["r2_mean"], 4)
    return metrics


def _write_outputs(spec, regions, model, result, rows, field, notes, metrics) -> None:
    import geopandas as gpd
    import pandas as pd

    from urbansig.columns import BASELINE_PREFIX, CLUSTER, embedding_columns
    from urbansig.io.vector import has_geometry, write_layer
    from urbansig.models.musecl.figures import pca_kmeans

    params, outputs = spec.params, spec.outputs
    emb = result["embedding"]
    labels, pca = pca_kmeans(emb, ~result["no_data"], params["n_clusters"], spec.seed)
    columns: dict[str, np.ndarray] = dict(
        zip(embedding_columns(emb.shape[1]), emb.T.astype(np.float64))
    )
    side_by_side = np.hstack([result["modalities"][m] for m in model.fused])
    columns.update(zip(embedding_columns(side_by_side.shape[1], BASELINE_PREFIX), side_by_side.T))
    for m, beta in result["betas"].items():
        columns[f"beta_{m}"] = beta.astype(np.float64)
    columns["n_images"] = result["n_images"].astype(np.int64)
    columns["n_pois"] = result["n_pois"].astype(np.int64)
    for m, valid in result["valid"].items():
        columns[f"has_{m}"] = valid.astype(np.int64)
    columns["no_data"] = result["no_data"].astype(np.int64)
    columns[CLUSTER] = labels
    taken = [c for c in columns if c in regions.columns]
    added = pd.DataFrame(columns, index=regions.index)
    frame = pd.concat([regions.drop(columns=taken), added], axis=1)
    if has_geometry(regions):
        frame = gpd.GeoDataFrame(frame, geometry=regions.geometry.name, crs=regions.crs)
    if outputs.get("output_model") and not spec.inputs.get("model"):
        model.save(outputs["output_model"])  # with the number of training regions
    if outputs.get("output_report"):
        _report(spec, regions, model, result, labels, pca, rows, field, notes, metrics)
    write_layer(frame, outputs["output"])


def _report(spec, regions, model, result, labels, pca, rows, field, notes, metrics) -> None:
    from urbansig.io.vector import has_geometry
    from urbansig.models.musecl.figures import ablation_chart, cluster_map, training_curves
    from urbansig.report import Report

    report = Report("Embed regions (MuseCL)")
    report.section("Modalities")
    fused = ", ".join(model.fused)
    report.paragraph(
        f"Fused modalities: {fused}; alignment target (InfoNCE): {model.target}. "
        f"Contrastive pairs: "
        + "; ".join(f"{m} by {c} similarity" for m, c in model.summary.criteria.items())
        + (". " + "; ".join(notes) if notes else ".")
    )
    counts = [
        {"modality": m, "regions with data": int(v.sum())} for m, v in result["valid"].items()
    ]
    counts.append(
        {"modality": "no data in any (flagged)", "regions with data": int(result["no_data"].sum())}
    )
    report.table(counts)
    beta_rows = [
        {
            "modality": m,
            "mean beta": float(b[~result["no_data"]].mean()),
            "std": float(b[~result["no_data"]].std()),
        }
        for m, b in result["betas"].items()
    ]
    report.table(beta_rows, "Attention weights (betas) over regions")
    if model.summary.histories:
        report.section("Training")
        report.figure(training_curves(model.summary.histories), "training_curves", "Loss per stage")
    if has_geometry(regions):
        report.section("Embedding map (PCA + k-means, as the paper's Figure 5)")
        report.figure(cluster_map(regions, labels, pca), "cluster_map", "Regions by cluster")
    if rows:
        report.section(f"Ablation: predicting {field} (log scale, held-out regions)")
        report.table(rows)
        report.figure(ablation_chart(rows, field), "ablation", "R2 per variant")
    report.section("Metrics")
    report.table([{"metric": k, "value": v} for k, v in metrics.items()])
    report.save(spec.outputs["output_report"])


JOB = Job(
    task="embedregionsmusecl",
    summary="MuseCL region embeddings from two or more modalities (images, POIs, flows)",
    run=run,
)
