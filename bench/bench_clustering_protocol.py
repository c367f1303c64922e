"""Traffic clustering on the TEST cities, through the backend job with its defaults.

For each test city of bench/clustering_protocol.py (never used for a choice): the job with
default settings (METHOD spatial_kmeans, N_CLUSTERS auto) and LABEL_FIELD land_use; the
same at the true number of land uses, for spatial k-means and for deep contrastive
clustering (METHOD contrastive, defaults otherwise), each with the baselines the job
reports beside it; transfer: the default model fitted on the validation city with the same
settings, applied to the test city (MODEL), against the model fitted on the test city.
Prints markdown tables (mean +- standard deviation over the cities).

    PYTHONPATH=backend .venv/backend/bin/python bench/bench_clustering_protocol.py --work /tmp/ccproto
    ... --cities validation   (the same table on the validation cities)
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

import clustering_protocol as protocol  # noqa: E402

BASELINES = ("kmeans", "pca_kmeans", "smoothed_kmeans", "spatial_kmeans")


def city_folder(work: Path, city: protocol.City) -> Path:
    """The generated city (NetMob folder, tiles with land_use), made once."""
    from urbansig.synth import CityVariation, generate_city

    folder = (
        work / f"{protocol.SIZE}{city.seed}-{city.n_land_uses}-{city.imbalance:g}-{city.noise:g}"
    )
    if not (folder / "manifest.json").is_file():
        variation = CityVariation(city.n_land_uses, city.imbalance, city.noise)
        generate_city(folder, seed=city.seed, size=protocol.SIZE, variation=variation)
    return folder


def run_job(folder: Path, out: Path, params: dict[str, Any], model: Path | None = None) -> dict:
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    out.mkdir(parents=True, exist_ok=True)
    inputs = {"input": str(folder / "netmob"), "tiles": str(folder / "tiles.gpkg")}
    outputs = {"output": str(out / "clusters.gpkg")}
    if model is None:
        outputs["model_output"] = str(out / "model.pt")
    else:
        inputs["model"] = str(model)
    spec = JobSpec(
        task="clustertraffictiles",
        inputs=inputs,
        params={"label_field": "land_use", **params},
        outputs=outputs,
        device="cpu",
        seed=0,
    )
    started = time.perf_counter()
    metrics = run_spec(spec, Events(io.StringIO(), min_interval=1.0))["metrics"]
    metrics["seconds"] = time.perf_counter() - started
    return metrics


def score_city(work: Path, test: protocol.City, source: protocol.City) -> dict[str, Any]:
    folder = city_folder(work, test)
    manifest = json.loads((folder / "manifest.json").read_text())
    true_k = len(manifest["land_uses_present"])
    out = work / "runs" / folder.name
    default = run_job(folder, out / "default", {})
    at_k = run_job(folder, out / "spatial_true_k", {"n_clusters": str(true_k)})
    deep = run_job(
        folder, out / "deep_true_k", {"n_clusters": str(true_k), "method": "contrastive"}
    )
    source_out = work / "runs" / f"source-{source.seed}"
    run_job(city_folder(work, source), source_out, {})
    transferred = run_job(folder, out / "transfer", {}, model=source_out / "model.pt")
    row = {
        "city": test.name,
        "true_k": true_k,
        "auto_k": default["n_clusters"],
        "default_method": default["method"],
        "default (auto K)": default["ari"],
        **{f"{b} (auto K)": default[f"{b}_ari"] for b in BASELINES if f"{b}_ari" in default},
        "spatial_kmeans (true K)": at_k["ari"],
        **{f"{b} (true K)": at_k[f"{b}_ari"] for b in BASELINES if f"{b}_ari" in at_k},
        "contrastive (true K)": deep["ari"],
        "transferred default model": transferred["ari"],
        "seconds: default run": default["seconds"],
        "seconds: contrastive run": deep["seconds"],
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    lines = ["| | " + " | ".join(r["city"] for r in rows) + " | mean ± std |"]
    lines.append("|---|" + "---|" * (len(rows) + 1))
    for key in ("true_k", "auto_k"):
        lines.append(f"| {key} | " + " | ".join(str(r[key]) for r in rows) + " | |")
    for key in keys:
        values = np.array([r[key] for r in rows], dtype=float)
        cells = " | ".join(f"{v:.3f}" for v in values)
        lines.append(f"| {key} | {cells} | {values.mean():.3f} ± {values.std():.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ccproto")
    parser.add_argument("--cities", choices=("test", "validation"), default="test")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cities = protocol.TEST if args.cities == "test" else protocol.VALIDATION
    rows = [score_city(work, c, s) for c, s in zip(cities, protocol.VALIDATION, strict=True)]
    print(f"\nARI with the true land use, {args.cities} cities ({protocol.SIZE}), job defaults:")
    print(table(rows))


if __name__ == "__main__":
    main()
