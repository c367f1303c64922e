"""MuseCL's inputs read per region: raster crops, street-view images, POIs, OD flows, count
tables.

Each reader turns one input of ``embedregionsmusecl`` into arrays by region position
(0..n-1 in the region layer's order); :func:`read_modalities` gathers them into the
method's :class:`~urbansig.models.musecl.RegionData`. Errors are BadInput naming the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from urbansig.protocol import BadInput

if TYPE_CHECKING:
    from urbansig.models.musecl import RegionData

IMAGE_CHUNK = 1024
TASK = "embedregionsmusecl"


def read_numbered_regions(path: str, id_field: str):
    """The region polygons, or a plain table of regions; the default ``region_id`` numbers
    the rows when absent."""
    from urbansig.columns import REGION_ID
    from urbansig.io.regions import checked_regions
    from urbansig.io.vector import has_geometry, read_table

    table = read_table(path, "REGIONS")
    regions = checked_regions(table, path, id_field=id_field) if has_geometry(table) else table
    if regions.empty:
        raise BadInput("REGIONS: the layer has no features.")
    if id_field not in regions.columns:
        regions[REGION_ID] = np.arange(len(regions)).astype(str)
    return regions


# inputs placed by their geometry, which a plain region table does not have
_SPATIAL_INPUTS = {"raster": "RASTER", "streetview": "STREETVIEW", "pois": "POIS"}


def metric_crs(regions):
    """The regions' CRS when projected, else their UTM zone's."""
    return regions.crs if not regions.crs.is_geographic else regions.estimate_utm_crs()


def read_modalities(
    regions, inputs: dict[str, Any], params: dict[str, Any], wanted, events
) -> tuple[RegionData, list[str]]:
    """RegionData for the modalities the inputs give (those in ``wanted`` when given) and
    notes on where the flows came from."""
    from urbansig.io.flows import FlowInputs, read_views, region_ids
    from urbansig.io.vector import has_geometry
    from urbansig.models.musecl import RegionData
    from urbansig.models.musecl.model import MODALITIES

    n = len(regions)
    ids = region_ids(regions, params["id_field"])
    data = RegionData(n=n, region_ids=ids)
    if has_geometry(regions):
        centroids = regions.to_crs(metric_crs(regions)).geometry.centroid
        data.coords = np.column_stack([centroids.x, centroids.y])
    else:
        for key, name in _SPATIAL_INPUTS.items():
            if inputs.get(key):
                raise BadInput(
                    f"{name}: placed by its geometry, so it needs region polygons; REGIONS is "
                    "a plain table (give a polygon layer, or per-region counts as VIEWS)."
                )
    notes: list[str] = []
    want = set(wanted) if wanted else None
    if inputs.get("raster") and (want is None or "rs" in want):
        events.progress(0.0, "Cropping the raster")
        data.rs, data.rs_valid = read_raster_crops(inputs["raster"], regions, params["image_size"])
    if inputs.get("streetview") and (want is None or "sv" in want):
        events.progress(0.3, "Reading street-view images")
        data.sv, data.sv_region = read_streetview(
            inputs["streetview"], params["image_field"], regions, params["image_size"], events
        )
    if (inputs.get("pois")) and (want is None or {"poi_text", "poi_counts"} & want):
        events.progress(0.7, "Reading POIs")
        cats, texts, where = read_region_pois(inputs["pois"], params, regions)
        data.poi_category, data.poi_text, data.poi_region = cats, texts, where
    flows = None
    if inputs.get("od") and (params.get("in_field") or params.get("out_field")):
        raise BadInput(
            "IN_FIELD/OUT_FIELD: give the flows either as the OD table or as the regions' "
            "inflow and outflow fields, not both."
        )
    if inputs.get("od") and (want is None or "flow" in want):
        structure = params.get("flow_encoder") == "structure"
        data.od, flows, valid = read_od(inputs["od"], params, ids, structure)
        notes.append(
            "flows: encoded from the OD structure (who goes where)"
            if structure
            else "flows: in/out totals from the OD table"
        )
    elif params.get("in_field") or params.get("out_field"):
        flows, valid = flow_fields(regions, params)
        notes.append(f"flows: fields {params['in_field']} / {params['out_field']}")
    if flows is not None:
        data.flows, data.flow_valid = flows, valid
    if inputs.get("views"):
        found = FlowInputs()
        tables = read_views(inputs["views"], ids, params["id_field"], found)
        clashes = [t for t in tables if t in MODALITIES]
        if clashes:
            raise BadInput(
                f"VIEWS: a table may not be named like a modality ({', '.join(clashes)}); "
                "rename the file."
            )
        data.tables = {t: v for t, v in tables.items() if want is None or t in want}
        notes += found.warnings
        notes += [f"{t}: {len(found.view_columns[t])} count fields" for t in data.tables]
    events.progress(1.0, "Inputs read")
    return data, notes


def read_raster_crops(path: str, regions, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 crops ``(n, bands, size, size)`` of the raster per region and which regions
    have data; read in chunks of regions, a chunk outside the raster gets empty crops."""
    try:
        from urbansig.io.raster import NoOverlap, crop_regions
    except ImportError as exc:  # the raster reader ships with the backend
        raise BadInput(f"RASTER: raster reading is unavailable in this backend ({exc}).") from exc
    crops, valid, problems = [], [], []
    for start in range(0, len(regions), IMAGE_CHUNK):
        part = regions.iloc[start : start + IMAGE_CHUNK]
        try:
            c, v = crop_regions(Path(path), part, size)
        except NoOverlap as exc:  # this chunk lies outside the raster (unreadable: BadInput)
            problems.append(str(exc))
            c = np.zeros((len(part), 1, size, size), dtype=np.float32)
            v = np.zeros(len(part), dtype=bool)
        crops.append(np.clip(np.rint(c * 255.0), 0, 255).astype(np.uint8))
        valid.append(np.asarray(v, dtype=bool))
    valid_all = np.concatenate(valid)
    if not valid_all.any():
        detail = problems[0] if problems else "every crop is empty (nodata)"
        raise BadInput(f"RASTER: no region has raster data: {detail}")
    bands = max(c.shape[1] for c in crops)
    crops = [
        c if c.shape[1] == bands else np.zeros((len(c), bands, size, size), np.uint8) for c in crops
    ]
    return np.concatenate(crops), valid_all


def assign_points(points, regions) -> np.ndarray:
    """Region position of each point (-1 outside every region)."""
    import geopandas as gpd

    pts = points.to_crs(regions.crs) if points.crs != regions.crs else points
    frame = gpd.GeoDataFrame(
        {"_pt": np.arange(len(pts))}, geometry=pts.geometry.values, crs=regions.crs
    )
    joined = gpd.sjoin(
        frame,
        regions[[regions.geometry.name]].assign(_region=np.arange(len(regions))),
        predicate="within",
    )
    joined = joined.drop_duplicates("_pt")
    where = np.full(len(pts), -1, dtype=np.int64)
    where[joined["_pt"].to_numpy()] = joined["_region"].to_numpy()
    return where


def read_streetview(
    path: str, image_field: str, regions, size: int, events
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(m, 3, size, size)`` of the street-view points inside a region and
    the region position of each (paths relative to the layer's folder)."""
    from urbansig.io.vector import read_layer

    try:
        from urbansig.io.images import load_images
    except ImportError as exc:
        raise BadInput(f"STREETVIEW: image reading is unavailable ({exc}).") from exc
    points = read_layer(path, "STREETVIEW")
    if image_field not in points.columns:
        raise BadInput(f"IMAGE_FIELD: the street-view layer has no field {image_field!r}.")
    where = assign_points(points, regions)
    keep = np.flatnonzero(where >= 0)
    if not len(keep):
        raise BadInput("STREETVIEW: no street-view point lies inside a region.")
    base = Path(path).parent
    paths = [
        p if p.is_absolute() else base / p
        for p in (Path(str(v)) for v in points[image_field].iloc[keep])
    ]
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    for start in range(0, len(paths), IMAGE_CHUNK):
        events.check_cancelled()
        chunk = load_images(paths[start : start + IMAGE_CHUNK], size, parameter="STREETVIEW")
        images[start : start + len(chunk)] = np.clip(np.rint(chunk * 255.0), 0, 255)
        events.progress(0.3 + 0.4 * (start + len(chunk)) / len(paths), "Reading images")
    return images, where[keep]


def poi_text_fields(value: str | None) -> tuple[str, ...] | None:
    """TEXT_FIELDS for the POI reader: the declared default (or nothing) reads the text of
    a ``text`` or ``name`` field where the layer has one; an empty value reads no text."""
    from urbansig.parameters import default

    if value is None or value == default(TASK, "text_fields"):
        return None
    return tuple(f.strip() for f in value.split(",") if f.strip())


def read_region_pois(
    path: str, params: dict[str, Any], regions
) -> tuple[list[str], list[str] | None, np.ndarray]:
    """Category, text (None when the layer has none) and region position of each POI with
    a category (CATEGORY_FIELD, TEXT_FIELDS in ``params``)."""
    try:
        from urbansig.io.poi import read_pois
    except ImportError as exc:
        raise BadInput(f"POIS: POI reading is unavailable ({exc}).") from exc
    text_fields = poi_text_fields(params.get("text_fields"))
    try:
        pois = read_pois(
            Path(path), category_field=params["category_field"], text_fields=text_fields
        )
    except BadInput as exc:
        raise BadInput(f"POIS: {exc}") if not str(exc).startswith("POIS") else exc from exc
    cats = pois["category"].astype("string").fillna("").str.strip()
    has = (cats != "").to_numpy()
    if not has.any():
        raise BadInput(
            f"POIS: no POI has a category in field {params['category_field']!r}; choose the "
            "field holding the POI type with CATEGORY_FIELD."
        )
    pois = pois[has]
    where = assign_points(pois, regions)
    if not (where >= 0).any():
        raise BadInput("POIS: no POI lies inside a region; check that the layers overlap.")
    texts = pois["text"].astype("string").fillna("").tolist() if "text" in pois else None
    return cats[has].tolist(), texts, where


def read_od(
    path: str, params: dict[str, Any], ids: np.ndarray, matrix: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The OD table (OD_ORIGIN, OD_DESTINATION, OD_COUNT in ``params``) by region position:
    a ``(1, n, n)`` trip matrix when ``matrix`` (else None), each region's (inflow,
    outflow) totals and which regions occur in it. Trips naming other regions are left out
    of the matrix; BadInput when no origin or destination is a region."""
    import pandas as pd

    from urbansig.io.flows import check_od_size, region_id_text
    from urbansig.io.tables import read_od as read_od_table

    try:
        od = read_od_table(
            Path(path), params["od_origin"], params["od_destination"], params["od_count"] or None
        )
    except BadInput as exc:
        raise BadInput(f"OD: {exc}") from exc
    index = pd.Index(ids)
    n = len(ids)
    origin = index.get_indexer(region_id_text(od["origin"]))
    destination = index.get_indexer(region_id_text(od["destination"]))
    counts = od["count"].to_numpy(dtype=np.float64)
    valid = np.zeros(n, dtype=bool)
    valid[origin[origin >= 0]] = True
    valid[destination[destination >= 0]] = True
    if not valid.any():
        raise BadInput(
            "OD: no origin or destination matches the regions' ID_FIELD values; "
            "the table's ids must be the region ids."
        )
    inflow = np.bincount(destination[destination >= 0], counts[destination >= 0], minlength=n)
    outflow = np.bincount(origin[origin >= 0], counts[origin >= 0], minlength=n)
    trips = None
    if matrix:
        try:
            check_od_size(1, n)
        except BadInput as exc:
            raise BadInput(f"{exc} FLOW_ENCODER totals needs no matrix.") from exc
        trips = np.zeros((1, n, n))
        known = (origin >= 0) & (destination >= 0)
        np.add.at(trips[0], (origin[known], destination[known]), counts[known])
    return trips, np.column_stack([inflow, outflow]).astype(np.float64), valid


def flow_fields(regions, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each region's (inflow, outflow) from its IN_FIELD / OUT_FIELD and which are finite."""
    import pandas as pd

    names = [params.get("in_field") or "", params.get("out_field") or ""]
    if not all(names):
        raise BadInput("IN_FIELD and OUT_FIELD must be given together (inflow and outflow fields).")
    for key, name in zip(("IN_FIELD", "OUT_FIELD"), names):
        if name not in regions.columns:
            raise BadInput(f"{key}: the regions have no field {name!r}.")
        if not pd.api.types.is_numeric_dtype(regions[name]):
            raise BadInput(f"{key}: {name} holds text, not numbers; choose a numeric field.")
    values = np.column_stack([pd.to_numeric(regions[f], errors="coerce") for f in names])
    valid = np.isfinite(values).all(1)
    if (values[valid] < 0).any():
        raise BadInput("IN_FIELD/OUT_FIELD: flows must not be negative.")
    return np.nan_to_num(values), valid
