"""The provider's settings (Processing options), readable where Processing is loaded."""

from __future__ import annotations

BACKEND_PYTHON = "URBANSIG_BACKEND_PYTHON"


def backend_python_setting() -> str | None:
    """The interpreter set in Processing > Options > Providers > Urban Signatures, if any."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return None
    value = ProcessingConfig.getSetting(BACKEND_PYTHON)
    return str(value) if value else None
