"""Job ``clustertraffictiles``: deep contrastive clustering of mobile-traffic tiles.

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

from pathlib import Path
from typing import Any

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec

MAX_MISSING_SHARE = 0.10
SHOWN_PROBLEMS = 5  # traffic reader problems shown one by one (the rest as a count)
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


def _warn(events: Any, warnings: list[str], message: str) -> None:
    """A warning in the log, kept for the report."""
    events.warning(message)
    warnings.append(message)


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.training import seed_everything

    params = _check_params(spec.params)
    events.progress(0.0, "Reading traffic and tiles")
    data = _load_inputs(spec, params, events.stage(0.0, 0.15))
    model = _load_model(spec, data) if spec.inputs.get("model") else None
    _check_profiles(data, params, model, events)
    events.check_cancelled()
    seed_everything(spec.seed)

    from urbansig.models.contrastive_clustering.evaluate import compare_methods

    curve: list[dict[str, float]] = []
    if model is None:
        k = params["n_clusters"]
        start = 0.15
        if k == "auto":
            k, curve = _auto_k(spec, params, data, events.stage(0.15, 0.45))
            events.log(f"Chose {k} clusters (stability + silhouette), curve: {curve}")
            start = 0.45
        model = _make_model(spec, params, k, spec.seed)
        model.fit(
            data["values"],
            data["neighbours"],
            data["services"],
            data["layout"],
            events.stage(start, 0.8),
        )
    events.progress(0.8, "Assigning clusters")
    reps, probs = model.infer(data["values"], data["neighbours"], events=events.stage(0.8, 0.85))
    labels, confidence = probs.argmax(axis=1), probs.max(axis=1)
    events.progress(0.85, "Evaluating against the baselines")
    rows = compare_methods(
        (labels, reps),
        data["values"],
        data["neighbours"],
        data["truth"],
        model.n_clusters,
        model.normalisation,
        spec.seed,
    )
    metrics = _headline(rows, model, data)
    for name, value in metrics.items():
        events.metric(name, value)
    events.check_cancelled()
    events.progress(0.9, "Writing outputs")
    _write_outputs(spec, params, data, model, labels, confidence, reps, probs, rows, curve)
    events.progress(1.0, "Done")
    return {"outputs": dict(spec.outputs), "metrics": {**metrics, "comparison": rows}}


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


# ---------------------------------------------------------------------------- inputs
def _load_inputs(spec: JobSpec, params: dict[str, Any], events: Any) -> dict[str, Any]:
    """Profiles matched to the tile layer: values (n, S, T) of the tiles with traffic."""
    import numpy as np

    from urbansig.columns import TILE_ID
    from urbansig.grids import polygon_neighbours
    from urbansig.io.vector import read_layer

    source = spec.inputs.get("input")
    tiles_path = spec.inputs.get("tiles")
    if source is None and tiles_path is None:
        raise BadInput("Give INPUT (NetMob folder or traffic table) or TILES with profile fields.")
    if source is None and not params.get("profile_prefix"):
        raise BadInput(
            "PROFILE_PREFIX is required when INPUT is not given: the TILES fields holding the "
            "profiles are named <prefix><service>_<step> (or <prefix><step>)."
        )
    if source is not None and Path(source).is_dir():
        from urbansig.io.netmob import read_netmob_profiles, read_netmob_tiles

        city = params.get("city") or _only_city(Path(source))
        profiles = read_netmob_profiles(
            Path(source),
            city,
            services=params["services"],
            direction=params["direction"],
            layout=params["layout"],
            events=events,
        )
        tiles = (
            read_layer(tiles_path, "TILES") if tiles_path else read_netmob_tiles(Path(source), city)
        )
    else:
        tiles = read_layer(tiles_path, "TILES") if tiles_path else None
        if source is not None:
            from urbansig.io.netmob import read_traffic_table

            profiles = read_traffic_table(Path(source), params["layout"], params["services"])
        else:
            profiles = _profiles_from_fields(tiles, params)
    if tiles is None:
        raise BadInput("TILES is required with a traffic table: the tile polygons with tile_id.")
    if TILE_ID not in tiles.columns:
        raise BadInput(
            f"TILES has no '{TILE_ID}' field (fields: {', '.join(map(str, tiles.columns))})."
        )
    if tiles[TILE_ID].isna().any() or tiles[TILE_ID].duplicated().any():
        raise BadInput(f"TILES: '{TILE_ID}' must be unique and never empty.")
    warnings: list[str] = []
    _traffic_warnings(profiles.report, events, warnings)
    traffic_ids = np.asarray(profiles.tile_ids)
    layer_ids = _as_ids(tiles[TILE_ID], traffic_ids.dtype)
    position = {tid: i for i, tid in enumerate(traffic_ids.tolist())}
    rows = np.array([position.get(t, -1) for t in layer_ids.tolist()], dtype=np.int64)
    has = rows >= 0
    extra = len(traffic_ids) - int(has.sum())
    if extra:
        _warn(events, warnings, f"{extra} tiles of the traffic are not in TILES; they are ignored.")
    values = np.asarray(profiles.values, dtype=np.float32)[rows[has]]
    return {
        "tiles": tiles,
        "has": has,
        "values": values,
        "services": list(profiles.services),
        "layout": profiles.layout,
        "neighbours": polygon_neighbours(tiles.geometry[has]),
        "truth": _truth(tiles, params.get("label_field"), has),
        "warnings": warnings,
    }


def _traffic_warnings(report: Any, events: Any, warnings: list[str]) -> None:
    """The traffic reader's first problems as warnings (NetMob files cut short come first),
    then how many more there are."""
    for problem in report.problems[:SHOWN_PROBLEMS]:
        _warn(events, warnings, f"Traffic: {problem}")
    more = len(report.problems) - SHOWN_PROBLEMS + report.problems_dropped
    if more > 0:
        _warn(events, warnings, f"Traffic: {more} more problems ({report.summary()}).")


def _only_city(root: Path) -> str:
    cities = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(cities) != 1:
        raise BadInput(
            f"CITY is required: {root} holds {len(cities)} city folders ({', '.join(cities[:8])})."
        )
    return cities[0]


def _as_ids(series: Any, dtype: Any) -> Any:
    try:
        return series.to_numpy().astype(dtype)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"TILES: tile_id values do not match the traffic's ids ({exc}).") from exc


def _profiles_from_fields(tiles: Any, params: dict[str, Any]) -> Any:
    """Profiles held in the tile layer's fields ``<prefix><service>_<step>`` or ``<prefix><step>``."""
    import re

    import numpy as np

    from urbansig.columns import TILE_ID
    from urbansig.io.profiles import TrafficProfiles, n_steps
    from urbansig.io.report import ReadReport

    prefix = params["profile_prefix"]
    pattern = re.compile(rf"^{re.escape(prefix)}(?:(.+)_)?(\d+)$")
    found: dict[str, dict[int, str]] = {}
    for column in tiles.columns:
        match = pattern.match(str(column))
        if match:
            found.setdefault(match.group(1) or "traffic", {})[int(match.group(2))] = column
    if not found:
        raise BadInput(f"PROFILE_PREFIX: no field of TILES starts with {prefix!r}.")
    services = params["services"] or sorted(found)
    unknown = [s for s in services if s not in found]
    if unknown:
        raise BadInput(
            f"SERVICES: {', '.join(unknown)} not among the profile fields' services "
            f"({', '.join(sorted(found))})."
        )
    steps = n_steps(params["layout"])
    for service in services:
        if sorted(found[service]) != list(range(steps)):
            raise BadInput(
                f"PROFILE_PREFIX: service {service} has {len(found[service])} fields, LAYOUT "
                f"{params['layout']} needs steps 0..{steps - 1}."
            )
    values = np.stack(
        [tiles[[found[s][t] for t in range(steps)]].to_numpy(dtype=np.float64) for s in services],
        axis=1,
    )
    if TILE_ID not in tiles.columns:
        raise BadInput(f"TILES has no '{TILE_ID}' field.")
    return TrafficProfiles(
        tiles[TILE_ID].to_numpy(), list(services), values, params["layout"], ReadReport()
    )


def _truth(tiles: Any, field: str | None, has: Any) -> Any:
    import numpy as np
    import pandas as pd

    if not field:
        return None
    if field not in tiles.columns:
        raise BadInput(
            f"LABEL_FIELD: TILES has no field {field!r} (fields: {', '.join(tiles.columns)})."
        )
    codes, _ = pd.factorize(tiles[field].where(tiles[field].notna()))
    return np.asarray(codes)[has]


def _load_model(spec: JobSpec, data: dict[str, Any]) -> Any:
    import numpy as np

    from urbansig.models.contrastive_clustering import TrafficClusterer

    model = TrafficClusterer.load(spec.inputs["model"], "MODEL", spec.device)
    order = model.check_compatible(data["services"], data["layout"], "MODEL")
    data["values"] = np.ascontiguousarray(data["values"][:, order])
    if model.services is None:
        raise BadInput(f"MODEL: {spec.inputs['model']} names no services; train a new model.")
    data["services"] = list(model.services)
    model.check_layout(data["values"].shape[1], data["values"].shape[2])
    return model


def _check_profiles(
    data: dict[str, Any], params: dict[str, Any], model: Any, events: Events
) -> None:
    import numpy as np

    from urbansig.models.contrastive_clustering.normalise import check_profiles

    tiles, has = data["tiles"], data["has"]
    invalid, empty = check_profiles(data["values"])
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
        _warn(
            events,
            data["warnings"],
            f"{missing} of {len(tiles)} tiles of TILES have no traffic (absent from INPUT or all "
            "zero); they are written with an empty cluster.",
        )
    if empty.any():
        from urbansig.grids import polygon_neighbours

        data["values"] = data["values"][~empty]
        data["truth"] = data["truth"][~empty] if data["truth"] is not None else None
        data["neighbours"] = polygon_neighbours(tiles.geometry[usable])
    data["has"] = usable
    data["n_missing"] = missing


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
def _make_model(spec: JobSpec, params: dict[str, Any], k: int, seed: int, epochs: int = 0):
    from urbansig.io.profiles import check_layout
    from urbansig.models.contrastive_clustering import AugmentConfig, TrafficClusterer

    _, per_day = check_layout(params["layout"])
    augment = AugmentConfig(
        **{a: params[f"aug_{a}"] for a in AUGMENTATIONS},
        max_shift=int(round(params["shift_hours"] * per_day / 24)),
    )
    return TrafficClusterer(
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
        device=spec.device,
        seed=seed,
    )


def _auto_k(spec: JobSpec, params: dict[str, Any], data: dict[str, Any], events: Any):
    from urbansig.models.contrastive_clustering.select_k import select_k

    epochs = max(3, params["epochs"] // 3)

    def make(k: int, seed: int):
        model = _make_model(spec, params, k, spec.seed + seed, epochs)
        model.services, model.layout = data["services"], data["layout"]
        return model

    return select_k(
        data["values"],
        data["neighbours"],
        range(params["k_min"], params["k_max"] + 1),
        make,
        seeds=(0, 1),
        events=events,
    )


def _headline(rows: list[dict[str, Any]], model: Any, data: dict[str, Any]) -> dict[str, Any]:
    deep = rows[0]
    out: dict[str, Any] = {"n_clusters": model.n_clusters, "n_tiles": len(data["values"])}
    for row in rows:
        prefix = "" if row is deep else f"{row['method']}_"
        for key in ("ari", "nmi", "acc", "silhouette", "davies_bouldin", "coherence"):
            if key in row:
                out[prefix + key] = row[key]
    out["coherence_random"] = deep.get("coherence_random")
    out["coherence_z"] = deep.get("coherence_z")
    if model.training_summary:
        out["train_tiles_per_second"] = model.training_summary.get("tiles_per_second")
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------- outputs
def _write_outputs(
    spec: JobSpec,
    params: dict[str, Any],
    data: dict[str, Any],
    model: Any,
    labels: Any,
    confidence: Any,
    reps: Any,
    probs: Any,
    rows: list[dict[str, Any]],
    curve: list[dict[str, float]],
) -> None:
    import numpy as np
    import pandas as pd

    from urbansig.columns import CLUSTER, CONFIDENCE, VOLUME, embedding_columns
    from urbansig.io.vector import write_layer
    from urbansig.models.contrastive_clustering.figures import build_report
    from urbansig.models.contrastive_clustering.normalise import tile_volume
    from urbansig.report import Report

    tiles, has = data["tiles"], data["has"]
    out = tiles.copy()
    cluster = pd.array(np.full(len(out), pd.NA), dtype="Int64")
    cluster[has] = labels.astype(np.int64)
    out[CLUSTER] = cluster
    out[CONFIDENCE] = np.where(has, 0.0, np.nan)
    out.loc[has, CONFIDENCE] = confidence.astype(float)
    out[VOLUME] = 0.0
    out.loc[has, VOLUME] = tile_volume(data["values"])
    if params["write_embeddings"]:
        columns = embedding_columns(reps.shape[1])
        emb = np.full((len(out), reps.shape[1]), np.nan)
        emb[has] = reps
        out = pd.concat([out, pd.DataFrame(emb, columns=columns, index=out.index)], axis=1)
        out = out.set_geometry(tiles.geometry.name)
    written: list[Path] = []
    try:
        if spec.outputs.get("model_output"):
            summary = {k: v for k, v in rows[0].items() if isinstance(v, (int, float))}
            model.save(spec.outputs["model_output"], metrics=summary)
            written.append(Path(spec.outputs["model_output"]))
        if spec.outputs.get("report"):
            report: Report = build_report(model, data, labels, reps, probs, rows, curve, spec.seed)
            _report_warnings(report, data["warnings"])
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
    summary="Cluster mobile traffic tiles by their service-traffic signature (deep contrastive "
    "clustering), with k-means baselines and a report",
    run=run,
)
