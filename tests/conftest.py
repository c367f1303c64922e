"""Shared test helpers: where the repository and ../shared/data are."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _plugin_importable() -> None:
    """In QGIS's Python: the plugin importable as ``urban_signatures`` (a symlink, as QGIS
    installs it) and Debian's Processing on sys.path."""
    if importlib.util.find_spec("qgis") is None:  # the backend environment
        return
    plugins = Path(tempfile.mkdtemp(prefix="urbansig-plugins-"))
    (plugins / "urban_signatures").symlink_to(REPO, target_is_directory=True)
    sys.path.insert(0, str(plugins))
    if "/usr/share/qgis/python/plugins" not in sys.path:
        sys.path.append("/usr/share/qgis/python/plugins")


_plugin_importable()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real samples); tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data is absent: real-data checks need the shared samples beside the repository"
        )
    return SHARED_DATA


def _backend_children(parent: int) -> list[int]:
    """Pids of the backend children (``... -m urbansig run ...``) of process ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == parent and b"urbansig" in argv and b"run" in argv:
            found.append(int(entry.name))
    return found


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture()
def backend_children():
    """``backend_children(parent_pid)``: pids of its backend child processes."""
    return _backend_children


@pytest.fixture()
def process_alive():
    """``process_alive(pid)``: the process runs (zombies excluded)."""
    return _process_alive


def pytest_sessionfinish(session, exitstatus):
    """With URBANSIG_FAIL_ON_SKIP=1 (CI), a skipped test fails the run instead of passing."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("URBANSIG_FAIL_ON_SKIP") == "1" and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"{skipped} test(s) skipped: URBANSIG_FAIL_ON_SKIP=1 fails the run")
