"""The batch dialog of QGIS 3.22 adds reports to the Results Viewer without a timestamp."""

from __future__ import annotations


def test_batch_reports_reach_the_results_viewer(provider):
    from processing.core.ProcessingResults import ProcessingResults
    from qgis.PyQt.QtGui import QIcon

    results = ProcessingResults()
    # exactly the call of BatchAlgorithmDialog.loadHTMLResults in QGIS 3.22
    results.addResult(icon=QIcon(), name="Clustering report [0]", result="/tmp/report.html")
    results.addResult(QIcon(), "Clustering report", (2026, 1, 1, 0, 0, 0, 0, 1, 0), "/tmp/r.html")
    added = results.getResults()
    assert [r.name for r in added] == ["Clustering report [0]", "Clustering report"]
    assert added[0].timestamp is not None and added[1].timestamp[0] == 2026
