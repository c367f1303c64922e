"""Region tables as predictindicator reads them: feature fields, the features as a matrix,
the target, a point per region and repeated regions, from a frame read by
:func:`urbansig.io.vector.read_table` (a layer or a plain table). Errors name the parameter.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from urbansig.io.vector import has_geometry, numeric_text
from urbansig.protocol import BadInput


def feature_fields(
    frame, listed: list[str], prefix: str, exclude: Collection[str] = ()
) -> list[str]:
    """The feature fields: ``listed`` (FEATURE_FIELDS) when given, else every field that
    starts with ``prefix`` (FEATURE_PREFIX) and is not in ``exclude``."""
    geometry = frame.geometry.name if has_geometry(frame) else None
    columns = [c for c in frame.columns if c != geometry]
    if listed:
        missing = [f for f in listed if f not in columns]
        if missing:
            raise BadInput(
                f"FEATURE_FIELDS: {', '.join(missing)} not in the INPUT layer; its fields are "
                f"{', '.join(columns[:30])}."
            )
        return listed
    if not prefix:
        raise BadInput("Give FEATURE_FIELDS (comma-separated) or FEATURE_PREFIX (e.g. emb_).")
    matched = [c for c in columns if c.startswith(prefix) and c not in exclude]
    if not matched:
        raise BadInput(
            f"FEATURE_PREFIX: no field of the INPUT layer starts with {prefix!r}; its fields are "
            f"{', '.join(columns[:30])}."
        )
    return matched


def feature_matrix(frame, fields: list[str], parameter: str = "FEATURE_FIELDS") -> np.ndarray:
    """Numeric features (n, d) as float64; BadInput naming non-numeric or NULL fields."""
    import pandas as pd

    columns = []
    for name in fields:
        column = numeric_text(frame[name])
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise BadInput(f"{parameter}: field {name} is not numeric ({column.dtype}).")
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise BadInput(
                f"{parameter}: field {name} is NULL (or not finite) in {bad} of {len(values)} "
                "regions; fill those values or remove those regions first."
            )
        columns.append(values)
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def target_values(frame, field: str) -> np.ndarray:
    """The target as float64, NaN where NULL (= to be predicted)."""
    import pandas as pd

    if field not in frame.columns:
        raise BadInput(f"TARGET_FIELD: {field} is not a field of the INPUT layer.")
    column = numeric_text(frame[field])
    if not pd.api.types.is_numeric_dtype(column):
        raise BadInput(f"TARGET_FIELD: field {field} is not numeric ({column.dtype}).")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def region_coords(frame) -> np.ndarray:
    """A point inside each region (layer units), for spatial blocks."""
    if not has_geometry(frame):
        raise BadInput(
            "SPLIT: 'spatial' needs region geometries and INPUT is a plain table; use SPLIT "
            "random (or the literature protocol's K-fold), or give a polygon layer."
        )
    if frame.geometry.isna().any() or frame.geometry.is_empty.any():
        raise BadInput("INPUT: SPLIT 'spatial' needs a geometry for every region.")
    points = frame.geometry.representative_point()
    return np.column_stack([points.x.to_numpy(), points.y.to_numpy()])


def repeated_regions(frame) -> str:
    """'N regions repeat ...' when rows share a geometry (the same region twice), else ''."""
    if not has_geometry(frame):
        return ""
    keys = frame.geometry.normalize().to_wkb()
    repeated = keys.duplicated() & frame.geometry.notna()
    if not repeated.any():
        return ""
    first = int(repeated.to_numpy().nonzero()[0][0])
    return f"{int(repeated.sum())} regions repeat another region's geometry (e.g. row {first})"
