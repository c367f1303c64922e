"""Benchmark of the synthetic city: generation time and size, and how hard its land use is.

Generates a city, reads its NetMob files back with ``urbansig.io.netmob`` (weekly hourly
profiles, DL + UL), and prints ARI against the true land use for simple baselines:
k-means on sum-normalised profiles, on column-standardised normalised profiles, on per-tile
log1p z-scores (the contrastive clustering input), on a PCA of log per-service shapes and
shares, and a supervised logistic regression (3-fold) as a rough ceiling. Usage:

    cd backend && python ../bench/bench_synth.py --size small --days 7 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from urbansig.synth import generate_city  # noqa: E402


def _separability(profiles: np.ndarray, labels: np.ndarray, k: int, seed: int) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import cross_val_score

    n, s, t = profiles.shape
    flat = profiles.reshape(n, -1)
    norm = flat / np.maximum(flat.sum(axis=1, keepdims=True), 1e-9)
    std = (norm - norm.mean(0)) / (norm.std(0) + 1e-12)
    logz = np.log1p(flat)
    logz = (logz - logz.mean(1, keepdims=True)) / np.maximum(logz.std(1, keepdims=True), 1e-9)
    shape = profiles / np.maximum(profiles.sum(axis=2, keepdims=True), 1e-9)
    share = profiles.sum(axis=2) / np.maximum(profiles.sum(axis=(1, 2))[:, None], 1e-9)
    feats = np.c_[np.log(shape * t + 0.05).reshape(n, -1), 3 * np.log(share + 1e-4)]
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
    pca = PCA(20, random_state=seed).fit_transform(feats)

    def km(x: np.ndarray) -> float:
        pred = KMeans(k, n_init=5, random_state=seed).fit_predict(x)
        return round(float(adjusted_rand_score(labels, pred)), 3)

    ceiling = cross_val_score(LogisticRegression(max_iter=2000), pca, labels, cv=3).mean()
    return {
        "kmeans_normalised": km(norm),
        "kmeans_standardised": km(std),
        "kmeans_log_zscore": km(logz),
        "kmeans_pca_log_shapes": km(pca),
        "supervised_accuracy": round(float(ceiling), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("tiny", "small", "medium", "large"))
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the city in this folder")
    parser.add_argument("--no-separability", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "city"
        t0, c0 = time.perf_counter(), time.process_time()
        manifest = generate_city(out, seed=args.seed, size=args.size, days=args.days)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        netmob_mb = sum(p.stat().st_size for p in (out / "netmob").rglob("*.txt")) / 1e6
        print(f"size={args.size} days={args.days} tiles={manifest['n_tiles']}")
        print(f"generation: {wall:.1f} s wall, {cpu:.1f} s CPU (this process)")
        print(f"netmob text: {netmob_mb:.0f} MB ({netmob_mb / wall:.0f} MB/s of generation)")
        if args.no_separability:
            return
        import geopandas as gpd

        from urbansig.io.netmob import read_netmob_profiles

        prof = read_netmob_profiles(out / "netmob", manifest["city"])
        tiles = gpd.read_file(out / "tiles.gpkg").set_index("tile_id")
        labels = tiles.loc[prof.tile_ids, "land_use"].to_numpy()
        scores = _separability(prof.values.astype(np.float64), labels, 7, args.seed)
        print("ARI of baselines against the true land use (and a supervised ceiling):")
        for name, value in scores.items():
            print(f"  {name:28s} {value}")


if __name__ == "__main__":
    main()
