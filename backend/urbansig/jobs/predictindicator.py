"""Job ``predictindicator``: region features -> a socioeconomic indicator, evaluated honestly.

Train mode (no TRAINED_MODEL): regions with a known TARGET_FIELD are split REPEATS times
(random 60/20/20 as MuseCL, or spatial block folds); the chosen model and the baselines
(ridge, gradient boosting, mean) are fitted on each train part, early-stopped on the
validation part (MLP) and scored on the test part. The first repeat's model predicts every
region, gets a split-conformal interval from its validation residuals and is saved.
Apply mode (TRAINED_MODEL): a saved model predicts the layer from the features it was
trained on; known targets are scored. FEATURE_FIELDS listing other fields is a BadInput
(left empty, the model's features are used); a FEATURE_PREFIX changed from its default
that does not select them is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from urbansig.columns import PRED_LOWER, PRED_UPPER, PREDICTION, RESIDUAL, SPLIT
from urbansig.io.vector import has_geometry
from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec

PRED_LITERATURE = "pred_literature"
OUTPUT_COLUMNS = (PREDICTION, RESIDUAL, SPLIT, PRED_LOWER, PRED_UPPER, PRED_LITERATURE)
BASELINES = ("ridge", "gbm", "mean")
ON_BASELINE = "_on_baseline"  # the chosen model scored on the BASELINE_PREFIX fields


@dataclass
class Labelled:
    """The data to train on: every region's features ``X`` and target ``y`` (NaN where
    unknown), the indices ``rows`` of the regions with a known target and their part of
    both (``X_lab``, ``y_lab``), and the resolved LOG_TARGET."""

    X: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    X_lab: np.ndarray
    y_lab: np.ndarray
    fields: list[str]
    target_field: str
    log_target: bool


@dataclass
class Outcome:
    """What a run writes: the predictions for ``frame`` and what the report shows.

    ``y`` is the target (NaN where unknown), ``bounds`` the interval (or None), ``rows``
    the per-model metric rows, ``scatter`` (true, predicted, part name) for the figure.
    """

    frame: Any
    predictor: Any
    pred: np.ndarray
    y: np.ndarray
    split_names: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray] | None
    rows: list[dict[str, Any]]
    metrics: dict[str, Any]
    summary: dict[str, Any]
    scatter: tuple[np.ndarray, np.ndarray, np.ndarray]
    fields: list[str]
    literature: np.ndarray | None = None  # literature protocol's out-of-fold predictions


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError as exc:
        raise BadInput(
            f"HIDDEN must be comma-separated layer sizes such as 64,32, not {text!r}."
        ) from exc
    if not sizes or any(s < 1 for s in sizes):
        raise BadInput(f"HIDDEN must list positive layer sizes such as 64,32, not {text!r}.")
    return sizes


def _check_params(params: dict[str, Any]) -> None:
    # the table's minimum 0 lets BLOCK_SIZE 0 through; blocks need a positive side
    if params.get("block_size") is not None and not params["block_size"] > 0:
        raise BadInput(f"BLOCK_SIZE must be positive (layer units), not {params['block_size']}.")


def _listed_fields(params: dict[str, Any]) -> list[str]:
    """The fields FEATURE_FIELDS lists (comma-separated), in order."""
    return [f.strip() for f in str(params.get("feature_fields") or "").split(",") if f.strip()]


def _names(fields: list[str], limit: int = 20) -> str:
    """'a, b, c' for at most ``limit`` field names, then how many more."""
    more = f" and {len(fields) - limit} more" if len(fields) > limit else ""
    return ", ".join(fields[:limit]) + more


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.io.region_table import feature_fields, repeated_regions
    from urbansig.io.vector import read_table
    from urbansig.models.predictor import IndicatorPredictor

    inputs, params = spec.inputs, spec.params
    _check_params(params)
    hidden = _hidden(params["hidden"])
    events.progress(0.0, "Reading the region layer")
    frame = read_table(inputs["input"], "INPUT")
    if frame.empty:
        raise BadInput("INPUT: the region layer has no features.")
    target_field = params.get("target_field") or None
    repeated = repeated_regions(frame)
    if inputs.get("trained_model"):
        predictor = IndicatorPredictor.load(inputs["trained_model"], parameter="TRAINED_MODEL")
        if repeated:
            events.warning(f"INPUT: {repeated}; each copy gets its own prediction.")
        return _apply(spec, events, frame, predictor, target_field)
    if repeated:
        raise BadInput(
            f"INPUT: {repeated}. A region counted twice can land in both the training and the "
            "test part and inflate the scores: remove the duplicates."
        )
    if target_field is None:
        raise BadInput("TARGET_FIELD is required to train (or give TRAINED_MODEL to apply one).")
    prefix = params.get("feature_prefix") or ""
    chosen = feature_fields(frame, _listed_fields(params), prefix, OUTPUT_COLUMNS)
    fields = [f for f in chosen if f != target_field]
    if not fields:
        raise BadInput("FEATURE_FIELDS: the only feature given is the target itself.")
    exclude = {*fields, target_field, *OUTPUT_COLUMNS}
    base_prefix = params.get("baseline_prefix") or ""
    base_fields = [c for c in frame.columns if base_prefix and c.startswith(base_prefix)]
    base_fields = [c for c in base_fields if c not in exclude] if params["baselines"] else []
    return _train(spec, events, frame, fields, target_field, hidden, base_fields)


def _train(spec, events, frame, fields, target_field, hidden, base_fields) -> dict[str, Any]:
    """Every model on repeated splits; the first repeat's chosen model predicts every region.

    With ``base_fields`` (BASELINE_PREFIX) the chosen model is also scored on those fields,
    on the same splits, as the row ``<model>_on_baseline``."""
    from urbansig.models.predictor import summarise
    from urbansig.models.predictor.splits import PART_NAMES

    params = spec.params
    data = _labelled_data(frame, fields, target_field, params["log_target"], events)
    splits = _make_splits(frame, data.rows, params, spec.seed)
    options = _options(params, hidden, spec.device)
    end = 0.7 if base_fields else 0.85
    stage = events.stage(0.05, end)
    records, predictor = _evaluate(stage, data, splits, _models(params), options, spec.seed)
    base = _baseline_data(frame, base_fields, data) if base_fields else None
    if base is not None:
        events.log(f"BASELINE_PREFIX: {params['model']} also on {_names(base_fields)}")
        base_records, _ = _evaluate(
            events.stage(end, 0.85), base, splits, [params["model"]], options, spec.seed
        )
        records += [{**r, "model": f"{r['model']}{ON_BASELINE}"} for r in base_records]
    rows = summarise(records)
    part0 = splits[0]
    _calibrate(predictor, data, part0, params["coverage"], events)
    events.progress(0.88, "Predicting every region")
    pred = predictor.predict(data.X)
    _warn_clipped(events, records, params["model"], predictor.n_clipped, target_field)
    bounds = predictor.predict_interval(data.X)
    metrics = _train_metrics(rows, params["model"], data, bounds, part0)
    metrics["n_predicted"] = int(len(frame) - len(data.rows))
    literature = None
    if params["literature_protocol"]:
        literature = _literature(data, params["folds"], spec.seed, metrics)
        if base is not None:
            _literature(base, params["folds"], spec.seed, metrics, "baseline_literature")
    if base is not None:
        metrics["baseline_prefix"] = params["baseline_prefix"]
        metrics["baseline_n_fields"] = len(base_fields)
    _emit_metrics(events, rows, metrics)
    split_names = np.full(len(frame), "predicted", dtype=object)
    split_names[data.rows] = np.asarray(PART_NAMES, dtype=object)[part0]
    outcome = Outcome(
        frame=frame,
        predictor=predictor,
        pred=pred,
        y=data.y,
        split_names=split_names,
        bounds=bounds,
        rows=rows,
        metrics=metrics,
        summary=_summary(spec, data, rows),
        scatter=(data.y_lab, pred[data.rows], split_names[data.rows]),
        fields=fields,
        literature=literature,
    )
    return _write(spec, events, outcome)


def _labelled_data(frame, fields, target_field: str, log_choice: str, events) -> Labelled:
    """Features and target from ``frame``; BadInput when too few regions are labelled."""
    from urbansig.io.region_table import feature_matrix, target_values

    X = feature_matrix(frame, fields)
    y = target_values(frame, target_field)
    rows = _labelled(y, target_field)
    y_lab = y[rows]
    log_target = _choose_log_target(log_choice, y_lab, target_field, events)
    return Labelled(X, y, rows, X[rows], y_lab, fields, target_field, log_target)


def _summary(spec, data: Labelled, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the model file records about the training run."""
    params = spec.params
    summary = {
        "target_field": data.target_field,
        "n_labelled": len(data.rows),
        "split": params["split"],
        "block_size": params.get("block_size"),
        "repeats": params["repeats"],
        "seed": spec.seed,
        "metrics": rows,
    }
    if params["literature_protocol"]:
        summary["literature_folds"] = params["folds"]
    return summary


def _baseline_data(frame, base_fields: list[str], data: Labelled) -> Labelled:
    """``data`` with the BASELINE_PREFIX fields as its features."""
    from urbansig.io.region_table import feature_matrix

    X = feature_matrix(frame, base_fields, "BASELINE_PREFIX")
    return Labelled(
        X, data.y, data.rows, X[data.rows], data.y_lab, base_fields, data.target_field,
        data.log_target,
    )  # fmt: skip


def _literature(
    data: Labelled, folds: int, seed: int, metrics: dict[str, Any], name: str = "literature"
) -> np.ndarray:
    """The literature protocol's metrics into ``metrics`` (``<name>_r2`` ...); its
    out-of-fold predictions for the labelled regions (NaN for the others)."""
    from urbansig.models.predictor import literature_protocol

    scored, oof = literature_protocol(data.X_lab, data.y_lab, folds, seed)
    metrics.update({f"{name}_{k}": v for k, v in scored.items()})
    metrics["literature_folds"] = folds
    column = np.full(len(data.y), np.nan)
    column[data.rows] = oof
    return column


def _warn_clipped(events, records, model: str, n_final: int, target_field: str) -> None:
    """Say how many back-transformed predictions were held to the training range."""
    in_tests = sum(r.get("n_clipped", 0) for r in records if r["model"] == model)
    if in_tests or n_final:
        events.warning(
            f"{model}: {in_tests} test predictions over all repeats (and {n_final} of the "
            f"written predictions) left the range of {target_field} seen in training on the "
            "log scale and were held to it; without this, the back-transform turns such "
            "overshoots into errors of orders of magnitude."
        )


def _labelled(y: np.ndarray, target_field: str) -> np.ndarray:
    """Indices of the regions with a known target; BadInput when too few."""
    from urbansig.models.predictor.splits import check_split_size

    labelled = np.flatnonzero(np.isfinite(y))
    if len(labelled) == 0:
        raise BadInput(
            f"TARGET_FIELD: {target_field} is NULL in every region; at least "
            "10 regions need a known value to train on."
        )
    check_split_size(len(labelled))
    return labelled


def _choose_log_target(choice: str, y_lab: np.ndarray, target_field: str, events) -> bool:
    from urbansig.models.predictor import auto_log_target, check_target

    log_target = _log_choice(choice, y_lab, auto_log_target)
    check_target(y_lab, log_target)
    if log_target and choice == "auto":
        events.log(f"LOG_TARGET auto: {target_field} is a non-negative count or skewed: log1p.")
    return log_target


def _make_splits(frame, labelled: np.ndarray, params: dict[str, Any], seed: int):
    from urbansig.io.region_table import region_coords
    from urbansig.models.predictor import make_splits

    coords = region_coords(frame.iloc[labelled]) if params["split"] == "spatial" else None
    return make_splits(
        len(labelled), params["split"], params["repeats"], seed, coords, params.get("block_size")
    )


def _models(params: dict[str, Any]) -> list[str]:
    """The chosen model first, then (with BASELINES) the other baselines."""
    models = [params["model"]]
    if params["baselines"]:
        models += [m for m in BASELINES if m != params["model"]]
    return models


def _options(params: dict[str, Any], hidden: tuple[int, ...], device: str) -> dict[str, Any]:
    return {
        "hidden": hidden,
        "epochs": params["epochs"],
        "lr": params["lr"],
        "patience": params["patience"],
        "device": device,
        "batch_size": params["batch_size"],
    }


def _evaluate(train_events, data: Labelled, splits, models, options, seed: int):
    """Every model on every split: metric records and the first repeat's chosen model."""
    from urbansig.models.predictor import evaluate_split
    from urbansig.models.predictor.splits import TEST

    records, main_predictor = [], None
    total = len(splits) * len(models)
    for r, part in enumerate(splits):
        for m, model in enumerate(models):
            train_events.check_cancelled()
            step = r * len(models) + m
            stage = train_events.stage(step / total, (step + 1) / total)
            stage.progress(0.0, f"repeat {r + 1}/{len(splits)}: {model}")
            predictor, metrics, _ = evaluate_split(
                data.X_lab, data.y_lab, part, model, data.log_target, seed + r, stage,
                data.fields, **options,
            )  # fmt: skip
            records.append(
                {
                    "model": model,
                    "repeat": r,
                    "n_train": int((part == 0).sum()),
                    "n_test": int((part == TEST).sum()),
                    **metrics,
                }
            )
            if r == 0 and m == 0:
                main_predictor = predictor
    return records, main_predictor


def _calibrate(predictor, data: Labelled, part0, coverage: float, events) -> None:
    """Split-conformal interval from the first repeat's validation part."""
    from urbansig.models.predictor.conformal import min_calibration_size
    from urbansig.models.predictor.splits import VALIDATION

    val0 = part0 == VALIDATION
    if not predictor.calibrate(data.X_lab[val0], data.y_lab[val0], coverage):
        events.warning(
            f"COVERAGE {coverage}: the validation part has {int(val0.sum())} regions; "
            f"at least {min_calibration_size(coverage)} are needed for a guaranteed "
            "interval, so the interval uses the largest validation residual."
        )


def _train_metrics(rows, model: str, data: Labelled, bounds, part0) -> dict[str, Any]:
    """The chosen model's metrics plus the interval's coverage on the first test part."""
    from urbansig.models.predictor.splits import TEST

    lower, upper = bounds
    test_rows = data.rows[part0 == TEST]
    y = data.y
    inside = (y[test_rows] >= lower[test_rows]) & (y[test_rows] <= upper[test_rows])
    metrics = _metrics(rows, model)
    metrics["interval_coverage_test"] = float(inside.mean()) if len(inside) else float("nan")
    metrics.update({"log_target": data.log_target, "n_labelled": len(data.rows)})
    return metrics


def _emit_metrics(events, rows, metrics) -> None:
    for row in rows:
        for key in ("r2", "rmse", "mae", "r2_orig", "rmse_orig", "mae_orig"):
            events.metric(
                f"{row['model']}_{key}",
                _finite(row[f"{key}_mean"]),
                std=_finite(row[f"{key}_std"]),
            )
    events.metric("interval_coverage_test", _finite(metrics["interval_coverage_test"]))
    for name in ("literature", "baseline_literature"):
        for key in ("r2", "rmse", "mae"):
            if f"{name}_{key}" in metrics:
                events.metric(f"{name}_{key}", _finite(metrics[f"{name}_{key}"]))


def _model_fields(params: dict[str, Any], predictor, events) -> list[str]:
    """The TRAINED_MODEL's features; BadInput when FEATURE_FIELDS lists others, a warning
    when a FEATURE_PREFIX other than the default does not select them."""
    from urbansig.parameters import default

    trained = list(predictor.feature_names)
    listed = _listed_fields(params)
    if listed and set(listed) != set(trained):
        raise BadInput(
            f"FEATURE_FIELDS: the TRAINED_MODEL was trained on {len(trained)} features "
            f"({_names(trained)}), not on {_names(listed)}; leave FEATURE_FIELDS empty to "
            "apply the model to its own features, or train a new model on these fields."
        )
    prefix = params.get("feature_prefix") or ""
    if not listed and prefix != default("predictindicator", "feature_prefix"):
        if not all(f.startswith(prefix) for f in trained):
            events.warning(
                f"FEATURE_PREFIX {prefix!r} is not used with a TRAINED_MODEL: the model is "
                f"applied to the {len(trained)} features it was trained on ({_names(trained)})."
            )
    events.log(f"TRAINED_MODEL features: {_names(trained)}")
    return trained


def _apply(spec, events, frame, predictor, target_field) -> dict[str, Any]:
    """A TRAINED_MODEL predicts every region; the regions with a known target are scored."""
    from urbansig.io.region_table import feature_matrix, target_values

    fields = _model_fields(spec.params, predictor, events)
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise BadInput(
            f"TRAINED_MODEL: the model was trained on {len(fields)} features; "
            f"the INPUT layer lacks {len(missing)} of them: {_names(missing, 10)}. "
            "Compute the same features for this layer."
        )
    X = feature_matrix(frame, fields, "INPUT")
    events.progress(0.3, f"Applying a saved {predictor.model} model")
    pred = predictor.predict(X)
    if predictor.n_clipped:
        events.warning(
            f"{predictor.model}: {predictor.n_clipped} predictions left the target range seen "
            "in training on the log scale and were held to it."
        )
    bounds = predictor.predict_interval(X) if predictor.halfwidth is not None else None
    y = target_values(frame, target_field) if target_field else np.full(len(frame), np.nan)
    known, rows, metrics = _score_known(events, predictor, y, pred, bounds, target_field)
    outcome = Outcome(
        frame=frame,
        predictor=predictor,
        pred=pred,
        y=y,
        split_names=np.full(len(frame), "predicted", dtype=object),
        bounds=bounds,
        rows=rows,
        metrics=metrics,
        summary={"target_field": target_field, "applied_model": str(spec.inputs["trained_model"])},
        scatter=(y[known], pred[known], np.full(int(known.sum()), "test", dtype=object)),
        fields=fields,
    )
    return _write(spec, events, outcome)


def _score_known(
    events, predictor, y: np.ndarray, pred: np.ndarray, bounds, target_field: str | None
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """The applied model's scores on the regions with a known target: (which are scored,
    the metric row, the metrics)."""
    from urbansig.models.predictor import score

    known = np.isfinite(y)
    metrics: dict[str, Any] = {"n_predicted": len(y), "n_labelled": int(known.sum())}
    rows: list[dict[str, Any]] = []
    if predictor.log_target and np.any(y[known] < 0):
        events.warning(
            f"TARGET_FIELD: {target_field} has negative values; not scored on log scale."
        )
        known &= y >= 0
    if known.sum() >= 2 and np.ptp(y[known]) > 0:
        scored = score(y[known], pred[known], predictor.log_target)
        metrics.update(scored)
        rows.append(
            {"model": predictor.model, "repeats": 1, **{f"{k}_mean": v for k, v in scored.items()}}
        )
        rows[0].update({f"{k}_std": 0.0 for k in scored})
        for key, value in scored.items():
            events.metric(f"{predictor.model}_{key}", _finite(value))
    if bounds is not None and known.any():
        inside = (y[known] >= bounds[0][known]) & (y[known] <= bounds[1][known])
        metrics["interval_coverage_test"] = float(inside.mean())
        events.metric("interval_coverage_test", metrics["interval_coverage_test"])
    return known, rows, metrics


def _write(spec, events, outcome: Outcome) -> dict[str, Any]:
    """The output layer, and when asked the model file and the report."""
    from urbansig.io.vector import write_layer

    events.check_cancelled()
    out = _output_layer(events, outcome)
    events.progress(0.9, "Writing the layer")
    write_layer(out, spec.outputs["output"])
    outputs = {"output": spec.outputs["output"]}
    if spec.outputs.get("model_file"):
        outcome.predictor.training = outcome.summary
        outcome.predictor.save(spec.outputs["model_file"])
        outputs["model_file"] = spec.outputs["model_file"]
    if spec.outputs.get("report"):
        events.progress(0.95, "Writing the report")
        _report(spec, out, outcome)
        outputs["report"] = spec.outputs["report"]
    events.progress(1.0, "Done")
    return {"outputs": outputs, "metrics": _finite(outcome.metrics)}


def _output_layer(events, outcome: Outcome):
    """INPUT with the prediction columns (replacing any it had, with a warning)."""
    frame, y, bounds = outcome.frame, outcome.y, outcome.bounds
    out = frame.drop(columns=[c for c in OUTPUT_COLUMNS if c in frame.columns])
    if len(out.columns) < len(frame.columns):
        events.warning("INPUT already had prediction columns; they are replaced.")
    out[PREDICTION] = outcome.pred
    out[RESIDUAL] = np.where(np.isfinite(y), y - outcome.pred, np.nan)
    out[SPLIT] = outcome.split_names
    if bounds is not None:
        out[PRED_LOWER], out[PRED_UPPER] = bounds
    if outcome.literature is not None:
        out[PRED_LITERATURE] = outcome.literature
    return out


def _finite(value: Any) -> Any:
    """NaN and infinities to None (JSON events allow no NaN), through dicts and lists."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def _log_choice(choice: str, y: np.ndarray, auto) -> bool:
    if choice == "auto":
        return auto(y)
    return choice == "true"


def _metrics(rows: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """The chosen model's test metrics (flat) and every model's row under ``models``."""
    main = next(r for r in rows if r["model"] == model)
    flat = {k[: -len("_mean")]: v for k, v in main.items() if k.endswith("_mean")}
    flat.update({k: v for k, v in main.items() if k.endswith("_std")})
    flat["models"] = rows
    return flat


def _report(spec, out, outcome: Outcome) -> None:
    from urbansig.models.predictor.figures import residual_map, scatter_figure
    from urbansig.report import Report

    predictor, y, rows, metrics = outcome.predictor, outcome.y, outcome.rows, outcome.metrics
    summary, scatter, fields = outcome.summary, outcome.scatter, outcome.fields
    target = summary.get("target_field") or "target"
    log = predictor.log_target
    report = Report(f"Predict indicator: {target}")
    if "applied_model" in summary:
        report.paragraph(
            f"A saved {predictor.model} model ({summary['applied_model']}) applied to "
            f"{len(out)} regions; {metrics['n_labelled']} have a known {target}."
        )
    else:
        report.paragraph(
            f"{predictor.model} on {len(fields)} features, {summary['n_labelled']} labelled "
            f"regions, {summary['split']} split, {summary['repeats']} repeats (seed "
            f"{summary['seed']}); target on {'log1p' if log else 'the original'} scale. Metrics "
            "are on the test part of each repeat: mean ± standard deviation over repeats."
        )
    if rows:
        scale = "log1p" if log else "original"
        table = []
        for row in rows:
            line = {"model": row["model"]}
            for key, name in (("r2", "R2"), ("rmse", "RMSE"), ("mae", "MAE")):
                line[f"{name} ({scale})"] = _pm(row, key)
            for key, name in (("r2_orig", "R2"), ("rmse_orig", "RMSE"), ("mae_orig", "MAE")):
                line[f"{name} (original)"] = _pm(row, key)
            table.append(line)
        report.section("Test metrics").table(table)
    if "literature_r2" in metrics:
        report.section("Literature protocol").paragraph(
            f"Ridge(alpha=1) on the {len(fields)} features as given, "
            f"{metrics['literature_folds']}-fold out-of-fold predictions (shuffled, seed "
            f"{summary['seed']}), negatives set to 0, scored on the original scale over all "
            f"labelled regions: R2 {metrics['literature_r2']:.4f}, RMSE "
            f"{metrics['literature_rmse']:.4g}, MAE {metrics['literature_mae']:.4g}. This is "
            "how published region-embedding tables (HAFusion, MGFN, HREP) score, for "
            "comparison with them; the table above (repeated held-out splits, spread shown) is "
            "the better guide to how well the indicator can be predicted."
        )
    if "baseline_prefix" in metrics:
        _baseline_section(report, predictor.model, rows, metrics, len(fields))
    if predictor.halfwidth is not None:
        report.section("Prediction interval").paragraph(
            f"Split-conformal interval at {predictor.coverage:.0%} coverage: prediction ± "
            f"{predictor.halfwidth:.4g} on the {'log1p' if log else 'original'} scale "
            f"(pred_lower, pred_upper). Share of test regions inside: "
            f"{metrics.get('interval_coverage_test', float('nan')):.3f}."
            + (
                " The MLP's validation part also chose its stopping epoch, so the interval "
                "can fall slightly short of the nominal coverage."
                if predictor.model == "mlp"
                else ""
            )
        )
    y_true, y_pred, parts = scatter
    if len(y_true):
        report.section("Predicted against true").figure(
            scatter_figure(y_true, y_pred, parts, log, target),
            "scatter",
            "Dotted: the 45-degree line. Blue: validation, purple: test, grey: train.",
        )
    if not has_geometry(out):
        report.save(spec.outputs["report"])
        return
    residual = out[RESIDUAL].to_numpy(dtype=float)
    if log:
        residual = np.log1p(np.maximum(y, 0)) - np.log1p(out[PREDICTION].to_numpy(dtype=float))
    report.section("Residual map").figure(
        residual_map(out, residual, "residual (log1p)" if log else "residual"),
        "residual_map",
        "Red: under-predicted (truth above prediction), blue: over-predicted; grey: unknown.",
    )
    report.save(spec.outputs["report"])


def _baseline_section(report, model: str, rows, metrics: dict[str, Any], n_fields: int) -> None:
    """Which is ahead: the features given or the baseline fields."""
    prefix, n_base = metrics["baseline_prefix"], metrics["baseline_n_fields"]
    main = next(r for r in rows if r["model"] == model)
    base = next(r for r in rows if r["model"] == f"{model}{ON_BASELINE}")
    gap = base["r2_mean"] - main["r2_mean"]
    pairs = [f"{model}: R2 {main['r2_mean']:.4f} on the {n_fields} features given, "
             f"{base['r2_mean']:.4f} on the {n_base} {prefix} fields"]  # fmt: skip
    if "baseline_literature_r2" in metrics:
        pairs.append(
            f"literature protocol: {metrics['literature_r2']:.4f} against "
            f"{metrics['baseline_literature_r2']:.4f}"
        )
    verdict = (
        "The baseline is ahead: for this indicator use the baseline fields as features "
        f"(FEATURE_PREFIX {prefix}) or report both."
        if gap > max(base["r2_std"], main["r2_std"], 0.01)
        else "The features given are ahead of the baseline or level with it."
        if gap <= 0
        else "The two are within the repeats' spread of each other."
    )
    report.section("Features against the baseline fields").paragraph(
        "; ".join(pairs) + f" (same splits). {verdict}"
    )


def _pm(row: dict[str, Any], key: str) -> str:
    return f"{row[f'{key}_mean']:.4g} ± {row[f'{key}_std']:.2g}"


JOB = Job(
    task="predictindicator",
    summary="Predict an indicator from region features (MLP, ridge, boosting), evaluated honestly",
    run=run,
)
