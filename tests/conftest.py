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
        pytest.skip("../shared/data is absent: real-data checks need the shared samples beside the repository")
    return SHARED_DATA
