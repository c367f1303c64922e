"""Screening of clustering designs on the VALIDATION cities only (bench/clustering_protocol.py).

Each candidate (baselines, spatial CCA settings, deep model settings) is scored by ARI with
the true land use at the true K, and the automatic-K criteria by how far the chosen K is from
the true number of land uses. Nothing here reads a test city.

    PYTHONPATH=backend .venv/backend/bin/python bench/screen_clustering.py --work /tmp/ccbench
    ... --deep   (adds the deep model's settings; about 1 min per city and setting on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

import clustering_protocol as protocol  # noqa: E402


def candidates(city: dict, k: int, deep: bool) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score

    from urbansig.models.contrastive_clustering.evaluate import kmeans_baselines
    from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings
    from urbansig.models.traffic import TrafficData

    data = TrafficData(city["values"], city["neighbours"], city["services"], "weekly_hourly")
    truth = city["labels"]
    out = {}
    for name, (labels, _) in kmeans_baselines(
        city["values"], k, neighbours=city["neighbours"]
    ).items():
        out[name] = adjusted_rand_score(truth, labels)
    for pcs in (20, 30):
        for comps in (8, 16):
            for views in ("both", "own"):
                settings = SpatialSettings(
                    n_clusters=k, pca_components=pcs, canonical_components=comps, views=views
                )
                labels = SpatialKMeans(settings).fit(data).predict(data)[0]
                out[f"cca pcs {pcs} comps {comps} {views}"] = adjusted_rand_score(truth, labels)
    if deep:
        from urbansig.models.contrastive_clustering import ClusterSettings, TrafficClusterer

        for name, extra in (
            ("deep default", {}),
            ("deep neighbour context", {"neighbour_context": True}),
        ):
            model = TrafficClusterer(ClusterSettings(n_clusters=k, **extra), device="cpu")
            out[name] = adjusted_rand_score(truth, model.fit(data).predict(data)[0])
    return out


def auto_k(city: dict, k_range: range) -> dict[str, int]:
    from urbansig.models.spatial_kmeans import SpatialKMeans, SpatialSettings
    from urbansig.models.traffic import TrafficData

    data = TrafficData(city["values"], city["neighbours"], city["services"], "weekly_hourly")
    model = SpatialKMeans(
        SpatialSettings(n_clusters=0, k_min=k_range.start, k_max=k_range.stop - 1)
    )
    model.fit(data)
    return {"calinski_harabasz": model.n_clusters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ccbench")
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    table: dict[str, list[float]] = {}
    k_rows = []
    for spec in protocol.VALIDATION:
        city = protocol.load(work, spec)
        k = len(np.unique(city["labels"]))
        started = time.perf_counter()
        scores = candidates(city, k, args.deep)
        chosen = auto_k(city, range(2, 13))
        k_rows.append({"city": spec.name, "true_k": k, **chosen})
        print(
            json.dumps(
                {
                    "city": spec.name,
                    "k": k,
                    "seconds": round(time.perf_counter() - started, 1),
                    **{n: round(v, 3) for n, v in scores.items()},
                    "auto_k": chosen,
                }
            ),
            flush=True,
        )
        for name, value in scores.items():
            table.setdefault(name, []).append(value)
    print(
        "\n| candidate (validation cities, true K) | "
        + " | ".join(s.name for s in protocol.VALIDATION)
        + " | mean |"
    )
    print("|---|" + "---|" * (len(protocol.VALIDATION) + 1))
    for name, values in table.items():
        print(
            f"| {name} | "
            + " | ".join(f"{v:.3f}" for v in values)
            + f" | **{np.mean(values):.3f}** |"
        )
    print("\n| city | true K | automatic K (Calinski-Harabasz on the canonical features) |")
    print("|---|---|---|")
    for row in k_rows:
        print(f"| {row['city']} | {row['true_k']} | {row['calinski_harabasz']} |")


if __name__ == "__main__":
    main()
