"""QGIS in-process tests: the plugin imported as ``urban_signatures`` (a symlink), Processing up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_BACKEND = Path(__file__).resolve().parent / "fake_backend.py"


@pytest.fixture(scope="session")
def provider(qgis_app, qgis_processing):
    """The registered provider (a reference is kept, or its algorithms vanish)."""
    from qgis.core import QgsApplication
    from urban_signatures.plugin.provider import UrbanSignaturesProvider

    registered = UrbanSignaturesProvider()
    assert QgsApplication.processingRegistry().addProvider(registered)
    yield registered
    QgsApplication.processingRegistry().removeProvider(registered)


@pytest.fixture()
def fake_command() -> list[str]:
    """Replaces ``<python> -m urbansig``: a scripted child speaking the real protocol."""
    return [sys.executable, str(FAKE_BACKEND)]
