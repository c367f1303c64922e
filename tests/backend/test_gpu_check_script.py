"""bench/gpu_check.py, the script a lent GPU machine runs, works with torch and numpy alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_GEO_STACK = """
import runpy, sys
for name in ("geopandas", "shapely", "h3", "gensim", "rasterio", "pyogrio", "pyproj"):
    sys.modules[name] = None  # importing any of them now fails, as on the GPU machine
sys.argv = ["gpu_check.py", "--quick", "--device", "cpu"]
runpy.run_path("bench/gpu_check.py", run_name="__main__")
"""


def test_gpu_check_runs_every_loop_without_the_geo_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_GEO_STACK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "backend"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [row for row in lines if row.startswith("| ") and "->" in row and "| loop" not in row]
    assert len(rows) == 4, done.stdout
    for row in rows:
        first, last = (float(v) for v in row.split("|")[5].split("->"))
        assert last <= first + 1e-6, row  # training ran on every loop
