"""Inputs of ``embedregionsflows``: region ids, OD tables as matrices per slot, count views.

Region ids are compared as text, with whole numbers written without decimals, so an id read
as ``7`` from a GeoPackage matches ``7.0`` from a CSV. OD tables are read in chunks (CSV,
Parquet) or through OGR (GeoPackage tables, any vector format) and summed straight into
``(slots, n, n)`` matrices; rows naming regions that are not in REGIONS are dropped with a
warning, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from urbansig.io.regions import check_unique_ids
from urbansig.io.vector import read_table, split_layer_path
from urbansig.protocol import BadInput

STREAMED_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
CHUNK_ROWS = 500_000
MAX_MATRIX_BYTES = 4 * 2**30  # all OD matrices together (float64)


def region_id_text(values) -> np.ndarray:
    """Ids as comparable text: whole numbers without decimals, other values stripped."""
    series = pd.Series(values)
    text = series.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.notna() & (numbers % 1 == 0) & (numbers.abs() < 2**53)
    text = text.where(
        ~whole, numbers.where(whole).astype("Float64").astype("Int64").astype("string")
    )
    return text.fillna("").to_numpy(dtype=object).astype(str)


@dataclass
class FlowInputs:
    """What the readers found, for the log and the report."""

    slot_names: list[str] = field(default_factory=list)
    view_columns: dict[str, list[str]] = field(default_factory=dict)
    trips_read: float = 0.0
    trips_dropped: float = 0.0
    warnings: list[str] = field(default_factory=list)


def region_ids(frame, id_field: str) -> np.ndarray:
    """The regions' ids (text) from ``id_field``; BadInput on missing fields, blanks, duplicates."""
    if id_field not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != "geometry")
        raise BadInput(f"ID_FIELD: the regions have no field {id_field!r}; fields are {fields}.")
    ids = region_id_text(frame[id_field])
    if (ids == "").any():
        raise BadInput(f"ID_FIELD: {id_field} is empty for {(ids == '').sum()} regions.")
    check_unique_ids(ids, id_field)
    return ids


@dataclass(frozen=True)
class OdFields:
    origin: str = "origin"
    destination: str = "destination"
    count: str | None = "count"
    time_slot: str | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.origin, self.destination, self.count, self.time_slot) if c]


def read_od_matrices(
    paths: list[str], ids: np.ndarray, fields: OdFields, found: FlowInputs
) -> np.ndarray:
    """``(slots, n, n)`` trips between the regions ``ids``: one matrix per table, or per
    time slot of a table when ``fields.time_slot`` is given (slots sorted within a table)."""
    position = pd.Index(ids)
    n = len(ids)
    matrices: list[np.ndarray] = []
    for path in paths:
        per_slot: dict[str, np.ndarray] = {}
        for chunk in _od_chunks(path, fields):
            origin = position.get_indexer(region_id_text(chunk[fields.origin]))
            destination = position.get_indexer(region_id_text(chunk[fields.destination]))
            counts = _counts(chunk, fields, path)
            known = (origin >= 0) & (destination >= 0)
            found.trips_read += float(counts.sum())
            found.trips_dropped += float(counts[~known].sum())
            slots = (
                region_id_text(chunk[fields.time_slot])
                if fields.time_slot
                else np.full(len(chunk), "", dtype=object)
            )
            for slot in pd.unique(slots[known]):
                rows = known & (slots == slot)
                if slot not in per_slot:
                    check_od_size(len(matrices) + len(per_slot) + 1, n)
                    per_slot[slot] = np.zeros((n, n))
                np.add.at(per_slot[slot], (origin[rows], destination[rows]), counts[rows])
        if not per_slot:
            raise BadInput(
                f"OD: no row of {path} joins two regions by ID_FIELD; the "
                f"{fields.origin}/{fields.destination} values must be the region ids."
            )
        stem = Path(split_layer_path(path)[0]).stem
        for slot in sorted(per_slot, key=_slot_order):
            found.slot_names.append(f"{stem} {fields.time_slot}={slot}" if slot else stem)
            matrices.append(per_slot[slot])
    if found.trips_dropped:
        share = found.trips_dropped / max(found.trips_read, 1e-12)
        found.warnings.append(
            f"OD: {found.trips_dropped:g} trips ({share:.1%}) start or end outside the regions "
            "given and were left out."
        )
    return np.stack(matrices)


def _slot_order(slot: str):
    number = pd.to_numeric(slot, errors="coerce")
    return (0, float(number), "") if pd.notna(number) else (1, 0.0, slot)


def check_od_size(slots: int, n: int) -> None:
    if slots * n * n * 8 > MAX_MATRIX_BYTES:
        raise BadInput(
            f"OD: {slots} matrices of {n} x {n} regions exceed "
            f"{MAX_MATRIX_BYTES // 2**30} GiB; use fewer time slots or coarser regions."
        )


def _counts(chunk: pd.DataFrame, fields: OdFields, path: str) -> np.ndarray:
    if not fields.count:
        return np.ones(len(chunk))
    values = pd.to_numeric(chunk[fields.count], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise BadInput(
            f"COUNT_FIELD: {path} has {int(bad.sum())} rows whose {fields.count} is empty or "
            f"not a non-negative number (e.g. {chunk[fields.count].iloc[int(np.argmax(bad))]!r})."
        )
    return values


def _od_chunks(path: str, fields: OdFields) -> Iterator[pd.DataFrame]:
    """The OD columns of ``path`` in chunks; BadInput naming the missing fields."""
    file, layer = split_layer_path(path)
    suffix = Path(file).suffix.lower()
    if not Path(file).exists():
        raise BadInput(f"OD: {file} does not exist.")
    if suffix in STREAMED_SUFFIXES and layer is None:
        yield from _streamed_chunks(file, fields)
        return
    frame = read_table(path, "OD")
    _check_columns(list(frame.columns), fields, path)
    for start in range(0, len(frame), CHUNK_ROWS):
        yield frame.iloc[start : start + CHUNK_ROWS][fields.columns]


def _streamed_chunks(file: str, fields: OdFields) -> Iterator[pd.DataFrame]:
    text = {c: str for c in (fields.origin, fields.destination, fields.time_slot) if c}
    if file.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(file)
        _check_columns(parquet.schema_arrow.names, fields, file)
        for batch in parquet.iter_batches(CHUNK_ROWS, columns=fields.columns):
            yield batch.to_pandas()
        return
    sep = "\t" if file.lower().endswith(".tsv") else ","
    try:
        header = list(pd.read_csv(file, sep=sep, nrows=0).columns)
        _check_columns(header, fields, file)
        yield from pd.read_csv(
            file, sep=sep, usecols=fields.columns, dtype=text, chunksize=CHUNK_ROWS
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BadInput(f"OD: cannot read {file} as a table ({exc}).") from exc


def _check_columns(header: list[str], fields: OdFields, path: str) -> None:
    names = {
        "ORIGIN_FIELD": fields.origin,
        "DESTINATION_FIELD": fields.destination,
        "COUNT_FIELD": fields.count,
        "TIME_SLOT_FIELD": fields.time_slot,
    }
    for parameter, name in names.items():
        if name and name not in header:
            raise BadInput(
                f"{parameter}: {path} has no field {name!r}; its fields are {', '.join(header)}."
            )


def read_views(
    paths: list[str], ids: np.ndarray, id_field: str, found: FlowInputs
) -> dict[str, np.ndarray]:
    """One view per table: its numeric fields per region (joined on ``id_field``; regions
    missing from a table, and NULLs, count as 0 with a warning)."""
    views: dict[str, np.ndarray] = {}
    for path in paths:
        frame = read_table(path, "VIEWS")
        if id_field not in frame.columns:
            raise BadInput(
                f"VIEWS: {path} has no field {id_field!r} (the ID_FIELD of the regions); "
                f"its fields are {', '.join(c for c in frame.columns if c != 'geometry')}."
            )
        keys = region_id_text(frame[id_field])
        if pd.Series(keys).duplicated().any():
            raise BadInput(f"VIEWS: {path} has more than one row for some {id_field} values.")
        numeric = [
            c
            for c in frame.columns
            if c not in (id_field, "geometry") and pd.api.types.is_numeric_dtype(frame[c])
        ]
        if not numeric:
            raise BadInput(f"VIEWS: {path} has no numeric field besides {id_field}.")
        table = frame[numeric].astype(np.float64).set_axis(keys)
        name = _unique(Path(split_layer_path(path)[0]).stem, views)
        views[name] = _aligned(table, ids, name, found)
        found.view_columns[name] = numeric
    return views


def region_view(frame, fields: list[str], ids: np.ndarray, found: FlowInputs) -> np.ndarray:
    """The regions' own numeric ``fields`` as one view (NULLs count as 0, with a warning)."""
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise BadInput(f"VIEW_FIELDS: the regions have no field {', '.join(missing)}.")
    text = [f for f in fields if not pd.api.types.is_numeric_dtype(frame[f])]
    if text:
        raise BadInput(
            f"VIEW_FIELDS: {', '.join(text)} hold text, not numbers; choose numeric fields."
        )
    table = pd.DataFrame({f: pd.to_numeric(frame[f], errors="coerce") for f in fields})
    found.view_columns["region fields"] = list(fields)
    return _aligned(table.set_axis(ids), ids, "VIEW_FIELDS", found)


def _aligned(table: pd.DataFrame, ids: np.ndarray, name: str, found: FlowInputs) -> np.ndarray:
    absent = int((~pd.Index(ids).isin(table.index)).sum())
    values = table.reindex(ids)
    nulls = int(values.isna().to_numpy().sum()) - absent * values.shape[1]
    if absent:
        found.warnings.append(f"{name}: {absent} regions have no row; their values count as 0.")
    if nulls:
        found.warnings.append(f"{name}: {nulls} empty values count as 0.")
    array = values.fillna(0.0).to_numpy(dtype=np.float64)
    if not np.isfinite(array).all():
        raise BadInput(f"{name}: values must be finite numbers.")
    return array


def _unique(name: str, taken: dict) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate
