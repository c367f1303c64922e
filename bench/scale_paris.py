"""Paris scale through qgis_process: a NetMob city of 141,000 tiles x 16 services x 7 days,
read and clustered end to end with the defaults, timed with /usr/bin/time -v.

    PYTHONPATH=backend .venv/backend/bin/python bench/scale_paris.py --out /tmp/paris

Writes the NetMob folder (DL and UL files per service and day, heavy-tailed traffic, as
``bench_netmob_reader.py`` writes it; about 1 GB of text per service-week at this size) and
the tiles' GeoJSON once (reused when complete), then runs
``qgis_process run urbansig:clustertraffictiles`` with TRAFFIC_FOLDER and the outputs only,
with the plugin of this checkout (``make setup``'s profile) and prints the wall time, the
peak resident memory of the run (qgis_process and the backend process it waits for) and the
job's own timings. ``--dask local`` adds DASK_SCHEDULER=local.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_netmob_reader import CITY, write_folder

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
CELL_M = 100.0


def write_tiles(root: Path, tiles: int) -> Path:
    """Square 100 m tiles in Lambert-93 around Paris, ids as the traffic files', WGS 84."""
    import geopandas as gpd
    import shapely

    path = root / f"{CITY}.geojson"
    if path.exists():
        return path
    side = int(np.ceil(np.sqrt(tiles)))
    k = np.arange(tiles)
    x0 = 652_000 + (k % side) * CELL_M
    y0 = 6_862_000 + (k // side) * CELL_M
    boxes = shapely.box(x0, y0, x0 + CELL_M, y0 + CELL_M)
    frame = gpd.GeoDataFrame({"tile_id": k + 1000}, geometry=boxes, crs="EPSG:2154")
    partial = path.with_suffix(".partial.geojson")
    frame.to_crs("EPSG:4326").to_file(partial, driver="GeoJSON", engine="pyogrio")
    partial.replace(path)
    return path


def qgis_process() -> str:
    found = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if not found:
        raise SystemExit("qgis_process is not installed: run 'make setup'")
    return found


def run_qgis(algorithm: str, args: list[str], run_dir: Path) -> dict:
    """``qgis_process run urbansig:<algorithm>`` under /usr/bin/time -v in a fresh
    ``run_dir``; returns wall seconds, peak resident MiB (qgis_process and the backend it
    waits for) and the parsed JSON answer."""
    import os

    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(VENV / "xdg"),
        QGIS_CUSTOM_CONFIG_PATH=str(VENV / "qgis-profile"),
        QGIS_PLUGINPATH=str(VENV / "plugins"),
        URBANSIG_BACKEND_PYTHON=str(VENV / "backend" / "bin" / "python"),
    )
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    command = ["/usr/bin/time", "-v", qgis_process(), "--json", "run"]
    command += [f"urbansig:{algorithm}", "--", *args]
    print("$ " + " ".join(command[2:]), file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    (run_dir / "qgis_process.stderr.txt").write_text(done.stderr)
    (run_dir / "qgis_process.json").write_text(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"qgis_process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    result = json.loads(done.stdout[done.stdout.index("{") :])
    return {"wall_s": wall, "peak_mib": peak_kib / 1024, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiles", type=int, default=141_000)
    parser.add_argument("--services", type=int, default=16)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--dask", default=None, help="DASK_SCHEDULER for the run")
    args = parser.parse_args()
    folder = args.out / "netmob"
    started = time.perf_counter()
    write_folder(folder, args.tiles, args.services, args.days)
    write_tiles(folder, args.tiles)
    written = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.rglob("*.txt"))
    print(f"folder ready in {written:.0f} s: {size / 1e9:.1f} GB of text", file=sys.stderr)
    run_dir = args.out / "run"
    cluster_args = [
        f"TRAFFIC_FOLDER={folder}",
        f"CITY={CITY}",
        f"OUTPUT={run_dir / 'clusters.gpkg'}",
        f"REPORT={run_dir / 'report.html'}",
    ]
    if args.dask:
        cluster_args.append(f"DASK_SCHEDULER={args.dask}")
    run = run_qgis("clustertraffictiles", cluster_args, run_dir)
    metrics = json.loads(run["result"]["results"]["METRICS"])
    print("\n| tiles | services | days | text GB | wall min | peak GB | reader |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {args.tiles:,} | {args.services} | {args.days} | {size / 1e9:.1f} | "
        f"{run['wall_s'] / 60:.1f} | {run['peak_mib'] / 1024:.1f} | "
        f"{'Dask ' + args.dask if args.dask else 'threads'} |"
    )
    shown = ("method", "n_clusters", "n_tiles", "silhouette", "coherence", "timings")
    print("\njob metrics:", json.dumps({k: metrics.get(k) for k in shown}, default=str))


if __name__ == "__main__":
    main()
