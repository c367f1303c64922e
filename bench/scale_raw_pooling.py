"""RAW at Paris scale through qgis_process: 10 million points of 20,000 users pooled into
141,000 regions with a trained model, timed with /usr/bin/time -v.

    PYTHONPATH=backend .venv/backend/bin/python bench/scale_raw_pooling.py --out /tmp/rawscale

Writes (once) 141,000 square 100 m regions around Paris and a trajectory CSV (user_id,
timestamp, lon, lat): each user alternates between a home and a work tile with GPS noise
and trips between them, one fix every 6 minutes. Trains a model with pooltrajectoriesraw on
the first ``--train-users`` users (the job's defaults but EPOCHS), then runs applyrawmodel
on all users with REGIONS and OUTPUT, and prints wall time and peak resident memory of
both runs, and the pre-training time projected to all points from the measured tokens/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scale_paris import CELL_M, run_qgis, write_tiles

START = np.datetime64("2019-04-01T00:00:00")
STEP_S = 360


def write_regions(out: Path, tiles: int) -> Path:
    """The tiles of scale_paris as a GeoPackage of regions (region_id)."""
    import geopandas as gpd

    path = out / "regions.gpkg"
    if not path.exists():
        frame = gpd.read_file(write_tiles(out, tiles)).rename(columns={"tile_id": "region_id"})
        partial = out / "regions.partial.gpkg"
        frame.to_file(partial, engine="pyogrio")
        partial.replace(path)
    return path


def write_trajectories(path: Path, users: int, points: int, tiles: int, seed: int = 0) -> Path:
    """``users`` x ``points`` fixes: home at night, work by day, straight trips between."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from pyproj import Transformer

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(tiles)))
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    partial = path.with_suffix(".partial.csv")
    writer = None
    chunk = 1000
    for first in range(0, users, chunk):
        n = min(chunk, users - first)
        places = rng.integers(0, tiles, (n, 2))
        xy = np.stack(
            [652_000 + (places % side + 0.5) * CELL_M, 6_862_000 + (places // side + 0.5) * CELL_M],
            -1,
        )  # (n, 2 places, 2)
        t = np.arange(points) * STEP_S + rng.integers(0, STEP_S, (n, 1))
        hour = (t // 3600) % 24
        at_work = ((hour >= 9) & (hour < 17)).astype(float)
        leaving = np.clip(((t % 86400) - 8 * 3600) / 3600, 0, 1) - np.clip(
            ((t % 86400) - 17 * 3600) / 3600, 0, 1
        )
        share = np.where((hour == 8) | (hour == 17), leaving, at_work)[..., None]
        pos = xy[:, None, 0] * (1 - share) + xy[:, None, 1] * share
        pos = pos + rng.normal(0, 15.0, pos.shape)
        lon, lat = to_wgs.transform(pos[..., 0].ravel(), pos[..., 1].ravel())
        stamps = (START + t.ravel().astype("timedelta64[s]")).astype("datetime64[s]")
        table = pa.table(
            {
                "user_id": np.repeat([f"u{first + i:05d}" for i in range(n)], points),
                "timestamp": pa.array(stamps.astype(str)),
                "lon": np.round(lon, 6),
                "lat": np.round(lat, 6),
            }
        )
        if writer is None:
            writer = pacsv.CSVWriter(str(partial), table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    partial.replace(path)
    return path


def head_users(path: Path, users: int, points: int) -> Path:
    """The first ``users`` users' rows (the file is sorted by user)."""
    out = path.with_name(f"train_{users}.csv")
    if not out.exists():
        with path.open() as src, out.open("w") as dst:
            for i, line in enumerate(src):
                if i > users * points:
                    break
                dst.write(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiles", type=int, default=141_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=500, help="fixes per user")
    parser.add_argument("--train-users", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    regions = write_regions(args.out, args.tiles)
    csv = write_trajectories(args.out / "trajectories.csv", args.users, args.points, args.tiles)
    train = head_users(csv, args.train_users, args.points)
    print(f"inputs ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model = args.out / "model.pt"
    trained = run_qgis(
        "pooltrajectoriesraw",
        [
            f"TRAJECTORIES={train}",
            f"REGIONS={regions}",
            f"EPOCHS={args.epochs}",
            f"MODEL_FILE={model}",
            f"OUTPUT={args.out / 'train' / 'regions_train.gpkg'}",
        ],
        args.out / "train",
    )
    metrics = json.loads(trained["result"]["results"].get("METRICS", "{}"))
    applied = run_qgis(
        "applyrawmodel",
        [
            f"TRAJECTORIES={csv}",
            f"MODEL={model}",
            f"REGIONS={regions}",
            f"OUTPUT={args.out / 'apply' / 'regions_raw.gpkg'}",
        ],
        args.out / "apply",
    )
    print("\n| run | users | points | regions | wall min | peak GB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, run, users in (
        ("pooltrajectoriesraw (train)", trained, args.train_users),
        ("applyrawmodel (pool)", applied, args.users),
    ):
        print(
            f"| {name} | {users:,} | {users * args.points:,} | {args.tiles:,} | "
            f"{run['wall_s'] / 60:.1f} | {run['peak_mib'] / 1024:.1f} |"
        )
    print(projection(metrics, args.users))


def projection(metrics: dict, users: int, epochs: int | None = None) -> str:
    """Pre-training on every user, projected from the training run's windows and tokens/s."""
    from urbansig import parameters

    seq_len = int(parameters.default("pooltrajectoriesraw", "seq_len"))
    epochs = epochs or int(parameters.default("pooltrajectoriesraw", "epochs"))
    trained_users = metrics["n_users"] - metrics.get("n_users_holdout", 0)
    tokens = metrics["train_windows"] / trained_users * users * seq_len
    epoch_s = tokens / metrics["tokens_per_s"]
    return (
        f"\npre-training measured at {metrics['tokens_per_s']:,.0f} tokens/s on this machine "
        f"({metrics['train_windows'] / trained_users:.1f} windows of {seq_len} steps per user): "
        f"an epoch over all {users:,} users ({tokens:,.0f} steps) would take {epoch_s / 60:.1f} "
        f"min, the default {epochs} epochs {epochs * epoch_s / 3600:.1f} h"
    )


if __name__ == "__main__":
    main()
