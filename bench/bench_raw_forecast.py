"""RAW forecasts, honestly: leave-users-out cross-validation against every baseline.

Truth = the user's GPS fix nearest the target time (within --tolerance minutes), never a
carried position; baselines persistence, last displacement, a Markov chain over 500 m cells
fitted on the training users of each fold, and each user's routine from their own earlier
days; paired bootstrap intervals over users and over user-days.

    cd backend && ../.venv/backend/bin/python ../bench/bench_raw_forecast.py city --city /tmp/rawcity_s1 --seed 1
    cd backend && ../.venv/backend/bin/python ../bench/bench_raw_forecast.py geolife
    cd backend && ../.venv/backend/bin/python ../bench/bench_raw_forecast.py geolife \
        --pretrain /tmp/raw_city.pt --epochs 5        # continue training a city model per fold

``city`` generates ``generate_city(size="small", seed=--seed, n_users=--n-users)`` into --city
when absent; --save-model trains one more model on every user of the data and saves it (the
``--pretrain`` file of a later run). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if str(ROOT / "backend") not in sys.path:
    sys.path.insert(0, str(ROOT / "backend"))

FORECASTERS = ("raw", "persistence", "last_displacement", "markov", "routine")


class _Quiet:
    def warning(self, message: str) -> None:
        print(f"  warning: {message[:160]}", file=sys.stderr)

    def log(self, message: str) -> None:
        pass

    def progress(self, *args) -> None:
        pass

    def check_cancelled(self) -> None:
        pass

    def metric(self, *args) -> None:
        pass

    def stage(self, *args):
        return self


def load(source: Path, utc_offset_h: float, step_s: int, max_gap_s: int, min_steps: int):
    """Sequences and raw fixes of every user (projected to the data's UTM zone)."""
    from urbansig.io.trajectories import read_points
    from urbansig.models.raw import pipeline as pl

    points, _ = read_points(str(source), "user_id", "timestamp", "UTC", _Quiet())
    crs = pl.choose_crs(points.lon, points.lat)
    x, y = pl.project(points.lon, points.lat, crs)
    if source.is_dir():  # GeoLife: keep Beijing (a few users travel to other cities)
        centre_x, centre_y = np.median(x), np.median(y)
        near = np.hypot(x - centre_x, y - centre_y) < 60_000
        from dataclasses import replace

        points = replace(points, user=points.user[near], t=points.t[near],
                         lon=points.lon[near], lat=points.lat[near])  # fmt: skip
        x, y = x[near], y[near]
    seq, _, _ = pl.sequences(points, x, y, step_s, max_gap_s, min_steps)
    return seq, pl.fixes(points, x, y, seq), crs, int(round(utc_offset_h * 3600))


def folds_of(n_users: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_users)
    return [np.sort(part) for part in np.array_split(order, min(k, n_users))]


def sub_fixes(fixes, users: np.ndarray):
    from urbansig.models.raw.evaluate import Fixes

    remap = np.full(int(fixes.user.max()) + 1, -1, dtype=np.int64)
    remap[users] = np.arange(len(users))
    keep = remap[fixes.user] >= 0
    return Fixes(remap[fixes.user[keep]], fixes.t[keep], fixes.x[keep], fixes.y[keep])


def make_method(args, step_s: int, max_gap_s: int, utc_offset_s: int, seed: int):
    from urbansig.models.raw.method import RawModel, RawSettings

    if args.pretrain:
        method = RawModel.load(args.pretrain, device=args.device)
        method.warm_start = True
        method.settings.epochs, method.settings.lr = args.epochs, args.lr
        method.utc_offset_s, method.seed = utc_offset_s, seed
        return method
    settings = RawSettings(
        seq_len=args.seq_len, layers=args.layers, width=args.width, heads=args.heads,
        epochs=args.epochs, lr=args.lr, horizons=args.horizon, batch_size=args.batch_size,
    )  # fmt: skip
    return RawModel(settings, step_s, max_gap_s, utc_offset_s, device=args.device, seed=seed)


def cross_validate(args, seq, fixes, crs: str, utc_offset_s: int) -> tuple:
    """Pooled forecasts of every fold's held-out users (users keep their global index)."""
    from urbansig.models.raw.evaluate import ForecastCases
    from urbansig.models.raw.method import RawData

    step_s, max_gap_s = seq.step_s, args.max_gap * 60
    parts, preds = [], {name: [] for name in FORECASTERS}
    n_users = len(seq.user_ids)
    folds = folds_of(n_users, args.folds or n_users, args.seed)
    start = time.perf_counter()
    for i, held_idx in enumerate(folds[: args.max_folds or None]):
        train_idx = np.setdiff1d(np.arange(n_users), held_idx)
        train, held = seq.select(train_idx), seq.select(held_idx)
        method = make_method(args, step_s, max_gap_s, utc_offset_s, args.seed + i)
        if args.epochs > 0:
            method.fit(RawData(train, crs))
        elif method.norm is None:
            raise SystemExit("--epochs 0 needs --pretrain")
        predictions, cases = method.forecast_predictions(
            train, held, sub_fixes(fixes, held_idx), args.horizon, 500.0, args.tolerance * 60
        )
        if cases is None:
            continue
        cases.user = held_idx[cases.user]
        parts.append(cases)
        for name in FORECASTERS:
            preds[name].append(predictions[name])
        temperature = method.model.config.temperature if method.model is not None else None
        print(f"  fold {i + 1}/{len(folds)}: {len(held_idx)} users, {len(cases.user)} cases, "
              f"temperature {temperature}, {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    cases = ForecastCases(
        *(np.concatenate([getattr(c, f) for c in parts]) if f != "context"
          else np.zeros((sum(len(c.user) for c in parts), 1), np.int64)
          for f in ForecastCases.__dataclass_fields__)
    )  # fmt: skip
    return cases, {name: np.concatenate(p) for name, p in preds.items()}


def tables(cases, predictions: dict, step_s: int, seed: int) -> str:
    from urbansig.models.raw.evaluate import error_rows

    out = []
    by_user = error_rows(cases, predictions, step_s, "raw", "user", seed)
    by_day = error_rows(cases, predictions, step_s, "raw", "user-day", seed)
    rows = []
    for r in by_user:
        row = {"horizon": f"{r['horizon_min']:g} min", "cases": r["cases"], "users": r["users"]}
        for name in FORECASTERS:
            row[name] = f"{r[f'{name}_km']:.3f} / {r[f'{name}_median_km']:.3f}"
        rows.append(row)
    out.append("Mean / median error (km):\n\n" + markdown(rows))
    rows = []
    for ru, rd in zip(by_user, by_day, strict=True):
        row = {"horizon": f"{ru['horizon_min']:g} min"}
        for name in FORECASTERS[1:]:
            row[f"RAW - {name} (users | user-days)"] = (
                f"{ru[f'raw_minus_{name}_km']:+.3f} [{ru[f'raw_minus_{name}_low']:+.3f}, "
                f"{ru[f'raw_minus_{name}_high']:+.3f}] | [{rd[f'raw_minus_{name}_low']:+.3f}, "
                f"{rd[f'raw_minus_{name}_high']:+.3f}]"
            )
        rows.append(row)
    out.append("RAW minus each baseline, mean km, 95% paired bootstrap:\n\n" + markdown(rows))
    return "\n\n".join(out)


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=("city", "geolife"))
    parser.add_argument("--city", type=Path, default=Path("/tmp/rawcity_s1"))
    parser.add_argument("--n-users", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=0, help="0: one fold per user")
    parser.add_argument("--max-folds", type=int, default=0, help="screening: the first folds")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--step", type=int, default=30, help="minutes")
    parser.add_argument("--max-gap", type=int, default=120, help="minutes")
    parser.add_argument("--tolerance", type=float, default=10.0, help="minutes")
    parser.add_argument("--pretrain", type=Path, help="a RAW model file to train on from")
    parser.add_argument("--save-model", type=Path, help="also train on every user and save")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.data == "city":
        if not (args.city / "trajectories.csv").is_file():
            from urbansig.synth import generate_city

            generate_city(args.city, seed=args.seed, size="small", days=7, n_users=args.n_users)
        source, offset, folds = args.city / "trajectories.csv", 1.0, args.folds or 5
    else:
        source, offset, folds = DATA / "geolife", 8.0, args.folds
    args.folds = folds
    seq, fixes, crs, utc_offset_s = load(source, offset, args.step * 60, args.max_gap * 60, 12)
    print(f"## {args.data}: {source} ({len(seq.user_ids)} users, {len(fixes.t):,} fixes, "
          f"{int(seq.fresh.sum()):,} steps with a fix; {args.folds or len(seq.user_ids)} "
          f"leave-users-out folds; epochs {args.epochs}, pretrain {args.pretrain})\n")  # fmt: skip
    started = time.perf_counter()
    cases, predictions = cross_validate(args, seq, fixes, crs, utc_offset_s)
    print(tables(cases, predictions, seq.step_s, args.seed))
    print(f"\n(cross-validation {time.perf_counter() - started:.0f} s)")
    if args.save_model:
        from urbansig.models.raw.method import RawData

        method = make_method(args, seq.step_s, args.max_gap * 60, utc_offset_s, args.seed)
        method.fit(RawData(seq, crs)).save(args.save_model)
        print(f"saved a model trained on every user: {args.save_model}")


if __name__ == "__main__":
    main()
