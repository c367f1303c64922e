"""Job ``embedregionsmusecl``: MuseCL multi-semantic contrastive region embeddings.

Reads a region layer and any two or more modalities (remote-sensing raster, street-view
images, POIs, OD flows or in/out fields), trains MuseCL (or applies a saved model) and
writes the regions with ``emb_000 ...``, per-modality attention weights, per-region counts
and a ``no_data`` flag, plus an optional model file and HTML report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec

IMAGE_CHUNK = 1024


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.models.musecl import MuseCL, MuseCLConfig
    from urbansig.training import resolve_device, seed_everything

    inputs, params, outputs = spec.inputs, spec.params, spec.outputs
    device = resolve_device(spec.device)
    seed_everything(spec.seed)
    _check_params(params)
    events.progress(0.0, "Reading the regions")
    regions = _read_regions(inputs["regions"], params["id_field"])
    model = None
    if inputs.get("model"):
        model = MuseCL.load(inputs["model"], device, "MODEL")
        wanted = (*model.fused, model.target)
    else:
        wanted = tuple(m.strip() for m in (params["modalities"] or "").split(",") if m.strip())
    data, notes = _read_modalities(regions, inputs, params, wanted, events.stage(0.0, 0.2))
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
            max_images_per_epoch=params["images_per_epoch"],
            seed=spec.seed,
        )
        model = MuseCL(config, device)
        model.validate(data)
        model.prepare(data)
        _load_pretrained(model, inputs)
        events.log(f"Modalities fused: {', '.join(model.fused)}; aligned to: {model.target}")
        started = time.perf_counter()
        model.fit(data, events.stage(0.2, 0.8), prepared=True)
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


def _read_regions(path: str, id_field: str):
    """The region polygons; the default ``region_id`` numbers the rows when absent."""
    from urbansig.columns import REGION_ID
    from urbansig.io.regions import read_regions

    regions = read_regions(path, id_field=id_field)
    if id_field not in regions.columns:
        regions[REGION_ID] = np.arange(len(regions)).astype(str)
    return regions


def _metric_crs(regions):
    return regions.crs if not regions.crs.is_geographic else regions.estimate_utm_crs()


def _read_modalities(regions, inputs, params, wanted, events):
    """RegionData for the modalities the inputs give (those in ``wanted`` when given)."""
    from urbansig.models.musecl import RegionData

    n = len(regions)
    projected = regions.to_crs(_metric_crs(regions))
    centroids = projected.geometry.centroid
    data = RegionData(n=n, coords=np.column_stack([centroids.x, centroids.y]))
    notes: list[str] = []
    want = set(wanted) if wanted else None
    ids = regions[params["id_field"]].astype(str).to_numpy()
    if inputs.get("raster") and (want is None or "rs" in want):
        events.progress(0.0, "Cropping the raster")
        data.rs, data.rs_valid = _read_raster(inputs["raster"], regions, params["image_size"])
    if inputs.get("streetview") and (want is None or "sv" in want):
        events.progress(0.3, "Reading street-view images")
        data.sv, data.sv_region = _read_streetview(
            inputs["streetview"], params["image_field"], regions, params["image_size"], events
        )
    if (inputs.get("pois")) and (want is None or {"poi_text", "poi_counts"} & want):
        events.progress(0.7, "Reading POIs")
        cats, texts, where = _read_pois(inputs["pois"], params, regions)
        data.poi_category, data.poi_text, data.poi_region = cats, texts, where
    flows = None
    if inputs.get("od") and (params.get("in_field") or params.get("out_field")):
        raise BadInput(
            "IN_FIELD/OUT_FIELD: give the flows either as the OD table or as the regions' "
            "inflow and outflow fields, not both."
        )
    if inputs.get("od") and (want is None or "flow" in want):
        flows, valid = _read_od(inputs["od"], params, ids)
        notes.append("flows: in/out totals from the OD table")
    elif params.get("in_field") or params.get("out_field"):
        flows, valid = _flow_fields(regions, params)
        notes.append(f"flows: fields {params['in_field']} / {params['out_field']}")
    if flows is not None:
        data.flows, data.flow_valid = flows, valid
    events.progress(1.0, "Inputs read")
    return data, notes


def _read_raster(path: str, regions, size: int):
    try:
        from urbansig.io.raster import NoOverlap, crop_regions
    except ImportError as exc:  # the raster reader ships with the backend
        raise BadInput(f"RASTER: raster reading is unavailable in this backend ({exc}).") from exc
    crops, valid, problems = [], [], []
    for start in range(0, len(regions), IMAGE_CHUNK):
        part = regions.iloc[start : start + IMAGE_CHUNK]
        try:
            c, v = crop_regions(Path(path), part, size)
        except NoOverlap as exc:  # this chunk lies outside the raster (unreadable: BadInput)
            problems.append(str(exc))
            c = np.zeros((len(part), 1, size, size), dtype=np.float32)
            v = np.zeros(len(part), dtype=bool)
        crops.append(np.clip(np.rint(c * 255.0), 0, 255).astype(np.uint8))
        valid.append(np.asarray(v, dtype=bool))
    valid_all = np.concatenate(valid)
    if not valid_all.any():
        detail = problems[0] if problems else "every crop is empty (nodata)"
        raise BadInput(f"RASTER: no region has raster data: {detail}")
    bands = max(c.shape[1] for c in crops)
    crops = [
        c if c.shape[1] == bands else np.zeros((len(c), bands, size, size), np.uint8) for c in crops
    ]
    return np.concatenate(crops), valid_all


def _assign(points, regions):
    """Region position of each point (-1 outside every region)."""
    import geopandas as gpd

    pts = points.to_crs(regions.crs) if points.crs != regions.crs else points
    frame = gpd.GeoDataFrame(
        {"_pt": np.arange(len(pts))}, geometry=pts.geometry.values, crs=regions.crs
    )
    joined = gpd.sjoin(
        frame,
        regions[[regions.geometry.name]].assign(_region=np.arange(len(regions))),
        predicate="within",
    )
    joined = joined.drop_duplicates("_pt")
    where = np.full(len(pts), -1, dtype=np.int64)
    where[joined["_pt"].to_numpy()] = joined["_region"].to_numpy()
    return where


def _read_streetview(path: str, image_field: str, regions, size: int, events):
    from urbansig.io.vector import read_layer

    try:
        from urbansig.io.images import load_images
    except ImportError as exc:
        raise BadInput(f"STREETVIEW: image reading is unavailable ({exc}).") from exc
    points = read_layer(path, "STREETVIEW")
    if image_field not in points.columns:
        raise BadInput(f"IMAGE_FIELD: the street-view layer has no field {image_field!r}.")
    where = _assign(points, regions)
    keep = np.flatnonzero(where >= 0)
    if not len(keep):
        raise BadInput("STREETVIEW: no street-view point lies inside a region.")
    base = Path(path).parent
    paths = [
        p if p.is_absolute() else base / p
        for p in (Path(str(v)) for v in points[image_field].iloc[keep])
    ]
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    for start in range(0, len(paths), IMAGE_CHUNK):
        events.check_cancelled()
        chunk = load_images(paths[start : start + IMAGE_CHUNK], size, parameter="STREETVIEW")
        images[start : start + len(chunk)] = np.clip(np.rint(chunk * 255.0), 0, 255)
        events.progress(0.3 + 0.4 * (start + len(chunk)) / len(paths), "Reading images")
    return images, where[keep]


def poi_text_fields(value: str | None) -> tuple[str, ...] | None:
    """TEXT_FIELDS for the POI reader: the declared default (or nothing) reads the text of
    a ``text`` or ``name`` field where the layer has one; an empty value reads no text."""
    from urbansig.parameters import default

    if value is None or value == default("embedregionsmusecl", "text_fields"):
        return None
    return tuple(f.strip() for f in value.split(",") if f.strip())


def _read_pois(path: str, params, regions):
    try:
        from urbansig.io.poi import read_pois
    except ImportError as exc:
        raise BadInput(f"POIS: POI reading is unavailable ({exc}).") from exc
    text_fields = poi_text_fields(params.get("text_fields"))
    try:
        pois = read_pois(
            Path(path), category_field=params["category_field"], text_fields=text_fields
        )
    except BadInput as exc:
        raise BadInput(f"POIS: {exc}") if not str(exc).startswith("POIS") else exc from exc
    cats = pois["category"].astype("string").fillna("").str.strip()
    has = (cats != "").to_numpy()
    if not has.any():
        raise BadInput(
            f"POIS: no POI has a category in field {params['category_field']!r}; choose the "
            "field holding the POI type with CATEGORY_FIELD."
        )
    pois = pois[has]
    where = _assign(pois, regions)
    if not (where >= 0).any():
        raise BadInput("POIS: no POI lies inside a region; check that the layers overlap.")
    texts = pois["text"].astype("string").fillna("").tolist() if "text" in pois else None
    return cats[has].tolist(), texts, where


def _read_od(path: str, params, ids: np.ndarray):
    import pandas as pd

    from urbansig.io.tables import read_od

    try:
        od = read_od(
            Path(path), params["od_origin"], params["od_destination"], params["od_count"] or None
        )
    except BadInput as exc:
        raise BadInput(f"OD: {exc}") from exc
    index = pd.Index(ids)
    out_sum = od.groupby("origin")["count"].sum()
    in_sum = od.groupby("destination")["count"].sum()
    flows = np.column_stack(
        [
            in_sum.reindex(index).fillna(0.0).to_numpy(),
            out_sum.reindex(index).fillna(0.0).to_numpy(),
        ]
    ).astype(np.float64)
    valid = index.isin(out_sum.index) | index.isin(in_sum.index)
    if not valid.any():
        raise BadInput(
            "OD: no origin or destination matches the regions' ID_FIELD values; "
            "the table's ids must be the region ids."
        )
    return flows, np.asarray(valid)


def _flow_fields(regions, params):
    import pandas as pd

    names = [params.get("in_field") or "", params.get("out_field") or ""]
    if not all(names):
        raise BadInput("IN_FIELD and OUT_FIELD must be given together (inflow and outflow fields).")
    for key, name in zip(("IN_FIELD", "OUT_FIELD"), names):
        if name not in regions.columns:
            raise BadInput(f"{key}: the regions have no field {name!r}.")
        if not pd.api.types.is_numeric_dtype(regions[name]):
            raise BadInput(f"{key}: {name} holds text, not numbers; choose a numeric field.")
    values = np.column_stack([pd.to_numeric(regions[f], errors="coerce") for f in names])
    valid = np.isfinite(values).all(1)
    if (values[valid] < 0).any():
        raise BadInput("IN_FIELD/OUT_FIELD: flows must not be negative.")
    return np.nan_to_num(values), valid


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

    from urbansig.columns import CLUSTER, embedding_columns
    from urbansig.io.vector import write_layer
    from urbansig.models.musecl.figures import pca_kmeans

    params, outputs = spec.params, spec.outputs
    emb = result["embedding"]
    labels, pca = pca_kmeans(emb, ~result["no_data"], params["n_clusters"], spec.seed)
    columns: dict[str, np.ndarray] = dict(
        zip(embedding_columns(emb.shape[1]), emb.T.astype(np.float64))
    )
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
    frame = gpd.GeoDataFrame(
        pd.concat([regions.drop(columns=taken), added], axis=1),
        geometry=regions.geometry.name,
        crs=regions.crs,
    )
    if outputs.get("output_model") and not spec.inputs.get("model"):
        model.save(outputs["output_model"], {"training": {"regions": len(regions)}})
    if outputs.get("output_report"):
        _report(spec, regions, model, result, labels, pca, rows, field, notes, metrics)
    write_layer(frame, outputs["output"])


def _report(spec, regions, model, result, labels, pca, rows, field, notes, metrics) -> None:
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
