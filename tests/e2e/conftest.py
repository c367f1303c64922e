"""End-to-end: the real ``qgis_process`` with the plugin enabled in a throwaway profile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def qgis_process_binary() -> str:
    """Debian's wrapper is broken (--noversioncheck): call qgis_process.bin where it exists."""
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("qgis_process is not installed: run 'make setup' (installs QGIS from Debian)")


@pytest.fixture(scope="session")
def qgis_binary() -> str:
    return qgis_process_binary()


@pytest.fixture(scope="session")
def qgis_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("qgis")
    plugins = root / "plugins"
    plugins.mkdir()
    (plugins / "urban_signatures").symlink_to(REPO, target_is_directory=True)
    runtime = root / "xdg"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ)
    env.update(
        {
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": str(runtime),
            "QGIS_CUSTOM_CONFIG_PATH": str(root / "profile"),
            "QGIS_PLUGINPATH": str(plugins),
        }
    )
    if not env.get("URBANSIG_BACKEND_PYTHON"):
        pytest.fail(
            "URBANSIG_BACKEND_PYTHON must point at the backend environment (make test sets it)"
        )
    done = subprocess.run(
        [qgis_process_binary(), "plugins", "enable", "urban_signatures"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="session")
def qgis_process(qgis_env):
    """Run qgis_process with the plugin; returns CompletedProcess (text)."""

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [qgis_process_binary(), *args],
            env=qgis_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def run_algorithm(qgis_process):
    """``qgis_process --json run <alg> -- KEY=value ...``; returns (CompletedProcess, json)."""

    def run(algorithm: str, **parameters) -> tuple[subprocess.CompletedProcess, dict | None]:
        args = [f"{k}={v}" for k, v in parameters.items()]
        done = qgis_process("--json", "run", algorithm, "--", *args)
        parsed = None
        if done.returncode == 0:
            parsed = json.loads(done.stdout[done.stdout.index("{") :])
        return done, parsed

    return run


@pytest.fixture(scope="session")
def demo_city(run_algorithm, tmp_path_factory) -> dict:
    """A tiny demo city made once through qgis_process (results of generatedemocity)."""
    out = tmp_path_factory.mktemp("democity") / "city"
    done, parsed = run_algorithm("urbansig:generatedemocity", SIZE=0, DAYS=3, SEED=0, OUTPUT=out)
    assert done.returncode == 0, done.stderr
    return parsed["results"]
