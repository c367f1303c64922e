"""Benchmark of RAW (pooltrajectoriesraw): pre-training speed and memory, next-point errors
against persistence and a grid Markov chain, commuter identification, region tasks, and
pooling throughput for 1,000,000 points x 10,000 regions.

    cd backend && /tmp/bvenv/bin/python ../bench/bench_raw.py all --city /tmp/rawcity_small
    cd backend && /tmp/bvenv/bin/python ../bench/bench_raw.py speed      # torch + numpy only

Parts: ``speed`` (tokens/s and peak memory; CPU, and CUDA when available), ``pooling``,
``city`` (the synthetic city: generated into --city when absent), ``geolife``
(../shared/data/geolife), ``all``. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if str(ROOT / "backend") not in sys.path:
    sys.path.insert(0, str(ROOT / "backend"))

SIZES = {  # name: (layers, width, heads)
    "tiny (CPU default)": (2, 64, 4),
    "small": (4, 128, 4),
    "base": (8, 256, 8),
    "large": (12, 512, 8),
}


def table(rows: list[dict], digits: int = 3) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    fmt = [
        " | ".join(f"{r[c]:.{digits}g}" if isinstance(r[c], float) else str(r[c]) for c in cols)
        for r in rows
    ]
    return "\n".join(
        ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + [f"| {f} |" for f in fmt]
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_speed(sizes: list[str], seq_len: int, batch: int, steps: int, threads: int) -> str:
    """Pre-training steps on random windows: tokens/s and peak memory per model size."""
    import torch

    from urbansig.models.raw.model import RawConfig, RawTransformer, n_parameters

    torch.set_num_threads(threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for name in sizes:
            if device == "cpu" and name in ("base", "large") and steps > 3:
                n_steps = 3
            else:
                n_steps = steps
            layers, width, heads = SIZES[name]
            torch.manual_seed(0)
            model = RawTransformer(RawConfig(layers, width, heads, max_len=seq_len + 1)).to(device)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            g = torch.Generator().manual_seed(0)
            data = {
                "xy": torch.randn(batch, seq_len + 1, 2, generator=g),
                "gap": torch.rand(batch, seq_len + 1, generator=g) < 0.1,
                "fresh": torch.rand(batch, seq_len + 1, generator=g) < 0.8,
                "slot": torch.randint(0, 48, (batch, seq_len + 1), generator=g),
                "dow": torch.randint(0, 7, (batch, seq_len + 1), generator=g),
            }
            data = {k: v.to(device) for k, v in data.items()}
            amp = device == "cuda"
            if amp:
                torch.cuda.reset_peak_memory_stats()
            rss0 = peak_rss_mb()

            _train_step(model, opt, data, device, amp)  # warm-up
            if amp:
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(n_steps):
                _train_step(model, opt, data, device, amp)
            if amp:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**20 if amp else peak_rss_mb()
            rows.append(
                {
                    "device": device + (f" ({threads} threads)" if device == "cpu" else ""),
                    "size": name,
                    "layers/width/heads": f"{layers}/{width}/{heads}",
                    "parameters": n_parameters(model),
                    "tokens_per_s": batch * seq_len * n_steps / seconds,
                    "peak_mb": peak,
                    "peak_note": "CUDA allocated" if amp else f"process RSS (was {rss0:.0f})",
                }
            )
            del model, opt
    return table(rows)


def _train_step(model, opt, data: dict, device: str, amp: bool) -> None:
    import torch

    with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
        loss = model.forecast_loss(data)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bench_pooling(n_points: int, n_regions: int, n_users: int, dim: int) -> str:
    """Point-in-polygon (STR-tree) + visit counts + sparse pooling on random data."""
    import geopandas as gpd
    from shapely import box

    from urbansig.models.raw.pooling import assign_regions, pool_regions, visit_counts

    rng = np.random.default_rng(0)
    side = int(np.sqrt(n_regions))
    size = 200.0
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    cells = box(ix.ravel() * size, iy.ravel() * size, (ix.ravel() + 1) * size,
                (iy.ravel() + 1) * size)  # fmt: skip
    regions = gpd.GeoDataFrame(geometry=cells, crs="EPSG:2154")
    extent = side * size
    x = rng.uniform(-0.02 * extent, 1.02 * extent, n_points)
    y = rng.uniform(-0.02 * extent, 1.02 * extent, n_points)
    user = rng.integers(0, n_users, n_points)
    step = rng.integers(0, 336, n_points)
    emb = rng.normal(size=(n_users, dim))
    cpu0, t0 = time.process_time(), time.perf_counter()
    region = assign_regions(x, y, regions)
    t1 = time.perf_counter()
    counts = visit_counts(user, region, n_users, len(regions), step)
    t2 = time.perf_counter()
    pooled, n_in = pool_regions(counts, emb, "sum", min_visits=1)
    t3 = time.perf_counter()
    row = {
        "points": n_points,
        "regions": len(regions),
        "users": n_users,
        "dim": dim,
        "point_in_polygon_s": t1 - t0,
        "visit_counts_s": t2 - t1,
        "pooling_s": t3 - t2,
        "total_s": t3 - t0,
        "total_cpu_s": time.process_time() - cpu0,
        "points_per_s": n_points / (t3 - t0),
        "outside": int((region < 0).sum()),
        "peak_rss_mb": peak_rss_mb(),
    }
    assert pooled.shape == (len(regions), dim) and n_in.max() > 0
    return table([row])


def run_job(task: str, inputs: dict, params: dict, outputs: dict, device: str) -> dict:
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    stream = io.StringIO()
    spec = JobSpec(task=task, inputs=inputs, params=params, outputs=outputs, device=device)
    start = time.perf_counter()
    result = run_spec(spec, Events(stream, min_interval=5.0))
    result["seconds"] = time.perf_counter() - start
    result["warnings"] = [
        json.loads(line)["message"]
        for line in stream.getvalue().splitlines()
        if json.loads(line)["event"] == "warning"
    ]
    return result


def error_rows(metrics: dict) -> list[dict]:
    rows = []
    for h in (30, 60, 90, 120, 150):
        key = f"raw_km_{h}min"
        if key in metrics:
            rows.append(
                {
                    "horizon": f"{h} min",
                    "RAW km": metrics[key],
                    "persistence km": metrics[f"persistence_km_{h}min"],
                    "Markov 500 m km": metrics[f"markov_km_{h}min"],
                }
            )
    return rows


def bench_city(
    city: Path, out: Path, params: dict, device: str, seed: int, n_users: int = 0
) -> str:
    import geopandas as gpd
    import pandas as pd

    from urbansig.evaluation import pearson

    if not (city / "trajectories.csv").is_file():
        from urbansig.synth import generate_city

        generate_city(city, seed=seed, size="small", days=7, n_users=n_users)
    out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "output": str(out / "city_regions.gpkg"),
        "output_users": str(out / "city_users.csv"),
        "output_model": str(out / "city_raw.pt"),
        "output_report": str(out / "city_report.html"),
    }
    result = run_job(
        "pooltrajectoriesraw",
        {
            "trajectories": str(city / "trajectories.csv"),
            "regions": str(city / "regions.gpkg"),
            "user_labels": str(city / "users.csv"),
        },
        {**params, "label_field": "is_commuter", "utc_offset": "1"},  # Europe/Paris in March
        outputs,
        device,
    )
    m = result["metrics"]
    parts = [
        f"Synthetic city {city} ({m['n_users']} users, {m['n_points']} points, "
        f"{m['n_users_holdout']} held out; job {result['seconds']:.0f} s, "
        f"pre-training {m.get('tokens_per_s', float('nan')):.0f} tokens/s)",
        table(error_rows(m)),
        table(
            [
                {
                    "features": "RAW user embeddings (logistic regression)",
                    "commuter accuracy": m.get("label_accuracy_raw_embeddings", float("nan")),
                },
                {
                    "features": "hand-crafted home/work + regularity",
                    "commuter accuracy": m.get("label_accuracy_handcrafted_baseline", float("nan")),
                },
            ]  # fmt: skip
        ),
    ]
    users = pd.read_csv(outputs["output_users"], dtype={"user_id": str})
    truth = pd.read_csv(city / "users.csv", dtype={"user_id": str}).merge(users, on="user_id")
    home_err = np.hypot(
        truth["home_x_x"] - truth["home_x_y"], truth["home_y_x"] - truth["home_y_y"]
    )
    work = truth["work_x_x"].notna() & truth["work_x_y"].notna()
    work_err = np.hypot(
        truth.loc[work, "work_x_x"] - truth.loc[work, "work_x_y"],
        truth.loc[work, "work_y_x"] - truth.loc[work, "work_y_y"],
    )
    parts.append(
        f"Home estimate: median error {np.median(home_err):.0f} m, within 500 m "
        f"{np.mean(home_err < 500):.0%}; work estimate (users with a workplace): median "
        f"{np.median(work_err):.0f} m, within 500 m {np.mean(work_err < 500):.0%}."
    )
    print("\n\n".join(parts), flush=True)
    parts = []
    regions = gpd.read_file(outputs["output"])
    emb_cols = [c for c in regions.columns if c.startswith("emb_")]
    visited = regions["n_users"].to_numpy() > 0
    parts.append(region_tasks(regions[visited], emb_cols, seed, pearson))
    return "\n\n".join(parts)


def region_tasks(regions, emb_cols: list[str], seed: int, pearson) -> str:
    """trip_count and station_ridership from pooled embeddings (+ n_users) via the predictor."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from urbansig.models.predictor import evaluate_features

    X_emb = regions[emb_cols].to_numpy()
    X_n = np.log1p(regions[["n_users"]].to_numpy(dtype=float))
    rows = []
    for target in ("trip_count", "station_ridership"):
        y = regions[target].to_numpy(dtype=float)
        if np.nanstd(y) == 0:
            rows.append({"target": target, "features": f"(constant {y[0]:g}: not evaluated)",
                         "regions": len(y), "R2 ridge": float("nan"), "R2 mlp": float("nan"),
                         "best": "", "Pearson (5-fold ridge, log1p)": float("nan")})  # fmt: skip
            continue
        for name, X in (("pooled embeddings", X_emb), ("visitor count only", X_n)):
            res = evaluate_features(X, y, split="random", repeats=3, seed=seed,
                                    models=("ridge", "mlp"))  # fmt: skip
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
            oof = cross_val_predict(model, X, np.log1p(y), cv=KFold(5, shuffle=True,
                                                                   random_state=seed))  # fmt: skip
            best = max(res, key=lambda r: r["r2_mean"])
            rows.append(
                {
                    "target": target,
                    "features": name,
                    "regions": len(y),
                    "R2 ridge": next(r["r2_mean"] for r in res if r["model"] == "ridge"),
                    "R2 mlp": next(r["r2_mean"] for r in res if r["model"] == "mlp"),
                    "best": best["model"],
                    "Pearson (5-fold ridge, log1p)": pearson(oof, np.log1p(y)),
                }
            )
    return (
        "Region tasks (regions with visitors; log1p targets, test-part R2 of 3 random splits):\n\n"
        + table(rows)
    )


def bench_geolife(out: Path, params: dict, device: str) -> str:
    import geopandas as gpd

    from urbansig.grids import h3_grid
    from urbansig.io.trajectories import read_trajectories

    root = DATA / "geolife"
    if not root.is_dir():
        return "GeoLife: ../shared/data/geolife is absent; skipped."
    frame, _ = read_trajectories(root)
    points = gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")
    core = points[
        (frame["lon"] > 116.0) & (frame["lon"] < 116.8) & (frame["lat"] > 39.6)
        & (frame["lat"] < 40.2)
    ]  # fmt: skip
    area = gpd.GeoSeries([core.union_all().convex_hull.buffer(0.01)], crs="EPSG:4326")
    grid = h3_grid(area, 8, 200_000)
    out.mkdir(parents=True, exist_ok=True)
    grid.to_file(out / "geolife_h3.gpkg", engine="pyogrio")
    result = run_job(
        "pooltrajectoriesraw",
        {"trajectories": str(root), "regions": str(out / "geolife_h3.gpkg")},
        {**params, "utc_offset": "8", "min_steps": 12, "holdout_fraction": 0.25},
        {"output": str(out / "geolife_regions.gpkg"), "output_report": str(out / "geolife.html")},
        device,
    )
    m = result["metrics"]
    return (
        f"GeoLife sample ({m['n_users']} users kept, {m['n_users_holdout']} held out, "
        f"{m['n_points']} points, {m['points_outside_regions']} outside the H3 grid; "
        f"job {result['seconds']:.0f} s)\n\n" + table(error_rows(m))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("part", choices=("speed", "pooling", "city", "geolife", "all"))
    parser.add_argument("--city", type=Path, default=Path("/tmp/rawbench_city"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/rawbench_out"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=48)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-users", type=int, default=0, help="city users (0: the size's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="tiny (CPU default),small,base")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--regions", type=int, default=10_000)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    params = {"epochs": args.epochs, "width": args.width, "layers": args.layers,
              "seq_len": args.seq_len, "lr": args.lr}  # fmt: skip
    started = time.perf_counter()
    if args.part in ("speed", "all"):
        print("## Pre-training speed (seq_len 48, batch 64)\n")
        print(bench_speed(args.sizes.split(","), 48, 64, 10, args.threads), "\n")
    if args.part in ("pooling", "all"):
        print(f"## Pooling {args.points:,} points x {args.regions:,} regions\n")
        print(bench_pooling(args.points, args.regions, 20_000, 64), "\n")
    if args.part in ("city", "all"):
        print("## Synthetic city\n")
        print(bench_city(args.city, args.out, params, args.device, args.seed, args.n_users), "\n")
    if args.part in ("geolife", "all"):
        print("## GeoLife\n")
        print(bench_geolife(args.out, params, args.device), "\n")
    print(f"(total {time.perf_counter() - started:.0f} s, torch threads {args.threads})")


if __name__ == "__main__":
    main()
