"""Region layers: polygons read through the shared vector reader, and their id field."""

from __future__ import annotations

import numpy as np

from urbansig.protocol import BadInput


def read_regions(path: str, parameter: str = "REGIONS", id_field: str | None = None):
    """The polygon layer at ``path``, index reset; BadInput naming ``parameter``.

    With ``id_field``, that field must identify each region once; it may be absent only
    when it is the default ``region_id`` (regions are then told apart by their row).
    """
    from urbansig.io.vector import read_layer

    return checked_regions(read_layer(path, parameter), path, parameter, id_field)


def checked_regions(regions, path: str, parameter: str = "REGIONS", id_field: str | None = None):
    """``regions`` (read from ``path``) checked as :func:`read_regions` checks them."""
    from urbansig.columns import REGION_ID

    if regions.empty:
        raise BadInput(f"{parameter}: {path} has no features.")
    kinds = set(regions.geometry.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise BadInput(f"{parameter} must be a polygon layer; {path} holds {sorted(kinds)}.")
    if id_field and id_field in regions.columns:
        check_unique_ids(regions[id_field].astype(str), id_field)
    elif id_field and id_field != REGION_ID:
        fields = ", ".join(c for c in regions.columns if c != "geometry")
        raise BadInput(f"ID_FIELD: the regions have no field {id_field!r}; fields are {fields}.")
    return regions.reset_index(drop=True)


def check_unique_ids(ids, field: str) -> None:
    """BadInput naming ID_FIELD when some of the regions' ``ids`` (text) repeat.

    N in the message counts the distinct values that occur more than once.
    """
    import pandas as pd

    text = pd.Series(np.asarray(ids, dtype=object))
    repeated = text[text.duplicated()].unique()
    if len(repeated):
        raise BadInput(
            f"ID_FIELD: {field} has {len(repeated)} duplicate values (e.g. {repeated[0]}); "
            "give a field that identifies each region once."
        )
