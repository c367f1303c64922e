"""Backend tests run in the backend environment, with the shipped backend on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))


def backend_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(BACKEND_DIR)
    return env


@pytest.fixture()
def child_env() -> dict[str, str]:
    """The environment for a ``python -m urbansig`` child process."""
    return backend_env()


@pytest.fixture()
def run_cli():
    """Run ``python -m urbansig ...`` as a child process; returns CompletedProcess."""

    def run(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "urbansig", *args],
            capture_output=True,
            text=True,
            env=backend_env(),
            timeout=timeout,
            **kwargs,
        )

    return run


@pytest.fixture()
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads; on a busy machine threads spin."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
