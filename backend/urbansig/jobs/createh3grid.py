"""Job ``h3grid``: H3 cells covering an extent or polygons, as a polygon layer."""

from __future__ import annotations

from typing import Any

from urbansig.jobs import Job
from urbansig.protocol import BadInput, Events, JobSpec


def parse_extent(text: str) -> tuple[float, float, float, float, str]:
    """'xmin,ymin,xmax,ymax [CRS]' -> the four numbers and the CRS (EPSG:4326 by default)."""
    numbers, _, crs = text.partition("[")
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in numbers.split(","))
    except ValueError as exc:
        raise BadInput(f"EXTENT must be 'xmin,ymin,xmax,ymax [CRS]', not {text!r}.") from exc
    return xmin, ymin, xmax, ymax, crs.rstrip("] ").strip() or "EPSG:4326"


def run(spec: JobSpec, events: Events) -> dict[str, Any]:
    from urbansig import grids
    from urbansig.io.vector import read_layer, write_layer

    inputs, params = spec.inputs, spec.params
    events.progress(0.0, "Reading the area")
    if inputs.get("polygons"):
        area = read_layer(inputs["polygons"], "INPUT").geometry
        if area.empty:
            raise BadInput("INPUT: the polygon layer has no features.")
        source_crs = area.crs
    elif inputs.get("extent"):
        xmin, ymin, xmax, ymax, source_crs = parse_extent(str(inputs["extent"]))
        area = grids.extent_area(xmin, ymin, xmax, ymax, source_crs)
    else:
        raise BadInput("Give EXTENT or INPUT (a polygon layer) to cover with H3 cells.")
    target = "EPSG:4326" if params["output_crs"] == "EPSG:4326" else source_crs
    events.progress(0.2, "Computing H3 cells")
    grid = grids.h3_grid(area, int(params["resolution"]), int(params["max_cells"]), target)
    events.check_cancelled()
    events.progress(0.7, f"Writing {len(grid)} cells")
    write_layer(grid, spec.outputs["output"])
    events.metric("n_cells", len(grid))
    events.progress(1.0, "Done")
    return {"outputs": dict(spec.outputs), "metrics": {"n_cells": len(grid)}}


JOB = Job(
    task="createh3grid",
    summary="H3 cells covering an extent or polygons, as a polygon layer with region_id",
    run=run,
)
