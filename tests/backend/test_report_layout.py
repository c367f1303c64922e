"""HTML reports: titled after the algorithm and the run's input, wide tables fit the page."""

from __future__ import annotations

import io
import re

import pytest

from urbansig import runtime
from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec
from urbansig.report import Report, report_subject

METRICS = ["method", "n_clusters_used", "silhouette", "davies_bouldin", "coherence"]
METRICS += ["coherence_random", "coherence_z", "coherence_p", "ari", "nmi", "acc"]


def _rows() -> list[dict]:
    """The clustering report's comparison: three methods by ten metrics."""
    return [
        {"method": m, **{c: 0.123456 for c in METRICS[1:]}}
        for m in ("contrastive_clustering", "kmeans", "pca_kmeans")
    ]


def test_title_and_heading_name_the_input(tmp_path):
    with report_subject("tiles"):
        page = Report("Cluster mobile traffic tiles").save(tmp_path / "r.html").read_text()
    assert "<title>Cluster mobile traffic tiles \u2013 tiles</title>" in page
    assert "<h1>Cluster mobile traffic tiles \u2013 tiles</h1>" in page
    plain = Report("Cluster mobile traffic tiles").save(tmp_path / "p.html").read_text()
    assert "<title>Cluster mobile traffic tiles</title>" in plain  # no subject, no dash


def test_many_columns_few_rows_are_transposed_and_scroll_in_their_box(tmp_path):
    page = Report("x").table(_rows(), "caption").save(tmp_path / "r.html").read_text()
    table = re.search(r"<div class='table'><table>.*?</table></div>", page).group(0)
    first_row = re.search(r"<tr>(.*?)</tr>", table).group(1)
    assert re.findall(r"<th>(.*?)</th>", first_row) == [
        "method",
        "contrastive_<wbr>clustering",
        "kmeans",
        "pca_<wbr>kmeans",
    ]
    assert table.count("<tr>") == len(METRICS)  # the heading, then one row per metric
    assert ".table{max-width:100%;overflow-x:auto" in page
    assert "table{border-collapse:collapse;max-width:100%}" in page


def test_long_tables_keep_their_layout(tmp_path):
    rows = [{"k": k, "stability": 0.5, "silhouette": 0.3, "score": 0.4} for k in range(3, 11)]
    page = Report("x").table(rows).save(tmp_path / "r.html").read_text()
    assert "<tr><th>k</th><th>stability</th><th>silhouette</th><th>score</th></tr>" in page


def test_the_spec_subject_reaches_the_reports_of_a_job(tmp_path, monkeypatch):
    def run(spec, events):
        Report("Backend diagnostics").save(spec.outputs["output"])
        return {"outputs": dict(spec.outputs)}

    monkeypatch.setattr(runtime, "get_job", lambda task: Job("diagnostics", "test", run))
    out = tmp_path / "d.html"
    spec = JobSpec.from_dict(
        {
            "version": 1,
            "task": "diagnostics",
            "outputs": {"output": str(out)},
            "subject": "my layer",
        }
    )
    runtime.run_spec(spec, Events(io.StringIO()))
    assert "<h1>Backend diagnostics \u2013 my layer</h1>" in out.read_text()
    Report("after").save(tmp_path / "after.html")  # the subject ends with the job
    assert "<h1>after</h1>" in (tmp_path / "after.html").read_text()


def test_subject_must_be_text():
    with pytest.raises(BadInput, match="subject"):
        JobSpec.from_dict({"version": 1, "task": "x", "subject": 3})
