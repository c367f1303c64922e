"""Training under torch.distributed: torchrun with two gloo processes at the same global batch
gives the one-process result; a job under torchrun writes its outputs once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
BACKEND_DIR = HERE.parents[1] / "backend"

# the largest difference allowed, relative to the largest value: float sums in another
# order; where Adam amplifies zero-gradient noise (biases ahead of a BatchNorm), more
TOLERANCE = {
    "fit_contrastive": 1e-5,
    "raw": 1e-5,
    "predictor_mlp": 1e-5,
    "flows": 1e-6,
    "clustering": 1e-3,
    "musecl": 2e-2,
}
COMPARED = {"clustering": ["probabilities"], "musecl": ["embedding"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{BACKEND_DIR}:{HERE}"  # distributed_cases uses the test helpers
    env["OMP_NUM_THREADS"] = "1"
    return env


def _torchrun(*args: str, nproc: int = 2, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={_free_port()}",
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=_env(), timeout=timeout, cwd=HERE
    )


def _case(case: str, folder: Path, nproc: int) -> list[dict[str, np.ndarray]]:
    folder.mkdir()
    script = str(HERE / "distributed_cases.py")
    if nproc == 1:
        done = subprocess.run(
            [sys.executable, script, case, str(folder)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
    else:
        done = _torchrun(script, case, str(folder), nproc=nproc)
    assert done.returncode == 0, done.stderr[-3000:]
    return [dict(np.load(folder / f"rank{r}.npz")) for r in range(nproc)]


@pytest.mark.parametrize("case", sorted(TOLERANCE))
def test_two_processes_train_as_one(tmp_path: Path, case: str) -> None:
    (one,) = _case(case, tmp_path / "one", 1)
    rank0, rank1 = _case(case, tmp_path / "two", 2)
    assert int(one["world"]) == 1 and int(rank0["world"]) == 2
    for key in COMPARED.get(case, [k for k in one if k != "world"]):
        scale = max(float(np.abs(one[key]).max()), 1e-6)
        gap = float(np.abs(one[key] - rank0[key]).max())
        assert gap <= TOLERANCE[case] * scale, f"{case} {key}: {gap} vs one process"
        # replicas stay identical: DistributedDataParallel averaged the same gradients
        np.testing.assert_array_equal(rank0[key], rank1[key])
    if case == "clustering":
        assert (one["probabilities"].argmax(1) == rank0["probabilities"].argmax(1)).all()


def test_a_job_under_torchrun_reports_and_writes_once(tmp_path: Path) -> None:
    """clustertraffictiles under torchrun: every global batch split over two processes,
    one set of events and outputs (rank 0's), no staged file left by the other rank."""
    import geopandas as gpd

    sys.path.insert(0, str(HERE))  # the clustering tests' tile layer and spec
    from test_clustering import job_spec, run_job, write_tile_layer

    tiles = tmp_path / "tiles.gpkg"
    write_tile_layer(tiles)
    out = tmp_path / "out"
    out.mkdir()
    spec = job_spec(out, tiles, method="contrastive")
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec.to_dict()), encoding="utf-8")
    done = _torchrun("-m", "urbansig", "run", str(spec_path))
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = [e for e in events if e["event"] == "result"]
    assert len(results) == 1, "only rank 0 reports"
    assert results[0]["metrics"]["ari"] > 0.7
    assert sorted(p.name for p in out.iterdir()) == [
        "model.pt",
        "out.gpkg",
        "report.html",
        "report_files",
    ]
    assert len(gpd.read_file(out / "out.gpkg")) == 144
    # the same job in one process: the same quality (augmentations draw differently)
    single = tmp_path / "single"
    single.mkdir()
    result, _ = run_job(job_spec(single, tiles, method="contrastive"))
    assert abs(result["metrics"]["ari"] - results[0]["metrics"]["ari"]) < 0.25
