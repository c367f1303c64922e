"""User tables: labels read from a CSV or a layer, user tables written as CSV or GeoPackage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from urbansig.protocol import BadInput


def read_labels(path: str, field: str, user_ids: np.ndarray) -> np.ndarray:
    """Labels (as strings, '' where unknown) of ``user_ids`` from a table with user_id + field."""
    import pandas as pd

    if not field:
        raise BadInput("LABEL_FIELD: give the field of USER_LABELS that holds the user labels.")
    if str(path).lower().endswith((".csv", ".txt")):
        try:
            table = pd.read_csv(path, dtype={"user_id": str})
        except Exception as exc:  # noqa: BLE001 - any unreadable table
            raise BadInput(f"USER_LABELS: cannot read {path} ({exc}).") from exc
    else:
        from urbansig.io.vector import read_layer

        table = read_layer(path, "USER_LABELS")
    if "user_id" not in table.columns:
        raise BadInput(f"USER_LABELS: {path} has no user_id column.")
    if field not in table.columns:
        raise BadInput(
            f"LABEL_FIELD: {field!r} is not a field of USER_LABELS "
            f"(fields: {', '.join(map(str, table.columns))})."
        )
    mapping = dict(zip(table["user_id"].astype(str), table[field].astype(str)))
    return np.array([mapping.get(str(u), "") for u in user_ids], dtype=object)


def write_table(frame, path: str) -> Path:
    """A user table: CSV, or a GeoPackage table without geometry, written atomically."""
    from urbansig.io.atomic import atomic_path

    target = Path(path)
    suffix = target.suffix.lower()
    with atomic_path(target) as tmp:
        if suffix == ".gpkg":
            import pyogrio

            pyogrio.write_dataframe(frame, tmp, layer=target.stem, driver="GPKG")
        else:
            frame.to_csv(tmp, index=False)
    return target
