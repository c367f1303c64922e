"""Benchmark of ``clustertraffictiles``: quality on the synthetic city, transfer, speed.

Quality (needs the geo stack): generates (or reuses) two synthetic cities with seeds A and
B, reads their NetMob folders, trains contrastive clustering on A and compares it with
k-means and PCA + k-means on the same profiles (ARI / NMI / ACC / silhouette /
Davies-Bouldin / spatial coherence); transfer: the model trained on A labels B, against a
model trained on B. Speed (torch + numpy only): training throughput (tiles/s over one
epoch) and inference throughput for 10,000 and 100,000 tiles, peak memory, device.

    cd backend && python ../bench/bench_clustering.py --work /tmp/ccbench --size small
    cd backend && python ../bench/bench_clustering.py --speed-only
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from urbansig.models.contrastive_clustering import TrafficClusterer  # noqa: E402
from urbansig.training import resolve_device  # noqa: E402

CITY = "Demoville"


def load_city(work: Path, seed: int, size: str) -> dict:
    """Profiles, land-use labels and tile neighbours of a generated city (cached as .npz)."""
    cache = work / f"{size}{seed}.npz"
    if cache.exists():
        d = np.load(cache)
        nb = np.split(d["nb_idx"], d["nb_ptr"][1:-1])
        return {
            "values": d["values"],
            "labels": d["labels"],
            "neighbours": [a.tolist() for a in nb],
            "services": [str(s) for s in d["services"]],
        }
    from urbansig.grids import polygon_neighbours
    from urbansig.io.netmob import read_netmob_profiles
    from urbansig.io.vector import read_layer
    from urbansig.synth import generate_city

    folder = work / f"{size}{seed}"
    if not (folder / "manifest.json").exists():
        generate_city(folder, seed=seed, size=size)
    prof = read_netmob_profiles(folder / "netmob", CITY)
    tiles = read_layer(folder / "tiles.gpkg", "TILES").set_index("tile_id")
    common = np.intersect1d(prof.tile_ids, tiles.index.to_numpy())
    position = {t: i for i, t in enumerate(prof.tile_ids.tolist())}
    values = prof.values[[position[t] for t in common.tolist()]]
    keep = values.reshape(len(values), -1).sum(axis=1) > 0
    common, values = common[keep], values[keep]
    layer = tiles.loc[common]
    nb = polygon_neighbours(layer.geometry)
    ptr = np.concatenate([[0], np.cumsum([len(a) for a in nb])])
    np.savez(
        cache,
        values=values,
        labels=layer["land_use"].to_numpy(),
        nb_idx=np.concatenate(nb),
        nb_ptr=ptr,
        services=np.array(prof.services),
    )
    return load_city(work, seed, size)


def quality(args: argparse.Namespace) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from urbansig.models.contrastive_clustering.evaluate import (
        compare_methods,
        evaluate_assignment,
    )

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    a = load_city(work, args.seed_a, args.size)
    b = load_city(work, args.seed_b, args.size)
    k = args.k or int(a["labels"].max()) + 1
    results: dict = {"k": k, "n_tiles_a": len(a["values"]), "n_tiles_b": len(b["values"])}

    def train(city: dict, seed: int = 0) -> TrafficClusterer:
        kwargs = {"normalisation": args.normalisation} if args.normalisation else {}
        if args.entropy_weight is not None:
            kwargs["entropy_weight"] = args.entropy_weight
        model = TrafficClusterer(
            k,
            encoder=args.encoder,
            epochs=args.epochs,
            max_train_tiles=args.max_train_tiles,
            device=args.device,
            seed=seed,
            **kwargs,
        )
        return model.fit(city["values"], city["neighbours"], city["services"], "weekly_hourly")

    seeds_rows, models_a = [], []
    for seed in range(args.model_seeds):
        started = time.perf_counter()
        model = train(a, seed)
        seconds = time.perf_counter() - started
        reps, probs = model.infer(a["values"], a["neighbours"])
        row = evaluate_assignment(probs.argmax(1), reps, a["neighbours"], a["labels"], 99, seed=0)
        seeds_rows.append({"method": f"contrastive clustering, seed {seed}", **row})
        seeds_rows[-1]["train_seconds"] = seconds
        models_a.append(model)
        print(json.dumps(seeds_rows[-1]), flush=True)
    results["train_seconds_a"] = float(np.mean([r["train_seconds"] for r in seeds_rows]))
    model_a = models_a[0]
    reps, probs = model_a.infer(a["values"], a["neighbours"])
    rows = compare_methods(
        (probs.argmax(1), reps),
        a["values"],
        a["neighbours"],
        a["labels"],
        k,
        normalisation=model_a.normalisation,
        permutations=99,
    )
    rows[0]["method"] = "contrastive clustering (cluster head), seed 0"
    mean = {
        key: float(np.mean([r[key] for r in seeds_rows]))
        for key in rows[0]
        if key != "method" and isinstance(rows[0][key], (int, float))
    }
    ari_values = [r["ari"] for r in seeds_rows]
    mean["method"] = (
        f"contrastive clustering, mean of {len(seeds_rows)} seeds "
        f"(ARI {np.mean(ari_values):.3f} +- {np.std(ari_values):.3f}, "
        f"min {np.min(ari_values):.3f})"
    )
    # Extra row (not the method): k-means on the learned representation.
    on_reps = KMeans(k, n_init=4, random_state=0).fit_predict(reps)
    extra = evaluate_assignment(on_reps, reps, a["neighbours"], a["labels"], 99, seed=0)
    rows[1:1] = [*seeds_rows[1:], mean, {"method": "k-means on the deep representation", **extra}]
    results["quality_a"] = rows
    model_b = train(b)
    on_b = model_b.predict(b["values"], b["neighbours"])[0]
    transferred = model_a.predict(b["values"], b["neighbours"])[0]
    results["transfer"] = {
        "ari_trained_on_b": adjusted_rand_score(b["labels"], on_b),
        "ari_transferred_a_to_b": adjusted_rand_score(b["labels"], transferred),
    }
    return results


def speed(args: argparse.Namespace) -> list[dict]:
    """Throughput on synthetic profiles of 16 services x 168 steps with grid neighbours."""
    device = resolve_device(args.device)
    rows = []
    for n in args.sizes:
        side = int(np.ceil(np.sqrt(n)))
        rng = np.random.default_rng(0)
        base = rng.lognormal(0, 1, (8, 16, 168)).astype(np.float32)
        values = base[rng.integers(0, 8, n)] * rng.lognormal(5, 1, (n, 1, 1)).astype(np.float32)
        idx = np.arange(n)
        y, x = np.divmod(idx, side)
        nb = [[] for _ in range(n)]
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    ok = (0 <= y + dy) & (y + dy < side) & (0 <= x + dx) & (x + dx < side)
                    j = (y + dy) * side + x + dx
                    ok &= j < n
                    for i in np.flatnonzero(ok):
                        nb[i].append(int(j[i]))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        model = TrafficClusterer(
            8,
            encoder=args.encoder,
            epochs=4,  # 3 representation epochs + 1 refinement epoch
            batch_size=args.batch_size,
            max_train_tiles=min(n, args.max_train_tiles),
            device=args.device,
        )
        started = time.perf_counter()
        model.fit(values, nb)
        fit_seconds = time.perf_counter() - started  # includes the k-means prototype start
        train_tps = model.history.samples_per_second
        started = time.perf_counter()
        model.predict(values, nb)
        infer = time.perf_counter() - started
        row = {
            "n_tiles": n,
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(),
            "encoder": args.encoder,
            "threads": torch.get_num_threads(),
            "train_tiles_per_s": round(train_tps, 1),
            "tiles_per_epoch": min(n, args.max_train_tiles),
            "epoch_seconds": round(model.history.seconds / 4, 1),
            "fit_seconds_4_epochs": round(fit_seconds, 1),
            "inference_tiles_per_s": round(n / infer, 1),
            "inference_seconds": round(infer, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if device.type == "cuda":
            row["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ccbench", help="folder for generated cities")
    parser.add_argument("--size", default="small", help="synthetic city size")
    parser.add_argument("--seed-a", type=int, default=0)
    parser.add_argument("--seed-b", type=int, default=1)
    parser.add_argument("--k", type=int, default=0, help="clusters (default: land-use classes)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--max-train-tiles", type=int, default=8_000)
    parser.add_argument("--model-seeds", type=int, default=3, help="deep model seeds on city A")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--normalisation", default="", help="model default when empty")
    parser.add_argument("--entropy-weight", type=float, default=None, help="model default")
    parser.add_argument("--encoder", default="dense", choices=("dense", "small", "large"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--quality-only", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# {platform.node()} torch {torch.__version__} threads {torch.get_num_threads()}")
    if not args.speed_only:
        q = quality(args)
        print(f"\nQuality on {args.size} city seed {args.seed_a} (K={q['k']}):")
        keys = [
            "method",
            "ari",
            "nmi",
            "acc",
            "silhouette",
            "davies_bouldin",
            "coherence",
            "coherence_random",
        ]
        print(markdown([{k: r.get(k) for k in keys} for r in q["quality_a"]]))
        print(f"train seconds per model (A, mean): {q['train_seconds_a']:.1f}")
        print(f"\nTransfer seed {args.seed_a} -> {args.seed_b}: {json.dumps(q['transfer'])}")
    if not args.quality_only:
        print("\nSpeed:")
        print(markdown(speed(args)))


if __name__ == "__main__":
    main()
