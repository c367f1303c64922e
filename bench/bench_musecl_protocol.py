"""MuseCL on the validation / test city protocol: fused embedding against the concatenation.

Validation cities (demo-city generator seeds 0-4, tiny) are the only ones a default is
screened on (``--set validation``, every ``--flow-encoder`` given); the test cities (seeds
100-104 tiny, and seed 100 small with ``--small``) are scored once with the defaults
(``--set test``). Each city runs ``bench_musecl.py ablation`` (the job's readers, every
modality, indicator ``population_density``, 5 random 60/20/20 splits, ridge and MLP) and
the table gives, per predictor, MuseCL, the concatenation of its modality embeddings (the
paper's Concat) and the concatenation of the fused ones, mean ± std over the cities.

    PYTHONPATH=backend python bench/bench_musecl_protocol.py --set validation \
        --flow-encoder structure totals
    PYTHONPATH=backend python bench/bench_musecl_protocol.py --set test
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEEDS = {"validation": (0, 1, 2, 3, 4), "test": (100, 101, 102, 103, 104)}
VARIANTS = ("musecl", "concat", "concat_fused", "sum")


def run_city(seed: int, size: str, flow_encoder: str, folder: Path) -> dict:
    """One city's ablation rows (bench_musecl.py ablation in its own process)."""
    out = folder / f"{size}_{seed}_{flow_encoder}.json"
    command = [
        sys.executable,
        str(HERE / "bench_musecl.py"),
        "ablation",
        "--city",
        str(folder / f"city_{size}_{seed}"),
        "--size",
        size,
        "--seed",
        str(seed),
        "--flow-encoder",
        flow_encoder,
        "--json",
        str(out),
    ]
    subprocess.run(command, check=True, cwd=HERE.parent / "backend", capture_output=True)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=sorted(SEEDS), default="validation")
    ap.add_argument("--flow-encoder", nargs="+", default=["structure"])
    ap.add_argument("--small", action="store_true", help="also the small city of the first seed")
    ap.add_argument("--folder", default="", help="keep the generated cities here")
    args = ap.parse_args()
    cities = [(seed, "tiny") for seed in SEEDS[args.set]]
    if args.small:
        cities.append((SEEDS[args.set][0], "small"))
    folder = Path(args.folder or tempfile.mkdtemp(prefix="musecl_protocol_"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"cities: {args.set} {cities}; folder {folder}")
    print("\n| flow encoder | predictor | city | " + " | ".join(VARIANTS) + " |")
    print("|---|---|---|" + "---|" * len(VARIANTS))
    summary: dict[tuple[str, str], dict[str, list[float]]] = {}
    for encoder in args.flow_encoder:
        for seed, size in cities:
            rows = run_city(seed, size, encoder, folder)["rows"]
            for model in ("ridge", "mlp"):
                r2 = {r["variant"]: r["r2_mean"] for r in rows if r["model"] == model}
                cells = [f"{r2[v]:.3f}" if v in r2 else "-" for v in VARIANTS]
                print(f"| {encoder} | {model} | {size} {seed} | " + " | ".join(cells) + " |")
                for v in VARIANTS:
                    if v in r2:
                        summary.setdefault((encoder, model), {}).setdefault(v, []).append(r2[v])
            sys.stdout.flush()
    print("\nmean ± std over the cities (R2 of log population_density, held-out regions)")
    print("| flow encoder | predictor | " + " | ".join(VARIANTS) + " | MuseCL - concat |")
    print("|---|---|" + "---|" * (len(VARIANTS) + 1))
    for (encoder, model), per in summary.items():
        cells = [
            f"{np.mean(per[v]):.3f} ± {np.std(per[v]):.3f}" if v in per else "-" for v in VARIANTS
        ]
        gap = np.array(per["musecl"]) - np.array(per["concat"])
        margin = f"{gap.mean():+.3f} ± {gap.std():.3f} (above in {(gap > 0).sum()}/{len(gap)})"
        print(f"| {encoder} | {model} | " + " | ".join(cells) + f" | {margin} |")


if __name__ == "__main__":
    main()
