"""Screen embedregionsflows settings on VALIDATION data only (Chicago; never San Francisco).

    PYTHONPATH=backend python bench/screen_flows.py --seeds 0 1 2 --set dim=32 epochs=300

Prints R2 (published protocol) per task beside the trivial floors. San Francisco is the
test city: it is scored once, by bench/bench_region_benchmarks.py, with the chosen defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from region_protocol import floors, load_city, score_all  # noqa: E402

CITY = "Chi"  # validation only


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def embed(d, settings, seed: int) -> np.ndarray:
    from urbansig.models.flows import FlowData, FlowEmbedder

    data = FlowData(np.arange(len(d["od"])), d["od"], {"poi": d["poi"], "landuse": d["landuse"]})
    return FlowEmbedder(settings, device="cpu", seed=seed).fit(data).transform(data)


def main() -> None:
    from urbansig.models.flows import FlowSettings

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", nargs="*", default=[], help="FlowSettings overrides key=value")
    ap.add_argument("--floors", action="store_true")
    args = ap.parse_args()
    d = load_city(CITY)
    if args.floors:
        for name, feats in floors(d).items():
            print(
                f"{name:32s}",
                " ".join(f"{k} {v:.3f}" for k, v in score_all(feats, d, CITY).items()),
            )
    overrides = dict(item.split("=", 1) for item in args.set)
    known = {f.name for f in fields(FlowSettings)}
    unknown = set(overrides) - known
    if unknown:
        raise SystemExit(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
    settings = FlowSettings(**{k: parse_value(v) for k, v in overrides.items()})
    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        scores = score_all(embed(d, settings, seed), d, CITY)
        rows.append(scores)
        print(
            f"seed {seed} ({time.perf_counter() - started:.1f} s)",
            " ".join(f"{k} {v:.3f}" for k, v in scores.items()),
            flush=True,
        )
    mean = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
    std = {k: np.std([r[k] for r in rows]) for k in rows[0]}
    print(
        "MEAN", " ".join(f"{k} {mean[k]:.3f}±{std[k]:.3f}" for k in mean), "|", " ".join(args.set)
    )


if __name__ == "__main__":
    main()
