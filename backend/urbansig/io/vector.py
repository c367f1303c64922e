"""Vector layers: read any OGR source, write GeoPackages atomically (GPKG 1.2 for QGIS 3.22)."""

from __future__ import annotations

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


def read_layer(path: str | Path, name: str = "INPUT", layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (``file|layername=x`` accepted); errors name the parameter ``name``."""
    path, in_path = split_layer_path(path)
    layer = layer or in_path
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types
        raise BadInput(f"{name}: cannot read {path} as a vector layer ({exc}).") from exc
    if frame.crs is None and len(frame):
        raise BadInput(f"{name}: layer {path} has no CRS; set one in QGIS and retry.")
    return frame


def write_layer(frame: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> Path:
    """Write ``frame`` as a GeoPackage (or any OGR format by extension), atomically."""
    target = Path(path)
    options = {"VERSION": "1.2"} if target.suffix.lower() == ".gpkg" else {}
    with atomic_path(target) as tmp:
        frame.to_file(
            tmp, layer=layer or target.stem, engine="pyogrio", dataset_options=options or None
        )
    return target
