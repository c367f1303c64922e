"""HTML tables for the reports (standard library only: the plugin's demo report uses it too)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

TRANSPOSE_COLUMNS = 6  # wider tables with fewer rows than columns are written transposed


def column_name(value: Any) -> str:
    """A column or method name, escaped, that may break after its underscores."""
    return html.escape(str(value)).replace("_", "_<wbr>")


def rows_table(rows: list[dict[str, Any]], cell: Callable[[Any], str], caption: str = "") -> str:
    """A table from a list of dicts (the first row's keys are the columns); ``cell`` writes a
    value as text. With more than TRANSPOSE_COLUMNS columns and fewer rows than columns (a
    few methods by many metrics) it is transposed: one row per column, the first column's
    values (the method names) as the heading, so that it fits a narrow page."""
    columns = list(rows[0])
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    if len(columns) > TRANSPOSE_COLUMNS and len(rows) < len(columns):
        first, rest = columns[0], columns[1:]
        head = f"<th>{column_name(first)}</th>" + "".join(
            f"<th>{column_name(cell(r.get(first)))}</th>" for r in rows
        )
        body = "".join(
            f"<tr><th>{column_name(c)}</th>"
            + "".join(f"<td>{html.escape(cell(r.get(c)))}</td>" for r in rows)
            + "</tr>"
            for c in rest
        )
    else:
        head = "".join(f"<th>{column_name(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell(r.get(c)))}</td>" for c in columns) + "</tr>"
            for r in rows
        )
    return f"<table>{cap}<tr>{head}</tr>{body}</table>"
