"""Job ``diagnostics``: a report of the backend (versions, paths, device, timing)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from urbansig.jobs import Job
from urbansig.protocol import Events, JobSpec


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig.diagnostics import full_report
    from urbansig.io.atomic import atomic_path

    events.progress(0.1, "Collecting versions and timing a forward pass")
    report = full_report(spec.device)
    target = Path(spec.outputs["output"])
    text = json.dumps(report, indent=2)
    if target.suffix.lower() in (".html", ".htm"):
        text = (
            "<html><head><meta charset='utf-8'><title>Urban Signatures backend diagnostics"
            "</title></head><body><h1>Urban Signatures backend diagnostics</h1>"
            f"<pre>{html.escape(text)}</pre></body></html>"
        )
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    for key in ("torch", "device"):
        events.log(f"{key}: {report[key]}")
    events.metric("forward_ms", report["forward_pass"]["median_ms"])
    events.progress(1.0, "Done")
    return {"outputs": {"output": str(target)}, "metrics": {"device": report["device"]}}


JOB = Job(
    task="diagnostics",
    summary="Write a backend report (versions, paths, device, GPU memory, forward timing)",
    run=run,
)
