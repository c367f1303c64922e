"""Shared test helpers: where the repository and ../shared/data are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real samples); tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data is absent: real-data checks need the shared samples beside the repository"
        )
    return SHARED_DATA


def pytest_sessionfinish(session, exitstatus):
    """With URBANSIG_FAIL_ON_SKIP=1 (CI), a skipped test fails the run instead of passing."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("URBANSIG_FAIL_ON_SKIP") == "1" and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"{skipped} test(s) skipped: URBANSIG_FAIL_ON_SKIP=1 fails the run")
