"""Vector layers: read any OGR source, write GeoPackages atomically (GPKG 1.2 for QGIS 3.22)."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd

from urbansig.io.atomic import atomic_path
from urbansig.protocol import BadInput


def split_layer_path(path: str | Path) -> tuple[str, str | None]:
    """``file.gpkg|layername=x`` (QGIS's layer source syntax) -> (file, layer)."""
    text = str(path)
    if "|" not in text:
        return text, None
    file, _, options = text.partition("|")
    for option in options.split("|"):
        key, _, value = option.partition("=")
        if key.strip().lower() == "layername" and value:
            return file, value
    return file, None


STYLE_TABLES = {"layer_styles"}  # QGIS's saved styles, not data


def data_layer(path: str) -> str | None:
    """The one data layer of a multi-layer file (a GeoPackage with QGIS's ``layer_styles``
    table beside its layer), or None to let the reader take the first."""
    import pyogrio

    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception:  # noqa: BLE001 - unreadable files get read_file's clearer error
        return None
    data = [n for n in names if n.lower() not in STYLE_TABLES]
    return data[0] if len(data) == 1 and len(names) > 1 else None


def read_table(path: str | Path, name: str = "INPUT", layer: str | None = None):
    """A vector layer or a plain table (no geometry: GeoPackage table, CSV, ...).

    Returns a GeoDataFrame when the source has geometry, else a DataFrame; text columns
    whose every value is a number (CSV) become numbers. Errors name the parameter ``name``.
    """
    import pandas as pd

    path, in_path = split_layer_path(path)
    layer = layer or in_path or data_layer(path)
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types
        raise BadInput(f"{name}: cannot read {path} as a vector layer ({exc}).") from exc
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is None and len(frame):
            raise BadInput(f"{name}: layer {path} has no CRS; set one in QGIS and retry.")
        return frame
    return pd.DataFrame({c: numeric_text(frame[c]) for c in frame.columns})


def read_layer(path: str | Path, name: str = "INPUT", layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer with geometry (``file|layername=x`` accepted); errors name ``name``."""
    frame = read_table(path, name, layer)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise BadInput(f"{name}: {path} is a table without geometry; give a vector layer.")
    return frame


def has_geometry(frame) -> bool:
    """Whether ``frame`` (from :func:`read_table`) carries geometries."""
    return isinstance(frame, gpd.GeoDataFrame)


def numeric_text(column):
    """A text column whose every non-empty value is a number (a CSV) as numbers; else as is.

    Whole numbers become integers (nullable ``Int64`` where values are missing), so ids
    written as ``1, 2, 3`` come back as written; others become floats.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column
    text = column.astype("string").str.strip().replace("", pd.NA)
    converted = pd.to_numeric(text, errors="coerce")
    if converted.notna().sum() != text.notna().sum() or not text.notna().any():
        return column
    values = converted.astype("float64")
    whole = values.dropna()
    if ((whole == whole.round()) & (whole.abs() < 2**53)).all():
        return values.astype("Int64" if values.isna().any() else "int64")
    return values


def write_layer(frame, path: str | Path, layer: str | None = None) -> str:
    """Write ``frame`` as a layer of a GeoPackage (or any OGR format by extension), atomically.

    ``path`` may name the layer (``file.gpkg|layername=x``; default: the file's stem). An
    existing GeoPackage keeps its other layers: only this layer is added or replaced, as
    QGIS does. A DataFrame without geometry is written as a plain table. Returns the
    layer's source (with ``|layername=`` where the file holds other layers).
    """
    import pyogrio

    file, named = split_layer_path(path)
    target = Path(file)
    layer = layer or named or target.stem
    is_gpkg = target.suffix.lower() == ".gpkg"
    options = {"VERSION": "1.2"} if is_gpkg else None
    existing = is_gpkg and target.is_file()
    with atomic_path(target) as tmp:
        if existing:
            shutil.copy2(target, tmp)
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_file(tmp, layer=layer, engine="pyogrio", dataset_options=options)
        else:
            pyogrio.write_dataframe(frame, tmp, layer=layer, dataset_options=options)
        others = existing and len(pyogrio.list_layers(tmp)) > 1
    return f"{target}|layername={layer}" if others or named else str(target)
