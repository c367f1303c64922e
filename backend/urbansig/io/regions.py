"""Region layers: polygons read through the shared vector reader."""

from __future__ import annotations

from urbansig.protocol import BadInput


def read_regions(path: str, parameter: str = "REGIONS"):
    """The polygon layer at ``path``, index reset; BadInput naming ``parameter``."""
    from urbansig.io.vector import read_layer

    regions = read_layer(path, parameter)
    if regions.empty:
        raise BadInput(f"{parameter}: {path} has no features.")
    kinds = set(regions.geometry.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise BadInput(f"{parameter} must be a polygon layer; {path} holds {sorted(kinds)}.")
    return regions.reset_index(drop=True)
