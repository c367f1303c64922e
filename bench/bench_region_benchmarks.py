"""Benchmark: region embeddings on the real region benchmarks (Chicago, San Francisco).

Runs the backend jobs ``embedregionsflows`` and ``embedregionsmusecl`` with their DEFAULT
settings (the region data written as plain CSV tables: regions, a long OD table, POI and
land-use count tables; MuseCL fuses the count tables, aligned to the OD-structure flows),
scores the OUTPUT with the published protocol (bench/region_protocol.py) for seeds 0-2,
and prints it beside the published figures, the trivial floors and ablations of the
embedding's two blocks (learned block only; count-intensity columns only; the floor plus
the intensity columns, i.e. no learning at all).

    PYTHONPATH=backend python bench/bench_region_benchmarks.py --city Chi
    PYTHONPATH=backend python bench/bench_region_benchmarks.py --city SF   # the test city

Chicago is the validation city (defaults were screened on it with bench/screen_flows.py);
San Francisco is the test city, scored once with the chosen defaults.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from region_protocol import CITIES, PUBLISHED, TASKS, floors, load_city, score_all  # noqa: E402


def write_tables(d: dict[str, np.ndarray], folder: Path) -> dict[str, object]:
    """The city as the CSV tables a user would have; returns the job's inputs."""
    import pandas as pd

    n = len(d["od"])
    ids = np.arange(n)
    pd.DataFrame({"region_id": ids}).to_csv(folder / "regions.csv", index=False)
    origin, destination = np.nonzero(d["od"])
    pd.DataFrame(
        {"origin": origin, "destination": destination, "count": d["od"][origin, destination]}
    ).to_csv(folder / "od.csv", index=False)
    for view in ("poi", "landuse"):
        table = pd.DataFrame(d[view], columns=[f"{view}_{k}" for k in range(d[view].shape[1])])
        table.insert(0, "region_id", ids)
        table.to_csv(folder / f"{view}.csv", index=False)
    return {
        "regions": str(folder / "regions.csv"),
        "od": [str(folder / "od.csv")],
        "views": [str(folder / "poi.csv"), str(folder / "landuse.csv")],
    }


def run_job(
    task: str, inputs: dict[str, object], folder: Path, seed: int, params: dict | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``task`` (embedregionsflows or embedregionsmusecl) with default settings (but
    ``params``) through the backend; (embedding, the no-learning baseline columns if any,
    seconds)."""
    import pandas as pd

    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    output = folder / f"{task}_{seed}.gpkg"
    if task == "embedregionsmusecl":  # one OD table
        inputs = {**inputs, "od": inputs["od"][0]}  # type: ignore[index]
    spec = JobSpec(
        task=task,
        inputs=dict(inputs),
        params={"id_field": "region_id", **(params or {})},
        outputs={"output": str(output)},
        device="cpu",
        seed=seed,
    )
    started = time.perf_counter()
    run_spec(spec, Events(stream=io.StringIO()))
    seconds = time.perf_counter() - started
    from urbansig.io.vector import read_table

    frame = read_table(output, "OUTPUT")
    frame = frame.sort_values("region_id") if isinstance(frame, pd.DataFrame) else frame

    def block(prefix: str) -> np.ndarray:
        columns = sorted(
            (c for c in frame.columns if c.startswith(prefix)), key=lambda c: int(c[len(prefix) :])
        )
        return frame[columns].to_numpy(dtype=np.float64)

    return block("emb_"), block("base_"), seconds


def main() -> None:
    from urbansig.models.flows import FlowSettings

    ap = argparse.ArgumentParser()
    ap.add_argument("--city", choices=sorted(CITIES), default="Chi")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--musecl",
        nargs="*",
        default=["structure"],
        help="also MuseCL on the same inputs with these FLOW_ENCODER values (none: skip)",
    )
    args = ap.parse_args()
    d = load_city(args.city)
    learned_dim = FlowSettings().dim
    rows: dict[str, list[dict[str, float]]] = {}
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = write_tables(d, folder)
        for seed in args.seeds:
            emb, baseline, secs = run_job("embedregionsflows", inputs, folder, seed)
            seconds.append(secs)
            intensity = emb[:, learned_dim:]
            variants = {
                "embedregionsflows (defaults)": emb,
                "  learned block only": emb[:, :learned_dim],
                "  count-intensity columns only": intensity,
            }
            for encoder in args.musecl:
                feats, _, musecl_secs = run_job(
                    "embedregionsmusecl", inputs, folder, seed, {"flow_encoder": encoder}
                )
                label = "embedregionsmusecl (defaults)" if encoder == "structure" else ""
                variants[label or f"embedregionsmusecl, FLOW_ENCODER {encoder}"] = feats
                print(f"seed {seed}: MuseCL ({encoder}) {musecl_secs:.1f} s", flush=True)
            for name, feats in variants.items():
                rows.setdefault(name, []).append(score_all(feats, d, args.city))
            print(f"seed {seed}: {secs:.1f} s", flush=True)
        base = floors(d)
        base["job's base_ columns: PCA 16 + intensity (no learning)"] = baseline
    name, folds = CITIES[args.city]
    print(f"\n{name}: {len(d['od'])} regions, Ridge(alpha=1), KFold({folds}), R2 out-of-fold")
    header = "| features | " + " | ".join(TASKS) + " |"
    print(header)
    print("|" + "---|" * (len(TASKS) + 1))
    for label, runs in rows.items():
        cells = [
            f"{np.mean([r[t] for r in runs]):.3f} ± {np.std([r[t] for r in runs]):.3f}"
            for t in TASKS
        ]
        print(f"| {label} (seeds {', '.join(map(str, args.seeds))}) | " + " | ".join(cells) + " |")
    for label, feats in base.items():
        scores = score_all(feats, d, args.city)
        print(f"| {label} | " + " | ".join(f"{scores[t]:.3f}" for t in TASKS) + " |")
    print(
        "| HAFusion, published (test-selected epoch) | "
        + " | ".join(f"{PUBLISHED[args.city][t]:.3f}" for t in TASKS)
        + " |"
    )
    print(f"\nseconds per training run (CPU, through the backend job): {np.mean(seconds):.1f}")


if __name__ == "__main__":
    main()
