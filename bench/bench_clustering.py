"""Speed of the ``clustertraffictiles`` methods, and the synthetic cities' loader.

Speed (torch + numpy only; scikit-learn for spatial k-means): for 10,000 and 100,000 tiles
of synthetic profiles (16 services x 168 steps, 8-neighbour grid), deep contrastive
clustering's training throughput (tiles/s over one epoch) and inference throughput, and
spatial k-means' fit and apply times; peak memory, device. Quality is measured on the
validation / test cities of bench/clustering_protocol.py (bench_clustering_protocol.py).

    python bench/bench_clustering.py            # CPU, or the GPU with --device cuda
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from urbansig.models.contrastive_clustering import ClusterSettings, TrafficClusterer  # noqa: E402
from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings  # noqa: E402
from urbansig.models.traffic import TrafficData  # noqa: E402
from urbansig.training import resolve_device  # noqa: E402

if TYPE_CHECKING:
    from urbansig.synth.writer import CityVariation

CITY = "Demoville"


def load_city(work: Path, seed: int, size: str, variation: CityVariation | None = None) -> dict:
    """Profiles, land-use labels and tile neighbours of a generated city (cached as .npz)."""
    from urbansig.synth.writer import CityVariation  # the geo stack: not for --speed-only

    variation = variation or CityVariation()
    tag = (
        ""
        if variation == CityVariation()
        else "-{n_land_uses}-{imbalance:g}-{noise:g}".format(**vars(variation))
    )
    cache = work / f"{size}{seed}{tag}.npz"
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

    folder = work / f"{size}{seed}{tag}"
    if not (folder / "manifest.json").exists():
        generate_city(folder, seed=seed, size=size, variation=variation)
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
    shutil.rmtree(folder)  # the profiles are cached; the city's files are not needed again
    return load_city(work, seed, size, variation)


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
        settings = ClusterSettings(
            8,
            encoder=args.encoder,
            epochs=4,  # 3 representation epochs + 1 refinement epoch
            batch_size=args.batch_size,
            max_train_tiles=min(n, args.max_train_tiles),
        )
        model = TrafficClusterer(settings, device=args.device)
        data = TrafficData(values, nb)
        started = time.perf_counter()
        model.fit(data)
        fit_seconds = time.perf_counter() - started  # includes the k-means prototype start
        train_tps = model.history.samples_per_second
        started = time.perf_counter()
        model.predict(data)
        infer = time.perf_counter() - started
        started = time.perf_counter()
        spatial = SpatialKMeans(SpatialSettings(n_clusters=8)).fit(data)
        spatial_fit = time.perf_counter() - started
        started = time.perf_counter()
        spatial.predict(data)
        spatial_apply = time.perf_counter() - started
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
            "spatial_kmeans_fit_seconds": round(spatial_fit, 1),
            "spatial_kmeans_apply_seconds": round(spatial_apply, 1),
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
    parser.add_argument("--max-train-tiles", type=int, default=8_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--encoder", default="dense", choices=("dense", "small", "large"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# {platform.node()} torch {torch.__version__} threads {torch.get_num_threads()}")
    print("\nSpeed:")
    print(markdown(speed(args)))


if __name__ == "__main__":
    main()
