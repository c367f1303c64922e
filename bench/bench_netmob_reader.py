"""Benchmark: urbansig's NetMob reader against a straightforward pandas loop.

Writes a NetMob 2023 folder itself with numpy (N tiles x S services x D days x DL/UL, one
decimal per value like the generator, formatted with ``urbansig.synth.textformat`` when it is
there; ``generate_city(size="large")`` writes 16 services and every other layer, too slow to
make here), then, for two day ranges of the same folder (``--days`` and ``--days2``), runs in
fresh processes:

- ``loop``: ``pandas.read_csv`` per file, concatenate everything, then aggregate to the
  weekly-hourly mean per tile and service (DL + UL);
- ``urbansig``: ``read_netmob_profiles(..., layout="weekly_hourly")``: pyarrow's CSV reader,
  one file per thread, in the default number of threads (``--also-workers N`` adds runs with
  N threads forced).

Throughput is the text size divided by the wall time of the read (imports excluded). Peak
memory is the largest sum of the proportional set size (PSS) of the process and all its
descendants (none for the reader, which uses threads), sampled every 50 ms, with their CPU
time. Both results are compared.

    cd backend && /tmp/bvenv/bin/python ../bench/bench_netmob_reader.py --out /tmp/netmob_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

CITY = "Benchville"
START = dt.date(2019, 4, 1)
HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent / "backend"


def _format(ids: np.ndarray, values: np.ndarray) -> bytes:
    """Lines 'id v v v ...' with one decimal, vectorised (int tenths -> text)."""
    try:
        from urbansig.synth.textformat import format_rows

        return format_rows(ids, values, decimals=1)
    except ImportError:
        tenths = np.rint(values * 10).astype(np.int64)
        whole, frac = np.divmod(tenths, 10)
        parts = np.char.add(np.char.add(whole.astype(str), "."), frac.astype(str))
        lines = [" ".join((str(i), *row)) for i, row in zip(ids.tolist(), parts.tolist())]
        return ("\n".join(lines) + "\n").encode()


def write_folder(root: Path, tiles: int, services: int, days: int, seed: int = 0) -> Path:
    """A NetMob-layout folder with heavy-tailed traffic; reuses an existing complete one."""
    done = root / "complete.json"
    want = {"tiles": tiles, "services": services, "days": days, "seed": seed}
    if done.exists() and json.loads(done.read_text()) == want:
        return root
    rng = np.random.default_rng(seed)
    ids = np.arange(tiles, dtype=np.int64) + 1000
    base = rng.lognormal(0.0, 1.5, size=tiles)
    hours = np.arange(96) / 4.0
    for s in range(services):
        name = f"Service_{s:02d}"
        shape = 1.2 + np.sin((hours - 6 - 2 * s) / 24 * 2 * np.pi)
        for d in range(days):
            day = START + dt.timedelta(days=d)
            stamp = day.strftime("%Y%m%d")
            folder = root / CITY / name / stamp
            folder.mkdir(parents=True, exist_ok=True)
            for side, scale in (("DL", 10.0), ("UL", 1.5)):
                mean = scale * base[:, None] * shape[None, :]
                values = rng.gamma(2.0, mean / 2.0).astype(np.float64)
                values[rng.random(values.shape) < 0.2] = 0.0
                path = folder / f"{CITY}_{name}_{stamp}_{side}.txt"
                path.write_bytes(_format(ids, values))
            print(f"  wrote {name} {stamp}", file=sys.stderr, flush=True)
    done.write_text(json.dumps(want))
    return root


def _files(root: Path, days: int) -> list[Path]:
    last = START + dt.timedelta(days=days - 1)
    out = []
    for path in sorted((root / CITY).glob("*/*/*.txt")):
        day = dt.datetime.strptime(path.parent.name, "%Y%m%d").date()
        if START <= day <= last:
            out.append(path)
    return out


# ---- the two readers, each run in a fresh process (python bench_netmob_reader.py --run ...)


def run_loop(root: Path, days: int, result: Path) -> float:
    """Straightforward: read_csv each file, concat, aggregate to weekly-hourly means."""
    import pandas as pd

    t0 = time.perf_counter()
    frames = []
    for path in _files(root, days):
        frame = pd.read_csv(path, sep=" ", header=None)
        service, stamp, side = path.stem.split("_")[-3:]
        frame["service"] = path.parent.parent.name
        frame["weekday"] = dt.datetime.strptime(stamp, "%Y%m%d").weekday()
        frame["direction"] = side
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    del frames
    quarters = table[list(range(1, 97))].to_numpy()
    hourly = pd.DataFrame(quarters.reshape(len(table), 24, 4).sum(axis=2))
    keys = ["tile_id", "service", "weekday", "direction"]
    hourly[keys] = table[[0, "service", "weekday", "direction"]].to_numpy()
    mean = hourly.groupby(keys).mean().groupby(["tile_id", "service", "weekday"]).sum()
    tile_codes, tiles = pd.factorize(mean.index.get_level_values(0), sort=True)
    service_codes, services = pd.factorize(mean.index.get_level_values(1), sort=True)
    weekday = mean.index.get_level_values(2).to_numpy(dtype=np.int64)
    cube = np.zeros((len(tiles), len(services), 7, 24))
    cube[tile_codes, service_codes, weekday] = mean.to_numpy()
    cube = cube.reshape(len(tiles), len(services), 168)
    elapsed = time.perf_counter() - t0
    np.savez(result, tile_ids=np.asarray(tiles, dtype=np.int64), values=cube)
    return elapsed


def run_urbansig(root: Path, days: int, result: Path, workers: int | None) -> float:
    from urbansig.io.netmob import read_netmob_profiles

    t0 = time.perf_counter()
    last = START + dt.timedelta(days=days - 1)
    prof = read_netmob_profiles(root, CITY, start=START, end=last, workers=workers)
    elapsed = time.perf_counter() - t0
    print(f"  urbansig, {days} days: {'; '.join(prof.report.notes)}", file=sys.stderr)
    np.savez(result, tile_ids=prof.tile_ids, values=prof.values)
    return elapsed


# ---- measurement


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def measure(args: list[str]) -> tuple[float, float, float]:
    """(seconds reported by the child, CPU seconds of the child and its descendants, peak
    PSS in MiB of the child and its descendants, summed)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=BACKEND,
        env={**os.environ, "PYTHONPATH": str(BACKEND)},
    )
    peak = 0
    cpu: dict[int, float] = {}
    stop = threading.Event()
    tick = os.sysconf("SC_CLK_TCK")

    def sample() -> None:
        nonlocal peak
        pids: list[int] = []
        last_scan = 0.0
        while not stop.is_set():
            if time.monotonic() - last_scan > 0.5:
                pids, last_scan = _group(proc.pid), time.monotonic()
            peak = max(peak, sum(_pss_kib(p) for p in pids))
            for p in pids:
                fields = _stat(p)
                if fields is not None:
                    cpu[p] = (int(fields[11]) + int(fields[12])) / tick
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"benchmark child failed: {' '.join(args)}")
    return float(out.strip().splitlines()[-1]), sum(cpu.values()), peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/urbansig_netmob_bench"))
    parser.add_argument("--tiles", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=2)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--days2", type=int, default=14)
    parser.add_argument("--workers", type=int, default=0, help="0: the reader's default")
    parser.add_argument(
        "--also-workers", type=int, nargs="*", default=[], help="extra runs at --days"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-loop-above", type=int, default=99, help="days")
    parser.add_argument("--run", nargs=3, metavar=("WHICH", "DAYS", "RESULT"))
    args = parser.parse_args()
    if args.run:
        which, days, result = args.run[0], int(args.run[1]), Path(args.run[2])
        if which == "loop":
            elapsed = run_loop(args.out, days, result)
        else:
            elapsed = run_urbansig(args.out, days, result, args.workers or None)
        print(elapsed)
        return

    print(f"writing {args.tiles} tiles x {args.services} services x {args.days2} days ...")
    write_folder(args.out, args.tiles, args.services, max(args.days, args.days2))
    rows = []
    load_start = os.getloadavg()[0]
    for days in (args.days, args.days2):
        size = sum(p.stat().st_size for p in _files(args.out, days))
        for path in _files(args.out, days):  # warm the page cache for both readers alike
            path.read_bytes()
        runs = [("loop", args.workers), ("urbansig", args.workers)]
        runs += [("urbansig", w) for w in args.also_workers if days == args.days]
        for which, workers in runs:
            if which == "loop" and days > args.skip_loop_above:
                continue
            label = which if which == "loop" or workers == args.workers else f"{which}-w{workers}"
            for _ in range(args.repeats):
                result = args.out / f"result_{which}_{days}.npz"
                common = ["--out", str(args.out), "--workers", str(workers)]
                seconds, cpu, peak = measure([*common, "--run", which, str(days), str(result)])
                rows.append((label, days, size / 1e6, seconds, size / 1e6 / seconds, cpu, peak))
        a = np.load(args.out / f"result_urbansig_{days}.npz")
        if (args.out / f"result_loop_{days}.npz").exists() and days <= args.skip_loop_above:
            b = np.load(args.out / f"result_loop_{days}.npz")
            assert np.array_equal(a["tile_ids"], b["tile_ids"])
            diff = np.abs(a["values"] - b["values"]).max() / max(np.abs(b["values"]).max(), 1)
            print(f"{days} days: max relative difference urbansig vs loop {diff:.2e}")
            assert diff < 1e-5
    cores = len(os.sched_getaffinity(0))
    print(
        f"\n{args.tiles} tiles, {args.services} services, DL+UL, {cores} cores, "
        f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'reader':11s} {'days':>5s} {'MB':>7s} {'wall s':>7s} {'MB/s':>6s} {'CPU s':>7s} "
        f"{'MB/CPU-s':>8s} {'peak MiB':>8s}"
    )
    for which, days, mb, seconds, rate, cpu, peak in rows:
        print(
            f"{which:11s} {days:5d} {mb:7.0f} {seconds:7.1f} {rate:6.1f} {cpu:7.1f} "
            f"{mb / cpu:8.1f} {peak:8.0f}"
        )
    for days in (args.days, args.days2):
        loop = [r for r in rows if r[0] == "loop" and r[1] == days]
        ours = [r for r in rows if r[0] == "urbansig" and r[1] == days]
        if loop and ours:
            speedup = max(r[4] for r in ours) / max(r[4] for r in loop)
            print(f"{days} days: urbansig / loop throughput = {speedup:.2f}x")


if __name__ == "__main__":
    main()
