"""Job ``clustertraffictiles``: clusters of mobile-traffic tiles (read -> method -> write).

METHOD spatial_kmeans (the default: k-means on canonical neighbourhood features, the
strongest on the validation cities) or contrastive (deep contrastive clustering); the other
methods run beside it as baselines, in the report and METRICS.

Inputs: traffic (a NetMob 2023 folder + CITY, or a long table) and a tile layer with
``tile_id`` (for a NetMob folder the city's ``<City>.geojson`` is used when TILES is not
given), or only a tile layer whose fields hold the profiles (PROFILE_PREFIX). A saved MODEL
labels the tiles instead of training (transfer to another city).

Tiles and traffic are matched on ``tile_id``:
- traffic tiles absent from TILES are ignored with a warning (TILES is the study area);
- TILES tiles without traffic, or with none at all in the selected services, are written
  with an empty cluster and a warning while they are at most 10 % of TILES; beyond that the
  run stops (BadInput): the ids, CITY or SERVICES most likely do not match;
- NaN or negative traffic, fewer tiles than clusters (with N_CLUSTERS auto: K_MAX not
  below the number of tiles), unknown services, a layout or services other than the
  MODEL's are BadInput. Nothing is written on a BadInput;
- the traffic reader's problems (NetMob files cut short first, with the tiles they lack)
  are warnings; every warning is also listed at the end of the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec

MAX_MISSING_SHARE = 0.10
AUGMENTATIONS = ("shift", "scale", "jitter", "mask_hours", "mask_services", "neighbour_mix")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.io.traffic_tiles import read_tile_traffic
    from urbansig.models.contrastive_clustering.evaluate import compare_methods
    from urbansig.training import seed_everything

    params = _check_params(spec.params)
    events.progress(0.0, "Reading traffic and tiles")
    traffic = read_tile_traffic(spec.inputs, params, events.stage(0.0, 0.15))
    model = _load_model(spec, traffic) if spec.inputs.get("model") else None
    _check_profiles(traffic, params, model, events)
    events.check_cancelled()
    seed_everything(spec.seed)
    data = traffic.data()
    curve: list[dict[str, float]] = []
    if model is None:
        model, curve = _fit(spec, params, data, events.stage(0.15, 0.8))
    events.progress(0.8, "Assigning clusters")
    reps, probs = model.infer(data, events=events.stage(0.8, 0.85))
    labels, confidence = probs.argmax(axis=1), probs.max(axis=1)
    events.progress(0.85, "Evaluating against the baselines")
    rows = compare_methods(
        (model.method, labels, reps),
        data.values,
        data.neighbours,
        traffic.truth,
        model.n_clusters,
        model.normalisation,
        spec.seed,
    )
    metrics = _headline(rows, model, traffic)
    for name, value in metrics.items():
        events.metric(name, value)
    events.check_cancelled()
    events.progress(0.9, "Writing outputs")
    result = ClusteringResult(labels, confidence, reps, probs, rows, curve)
    _write_outputs(spec, params, traffic, model, result)
    events.progress(1.0, "Done")
    return {"outputs": dict(spec.outputs), "metrics": {**metrics, "comparison": rows}}


@dataclass
class ClusteringResult:
    """What the method gave for the tiles with traffic, and how it compares."""

    labels: Any
    confidence: Any
    reps: Any
    probs: Any
    rows: list[dict[str, Any]]
    curve: list[dict[str, float]]


# ---------------------------------------------------------------------------- parameters
def _check_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    raw_k = str(params["n_clusters"]).strip().lower()
    if raw_k == "auto":
        out["n_clusters"] = "auto"
        if not 2 <= params["k_min"] <= params["k_max"]:
            raise BadInput(
                f"K_MIN and K_MAX must satisfy 2 <= K_MIN <= K_MAX, not {params['k_min']} and "
                f"{params['k_max']}."
            )
    else:
        try:
            out["n_clusters"] = int(raw_k)
        except ValueError as exc:
            raise BadInput(f"N_CLUSTERS must be an integer >= 2 or 'auto', not {raw_k!r}.") from exc
        if out["n_clusters"] < 2:
            raise BadInput(f"N_CLUSTERS must be at least 2, not {out['n_clusters']}.")
    for name, low in (("epochs", 1), ("batch_size", 8), ("max_train_tiles", 8)):
        if params[name] < low:
            raise BadInput(f"{name.upper()} must be at least {low}, not {params[name]}.")
    for name in ("lr", "instance_temperature", "cluster_temperature"):
        if not params[name] > 0:
            raise BadInput(f"{name.upper()} must be positive, not {params[name]}.")
    if params["entropy_weight"] < 0:
        raise BadInput(f"ENTROPY_WEIGHT must be >= 0, not {params['entropy_weight']}.")
    if params["shift_hours"] < 0:
        raise BadInput(f"SHIFT_HOURS must be >= 0, not {params['shift_hours']}.")
    services = params.get("services") or ""
    out["services"] = [s.strip() for s in str(services).split(",") if s.strip()] or None
    flags = ("spatial", "neighbour_context", "write_embeddings")
    for name in (*flags, *(f"aug_{a}" for a in AUGMENTATIONS)):
        try:
            out[name] = _flag(params[name])
        except ValueError as exc:
            raise BadInput(f"{name.upper()}: {exc}.") from exc
    return out


def _load_model(spec: JobSpec, traffic: Any) -> Any:
    """The MODEL of either method, with the traffic's services put in its order."""
    import numpy as np

    from urbansig.models.contrastive_clustering import TrafficClusterer
    from urbansig.models.serialization import saved_method
    from urbansig.models.spatial_kmeans import SpatialKMeans

    path = spec.inputs["model"]
    kind = (
        SpatialKMeans if saved_method(path, "MODEL") == SpatialKMeans.method else TrafficClusterer
    )
    model = kind.load(path, spec.device, "MODEL")
    if model.services is None:
        raise BadInput(f"MODEL: {path} names no services; train a new model.")
    order = model.check_compatible(traffic.services, traffic.layout, "MODEL")
    traffic.values = np.ascontiguousarray(traffic.values[:, order])
    traffic.services = list(model.services)
    model.check_layout(traffic.values.shape[1], traffic.values.shape[2])
    return model


def _check_profiles(traffic: Any, params: dict[str, Any], model: Any, events: Events) -> None:
    """BadInput for invalid traffic or too few tiles; tiles without traffic are dropped."""
    import numpy as np

    from urbansig.models.contrastive_clustering.normalise import check_profiles

    tiles, has = traffic.tiles, traffic.has
    invalid, empty = check_profiles(traffic.values)
    if invalid.any():
        raise BadInput(
            f"INPUT: {int(invalid.sum())} tiles have NaN, infinite or negative traffic "
            "values; fix or remove them."
        )
    keep = np.flatnonzero(has)
    usable = has.copy()
    usable[keep[empty]] = False
    missing = int((~usable).sum())
    if missing > MAX_MISSING_SHARE * len(tiles):
        raise BadInput(
            f"TILES: {missing} of {len(tiles)} tiles have no traffic (absent from INPUT or "
            f"all zero in the selected services), more than {MAX_MISSING_SHARE:.0%}; check "
            "that TILES, CITY and SERVICES match the traffic."
        )
    _check_k(int(usable.sum()), params, model)
    if missing:
        traffic.warn(
            events,
            f"{missing} of {len(tiles)} tiles of TILES have no traffic (absent from INPUT or all "
            "zero); they are written with an empty cluster.",
        )
    if empty.any():
        traffic.keep(~empty)
    traffic.n_missing = missing


def _check_k(n_tiles: int, params: dict[str, Any], model: Any) -> None:
    """BadInput naming the parameter to change when ``n_tiles`` tiles are too few for the
    clusters asked for (N_CLUSTERS, the MODEL's, or auto's K_MIN..K_MAX: choosing K needs
    fewer clusters than tiles)."""
    if model is not None:
        if n_tiles < model.n_clusters:
            raise BadInput(
                f"MODEL: the model makes {model.n_clusters} clusters, but only {n_tiles} tiles "
                "have traffic; give more tiles or a model with fewer clusters."
            )
        return
    k = params["n_clusters"]
    if k != "auto":
        if n_tiles < k:
            raise BadInput(
                f"N_CLUSTERS: {n_tiles} tiles with traffic cannot make {k} clusters; give "
                f"N_CLUSTERS at most {n_tiles}."
            )
        return
    k_min, k_max, top = params["k_min"], params["k_max"], n_tiles - 1
    if top < 2:
        raise BadInput(
            f"N_CLUSTERS: auto needs at least 3 tiles with traffic to choose the number of "
            f"clusters, and only {n_tiles} have traffic; give more tiles."
        )
    tries = f"N_CLUSTERS auto tries {k_min} to {k_max} clusters (K_MIN to K_MAX)"
    if k_min > top:
        raise BadInput(
            f"K_MIN: {tries}, but only {n_tiles} tiles have traffic and the choice needs fewer "
            f"clusters than tiles; lower K_MIN and K_MAX to at most {top} (the number of "
            "tiles - 1), or give N_CLUSTERS as a number."
        )
    if k_max > top:
        raise BadInput(
            f"K_MAX: {tries}, but only {n_tiles} tiles have traffic and the choice needs fewer "
            f"clusters than tiles; lower K_MAX to at most {top} (the number of tiles - 1)."
        )


# ---------------------------------------------------------------------------- model
def _fit(spec: JobSpec, params: dict[str, Any], data: Any, events: Any) -> tuple[Any, list]:
    """The METHOD fitted on ``data`` (K chosen first when N_CLUSTERS is auto), and the
    curve of the choice of K ([] for a given K)."""
    k = params["n_clusters"]
    if params["method"] == "spatial_kmeans":
        model = _spatial_model(spec, params, 0 if k == "auto" else k)
        model.fit(data, events)
        if k == "auto":
            events.log(f"Chose {model.n_clusters} clusters (Calinski-Harabasz index)")
        return model, model.k_curve
    curve: list[dict[str, float]] = []
    start = 0.0
    if k == "auto":
        from urbansig.models.contrastive_clustering.select_k import select_k

        epochs = max(3, params["epochs"] // 3)
        k, curve = select_k(
            data,
            range(params["k_min"], params["k_max"] + 1),
            lambda k, seed: _contrastive_model(spec, params, k, spec.seed + seed, epochs),
            seeds=(0, 1),
            events=events.stage(0.0, 0.45),
        )
        events.log(f"Chose {k} clusters (stability + silhouette), curve: {curve}")
        start = 0.45
    model = _contrastive_model(spec, params, k, spec.seed)
    model.fit(data, events.stage(start, 1.0))
    return model, curve


def _spatial_model(spec: JobSpec, params: dict[str, Any], k: int) -> Any:
    from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings

    settings = SpatialSettings(
        n_clusters=k,
        k_min=params["k_min"],
        k_max=params["k_max"],
        canonical_components=params["canonical_components"],
        normalisation=params["normalisation"],
    )
    return SpatialKMeans(settings, spec.device, spec.seed)


def _contrastive_model(
    spec: JobSpec, params: dict[str, Any], k: int, seed: int, epochs: int = 0
) -> Any:
    from urbansig.io.profiles import check_layout
    from urbansig.models.contrastive_clustering import (
        AugmentConfig,
        ClusterSettings,
        TrafficClusterer,
    )

    _, per_day = check_layout(params["layout"])
    augment = AugmentConfig(
        **{a: params[f"aug_{a}"] for a in AUGMENTATIONS},
        max_shift=int(round(params["shift_hours"] * per_day / 24)),
    )
    settings = ClusterSettings(
        n_clusters=k,
        encoder=params["encoder"],
        instance_temperature=params["instance_temperature"],
        cluster_temperature=params["cluster_temperature"],
        entropy_weight=params["entropy_weight"],
        epochs=epochs or params["epochs"],
        batch_size=params["batch_size"],
        lr=params["lr"],
        augment=augment,
        neighbour_pairs=params["spatial"],
        neighbour_context=params["neighbour_context"],
        normalisation=params["normalisation"],
        max_train_tiles=params["max_train_tiles"],
    )
    return TrafficClusterer(settings, spec.device, seed)


def _headline(rows: list[dict[str, Any]], model: Any, traffic: Any) -> dict[str, Any]:
    """The written method's metrics unprefixed, each baseline's prefixed by its name."""
    chosen = rows[0]
    out: dict[str, Any] = {
        "method": chosen["method"],
        "n_clusters": model.n_clusters,
        "n_tiles": len(traffic.values),
    }
    for row in rows:
        prefix = "" if row is chosen else f"{row['method']}_"
        for key in ("ari", "nmi", "acc", "silhouette", "davies_bouldin", "coherence"):
            if key in row:
                out[prefix + key] = row[key]
    out["coherence_random"] = chosen.get("coherence_random")
    out["coherence_z"] = chosen.get("coherence_z")
    if model.training_summary:
        out["train_tiles_per_second"] = model.training_summary.get("tiles_per_second")
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------- outputs
def _write_outputs(
    spec: JobSpec, params: dict[str, Any], traffic: Any, model: Any, result: ClusteringResult
) -> None:
    import numpy as np
    import pandas as pd

    from urbansig.columns import CLUSTER, CONFIDENCE, VOLUME, embedding_columns
    from urbansig.io.vector import write_layer
    from urbansig.models.contrastive_clustering.figures import build_report
    from urbansig.models.contrastive_clustering.normalise import tile_volume
    from urbansig.report import Report

    tiles, has = traffic.tiles, traffic.has
    labels, confidence, reps = result.labels, result.confidence, result.reps
    out = tiles.copy()
    cluster = pd.array(np.full(len(out), pd.NA), dtype="Int64")
    cluster[has] = labels.astype(np.int64)
    out[CLUSTER] = cluster
    out[CONFIDENCE] = np.where(has, 0.0, np.nan)
    out.loc[has, CONFIDENCE] = confidence.astype(float)
    out[VOLUME] = 0.0
    out.loc[has, VOLUME] = tile_volume(traffic.values)
    if params["write_embeddings"]:
        columns = embedding_columns(reps.shape[1])
        emb = np.full((len(out), reps.shape[1]), np.nan)
        emb[has] = reps
        out = pd.concat([out, pd.DataFrame(emb, columns=columns, index=out.index)], axis=1)
        out = out.set_geometry(tiles.geometry.name)
    written: list[Path] = []
    try:
        if spec.outputs.get("model_output"):
            summary = {k: v for k, v in result.rows[0].items() if isinstance(v, (int, float))}
            model.save(spec.outputs["model_output"], metrics=summary)
            written.append(Path(spec.outputs["model_output"]))
        if spec.outputs.get("report"):
            report: Report = build_report(model, traffic.values, result, spec.seed)
            _report_warnings(report, traffic.warnings)
            report.save(spec.outputs["report"])
            written.append(Path(spec.outputs["report"]))
        write_layer(out, spec.outputs["output"])
    except BaseException:
        for path in written:
            if path.suffix.lower() in (".html", ".htm"):
                Report.remove(path)
            else:
                path.unlink(missing_ok=True)
        raise


def _report_warnings(report: Any, warnings: list[str]) -> None:
    """The run's warnings as the report's last section."""
    if warnings:
        report.section("Warnings")
        for message in warnings:
            report.paragraph(message)


JOB = Job(
    task="clustertraffictiles",
    summary="Cluster mobile traffic tiles by their service-traffic signature (spatial k-means "
    "or deep contrastive clustering), with the baselines beside it and a report",
    run=run,
)
