"""Points of interest from any vector layer (GeoPackage, GeoJSON, Shapefile) or an
OpenStreetMap extract (.osm.pbf / .osm via GDAL's OSM driver, layer "points"), with a
category column (given, or derived from OSM tags) and a short text per POI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from urbansig.io.report import ReadReport
from urbansig.protocol import BadInput

# OSM keys that make a point a POI, in priority order, with the values kept (None: all).
CATEGORY_KEYS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("amenity", None),
    ("shop", None),
    ("tourism", None),
    ("leisure", None),
    ("office", None),
    ("healthcare", None),
    ("craft", None),
    ("historic", None),
    ("sport", None),
    ("public_transport", frozenset({"station", "stop_position", "platform", "stop_area"})),
    ("railway", frozenset({"station", "halt", "tram_stop", "subway_entrance", "platform"})),
    ("highway", frozenset({"bus_stop"})),
    ("aeroway", frozenset({"aerodrome", "terminal", "helipad"})),
)
TEXT_KEYS = ("cuisine", "religion", "brand", "operator", "description", "sport", "denomination")
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
OSM_SUFFIXES = (".pbf", ".osm")


def parse_other_tags(text: object) -> dict[str, str]:
    """GDAL's ``other_tags`` (hstore-like ``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not isinstance(text, str) or not text:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(text)}


def _is_osm(path: Path) -> bool:
    return path.suffix.lower() in OSM_SUFFIXES


def _osm_category(tags: dict[str, str]) -> str | None:
    for key, allowed in CATEGORY_KEYS:
        value = tags.get(key)
        if value and (allowed is None or value in allowed):
            return key if value in ("yes", "1") else f"{key}:{value}"
    return None


def _osm_text(tags: dict[str, str], category: str) -> str:
    words = [tags.get("name", "")]
    words.append(category.replace(":", " ").replace("_", " "))
    for key in TEXT_KEYS:
        if tags.get(key):
            words.append(f"{key} {tags[key]}".replace("_", " ").replace(";", " "))
    return " ".join(w for w in words if w).strip()


def _read_osm(path: Path, layer: str | None, report: ReadReport):
    import geopandas as gpd
    import pyogrio

    layer = layer or "points"
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - GDAL raises several types
        raise BadInput(
            f"INPUT: cannot read layer {layer!r} of {path} with GDAL's OSM driver ({exc})."
        ) from exc
    report.files_read = 1
    report.bytes_read = path.stat().st_size
    report.lines_read = len(frame)
    plain = [c for c in frame.columns if c not in ("geometry", "other_tags", "osm_id")]
    records = frame[plain].to_dict("records") if plain else [{}] * len(frame)
    others = frame["other_tags"] if "other_tags" in frame else pd.Series([None] * len(frame))
    categories, texts, names = [], [], []
    for row, other in zip(records, others):
        tags = parse_other_tags(other)
        tags.update({k: str(v) for k, v in row.items() if isinstance(v, str) and v})
        category = _osm_category(tags)
        categories.append(category)
        texts.append(_osm_text(tags, category) if category else "")
        names.append(tags.get("name", ""))
    keep = np.array([c is not None for c in categories])
    report.count("points_without_poi_tags", int((~keep).sum()))
    report.notes.append(
        "OSM category = first of " + ", ".join(k for k, _ in CATEGORY_KEYS) + " tags (key:value)"
    )
    return gpd.GeoDataFrame(
        {
            "category": np.array(categories, dtype=object)[keep],
            "text": np.array(texts, dtype=object)[keep],
            "name": np.array(names, dtype=object)[keep],
        },
        geometry=frame.geometry.to_numpy()[keep],
        crs=frame.crs,
    )


def _read_vector(path: Path, category_field: str | None, text_fields, layer, report):
    import geopandas as gpd

    from urbansig.io.vector import read_layer

    frame = read_layer(path, name="INPUT", layer=layer)
    report.files_read = 1
    report.bytes_read = path.stat().st_size if path.is_file() else 0
    report.lines_read = len(frame)
    fields = [c for c in frame.columns if c != "geometry"]
    if category_field is not None:
        if category_field not in frame.columns:
            raise BadInput(
                f"CATEGORY_FIELD: {path} has no field {category_field!r}; fields are "
                f"{', '.join(fields)}."
            )
        category = frame[category_field]
    else:
        osm_keys = [k for k, _ in CATEGORY_KEYS if k in frame.columns]
        if not osm_keys:
            raise BadInput(
                f"CATEGORY_FIELD: {path} has no OSM tag fields "
                f"({', '.join(k for k, _ in CATEGORY_KEYS)}); name the field that holds the "
                f"category (fields are {', '.join(fields)})."
            )
        category = pd.Series(
            [
                _osm_category({k: r[k] for k in osm_keys if isinstance(r[k], str)})
                for r in frame[osm_keys].to_dict("records")
            ],
            index=frame.index,
        )
    missing = [f for f in text_fields or () if f not in frame.columns]
    if missing:
        raise BadInput(
            f"TEXT_FIELDS: {path} has no field {', '.join(missing)}; fields are "
            f"{', '.join(fields)}."
        )
    if text_fields is None:  # auto: the first of text, name that the layer has
        text_fields = tuple(f for f in ("text", "name") if f in frame.columns)[:1]
    if text_fields:
        text = frame[list(text_fields)].fillna("").astype(str).agg(" ".join, axis=1).str.strip()
    else:
        text = pd.Series("", index=frame.index)
    geometry = frame.geometry
    kinds = set(geometry.dropna().geom_type.unique())
    if kinds - {"Point"}:
        geometry = geometry.representative_point()
        report.notes.append(f"{', '.join(sorted(kinds - {'Point'}))} replaced by an inner point")
    keep = np.array(category.notna() & (category.astype(str).str.strip() != ""), dtype=bool)
    keep &= ~(geometry.isna() | geometry.is_empty).to_numpy()
    report.count("rows_without_category_or_geometry", int((~keep).sum()))
    out = gpd.GeoDataFrame(
        {
            "category": category[keep].astype(str).str.strip().to_numpy(dtype=object),
            "text": text[keep].to_numpy(dtype=object),
        },
        geometry=geometry[keep].to_numpy(),
        crs=frame.crs,
    )
    if "name" in frame.columns:
        out.insert(2, "name", frame["name"][keep].fillna("").astype(str).to_numpy(dtype=object))
    return out


def read_pois(
    path: Path,
    category_field: str | None = "category",
    text_fields: tuple[str, ...] | None = None,
    layer: str | None = None,
) -> Any:
    """POIs as a GeoDataFrame: category (str), text (str), name (when known), geometry.

    ``text_fields`` None takes the text from a ``text`` or else ``name`` field when the
    layer has one; ``()`` reads no text; named fields must exist.

    OSM extracts (.osm.pbf, .osm) are read with GDAL's OSM driver (layer "points"); the
    category is derived from amenity/shop/tourism/leisure/... tags and the text from the
    name and descriptive tags; points without such tags are not POIs and are left out.
    For other layers ``category_field`` names the category column (None: derive it from
    OSM tag columns). The read report is in ``frame.attrs["read_report"]``.
    """
    path = Path(path)
    if not path.exists():
        raise BadInput(f"INPUT: {path} does not exist.")
    report = ReadReport()
    if _is_osm(path):
        frame = _read_osm(path, layer, report)
    else:
        fields = None if text_fields is None else tuple(text_fields)
        frame = _read_vector(path, category_field, fields, layer, report)
    if len(frame) == 0:
        raise BadInput(f"INPUT: {path} holds no POI with a category.")
    frame = frame.reset_index(drop=True)
    frame.attrs["read_report"] = report
    return frame
