"""The main job: the whole pipeline on a freshly generated demo city, through qgis_process.

Run with QGIS's Python from the plugin folder (``make demo`` does it):
``python3 -m plugin.demo_pipeline --out out [--quick]``. Writes result GeoPackages with
embedded styles, a QGIS project, headless map images and one HTML report to ``--out``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SIZES = {"quick": 0, "default": 1}  # enum indices of SIZE: tiny, small


@dataclass
class Stage:
    """One qgis_process run of the pipeline."""

    key: str
    title: str
    algorithm: str
    parameters: dict[str, object]
    seconds: float = 0.0
    results: dict = field(default_factory=dict)


def qgis_process_binary() -> str:
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("qgis_process is not installed: run 'make setup'.")


def stages(out: Path, quick: bool) -> list[Stage]:
    """The pipeline: demo city -> clustering; regions -> MuseCL / RAW -> predict indicator."""
    city = out / "city"
    epochs = (lambda q, d: q) if quick else (lambda q, d: d)  # training budget per size
    return [
        Stage(
            "city",
            "Generate the demo city",
            "urbansig:generatedemocity",
            {
                "SIZE": SIZES["quick" if quick else "default"],
                "DAYS": 7,
                "SEED": 0,
                "OUTPUT": city,
            },
        ),
        Stage(
            "clusters",
            "Cluster mobile traffic tiles",
            "urbansig:clustertraffictiles",
            {
                "TRAFFIC_FOLDER": city / "netmob",
                "CITY": "Demoville",
                "TILES": city / "tiles.gpkg",
                "LABEL_FIELD": "land_use",
                "OUTPUT": out / "clusters.gpkg",
                "MODEL_FILE": out / "clusters_model.pt",
                "REPORT": out / "clusters_report.html",
            },
        ),
        Stage(
            "musecl",
            "Embed regions (MuseCL)",
            "urbansig:embedregionsmusecl",
            {
                "REGIONS": city / "regions.gpkg",
                "RASTER": city / "remote_sensing.tif",
                "STREETVIEW": city / "streetview.gpkg",
                "POIS": city / "pois.gpkg",
                "OD": city / "od_flows.csv",
                "EPOCHS_IMAGE": epochs(1, 3),
                "IMAGES_PER_EPOCH": epochs(256, 1024),
                "EPOCHS_TABULAR": epochs(10, 40),
                "EPOCHS_FUSION": epochs(10, 40),
                "ABLATION_FIELD": "population_density",
                "OUTPUT": out / "musecl_regions.gpkg",
                "MODEL_FILE": out / "musecl_model.pt",
                "REPORT": out / "musecl_report.html",
            },
        ),
        Stage(
            "musecl_predict",
            "Predict population density from MuseCL embeddings",
            "urbansig:predictindicator",
            {
                "INPUT": out / "musecl_regions.gpkg",
                "TARGET_FIELD": "population_density",
                "FEATURE_PREFIX": "emb_",
                "REPEATS": 3,
                "OUTPUT": out / "musecl_prediction.gpkg",
                "REPORT": out / "musecl_prediction_report.html",
            },
        ),
        Stage(
            "raw",
            "Pool trajectories to regions (RAW)",
            "urbansig:pooltrajectoriesraw",
            {
                "TRAJECTORIES": city / "trajectories.csv",
                "REGIONS": city / "regions.gpkg",
                "USER_LABELS": city / "users.csv",
                "LABEL_FIELD": "is_commuter",
                "EPOCHS": epochs(3, 10),
                "OUTPUT": out / "raw_regions.gpkg",
                "OUTPUT_USERS": out / "raw_users.csv",
                "MODEL_FILE": out / "raw_model.pt",
                "REPORT": out / "raw_report.html",
            },
        ),
        Stage(
            "raw_predict",
            "Predict trip counts from RAW region embeddings",
            "urbansig:predictindicator",
            {
                "INPUT": out / "raw_regions.gpkg",
                "TARGET_FIELD": "trip_count",
                "FEATURE_PREFIX": "emb_",
                "REPEATS": 3,
                "OUTPUT": out / "raw_prediction.gpkg",
                "REPORT": out / "raw_prediction_report.html",
            },
        ),
    ]


def run_stage(stage: Stage, binary: str, log_dir: Path) -> None:
    args = [binary, "--json", "run", stage.algorithm, "--"]
    args += [f"{key}={value}" for key, value in stage.parameters.items()]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True)
    stage.seconds = time.monotonic() - started
    (log_dir / f"{stage.key}.log").write_text(done.stdout + "\n" + done.stderr)
    if done.returncode != 0:
        raise SystemExit(
            f"Stage '{stage.title}' failed ({stage.algorithm}); see {log_dir / stage.key}.log:\n"
            + done.stderr[-3000:]
        )
    stage.results = json.loads(done.stdout[done.stdout.index("{") :])["results"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--quick", action="store_true", help="the tiny city (under 3 minutes)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log_dir = out / "logs"
    log_dir.mkdir(exist_ok=True)
    binary = qgis_process_binary()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.monotonic()
    pipeline = stages(out, args.quick)
    for number, stage in enumerate(pipeline, 1):
        print(f"[{number}/{len(pipeline) + 1}] {stage.title} ...", flush=True)
        run_stage(stage, binary, log_dir)
        print(f"      done in {stage.seconds:.0f} s", flush=True)
    print(f"[{len(pipeline) + 1}/{len(pipeline) + 1}] Maps, project and report ...", flush=True)
    from .demo_outputs import write_outputs

    report = write_outputs(out, pipeline)
    total = time.monotonic() - started
    print(f"Total {total:.0f} s. Report: {report}", flush=True)
    (out / "timings.json").write_text(
        json.dumps({"total_s": total, **{s.key: s.seconds for s in pipeline}}, indent=1)
    )
    return 0


def stage_metrics(stage: Stage) -> dict:
    try:
        return json.loads(stage.results.get("METRICS", "{}"))
    except ValueError:
        return {}


def escape(value: object) -> str:
    return html.escape(str(value))


if __name__ == "__main__":
    sys.exit(main())
