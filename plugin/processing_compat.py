"""Work-arounds for bugs of the QGIS releases the plugin supports; each is a no-op where QGIS
has fixed it."""

from __future__ import annotations

import inspect
import time
from typing import Any


def give_batch_reports_a_timestamp() -> bool:
    """QGIS 3.22's batch dialog adds each HTML output to the Results Viewer without the
    ``timestamp`` that ``ProcessingResults.addResult`` requires: after every row has run,
    a batch of any algorithm with a report ends in "TypeError: addResult() missing 1
    required positional argument: 'timestamp'" and no report reaches the viewer. Gives
    ``timestamp`` a default (now) where it has none; returns whether it did."""
    try:
        from processing.core.ProcessingResults import ProcessingResults
    except ImportError:  # no Processing plugin: no dialogs
        return False
    original = ProcessingResults.addResult
    timestamp = inspect.signature(original).parameters.get("timestamp")
    if timestamp is None or timestamp.default is not inspect.Parameter.empty:
        return False

    def add_result(self: Any, icon: Any, name: str, timestamp: Any = None, result: Any = None):
        return original(self, icon, name, timestamp or time.localtime(), result)

    ProcessingResults.addResult = add_result
    return True
