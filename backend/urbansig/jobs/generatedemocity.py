"""Job ``generatedemocity``: the synthetic reference city with ground truth (urbansig.synth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec

SIZES = ("tiny", "small", "medium", "large")


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    params = spec.params
    days, resolution, n_users = int(params["days"]), int(params["region_resolution"]), 0
    if not 1 <= days <= 77:
        raise BadInput(f"DAYS must be between 1 and 77 (NetMob covers 77 days), not {days}.")
    if not 7 <= resolution <= 10:
        raise BadInput(f"REGION_RESOLUTION must be between 7 and 10 (H3), not {resolution}.")
    n_users = int(params["n_users"])
    if n_users < 0:
        raise BadInput(f"N_USERS must be 0 (the default for SIZE) or more, not {n_users}.")
    from urbansig.synth import generate_city
    from urbansig.synth.writer import FILES, CityVariation, check_output

    out = Path(spec.outputs["output"])
    check_output(out)

    manifest = generate_city(
        out,
        seed=spec.seed,
        size=params["size"],
        days=days,
        events=events,
        region_resolution=resolution,
        n_users=n_users,
        variation=CityVariation(
            int(params["n_land_uses"]), float(params["imbalance"]), float(params["noise"])
        ),
    )
    outputs = {"output": str(out)}
    outputs.update({key: str(out / rel) for key, rel in FILES.items()})
    outputs["manifest"] = str(out / "manifest.json")
    metrics = {
        "city": manifest["city"],
        "n_tiles": manifest["n_tiles"],
        "n_regions": manifest["n_regions"],
        "n_users": manifest["n_users"],
        "n_pois": manifest["n_pois"],
    }
    for name, value in metrics.items():
        events.metric(name, value)
    return {"outputs": outputs, "metrics": metrics}


JOB = Job(
    task="generatedemocity",
    summary="A synthetic city with ground truth: NetMob-layout traffic, regions, POIs, "
    "trajectories, flows and imagery",
    run=run,
)
