"""HTML reports with tables and PNG figures, written atomically (shown in QGIS's results viewer)."""

from __future__ import annotations

import html
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from urbansig.html_table import rows_table
from urbansig.io.atomic import atomic_path

# Wide tables never push the page sideways: each table sits in a box that scrolls on its
# own, column names break after their underscores, and tables with many columns but few
# rows (metrics per method) are written transposed (see Report.table).
_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 8px;color:#222}"
    ".table{max-width:100%;overflow-x:auto;margin:.5em 0}"
    "table{border-collapse:collapse;max-width:100%}td,th{border:1px solid #bbb;"
    "padding:3px 6px;text-align:right}th{background:#eee;font-weight:600;"
    "overflow-wrap:anywhere}caption{caption-side:bottom;text-align:left;font-size:90%;"
    "color:#555;padding-top:2px}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%;height:auto;border:1px solid #ddd}figure{margin:1em 0}"
    "figcaption{font-size:90%;color:#555}"
)
SUBJECT_SEPARATOR = " \u2013 "  # en dash: "Cluster mobile traffic tiles – tiles"

_SUBJECT: ContextVar[str] = ContextVar("report_subject", default="")


@contextmanager
def report_subject(subject: str) -> Iterator[None]:
    """Reports begun inside name ``subject`` (the job spec's: the main input as the user
    names it) in their title and heading."""
    token = _SUBJECT.set(subject or "")
    try:
        yield
    finally:
        _SUBJECT.reset(token)


def titled(title: str) -> str:
    """``title`` with the current run's subject after it, when there is one."""
    subject = _SUBJECT.get().strip()
    return f"{title}{SUBJECT_SEPARATOR}{subject}" if subject else title


class Report:
    """Build an HTML page; figures go to ``<name>_files/`` beside it.

    The title (the algorithm) gets the run's subject (its input) appended, see
    :func:`report_subject`.
    """

    def __init__(self, title: str) -> None:
        title = titled(title)
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        self._figures: list[tuple[str, Any]] = []

    def section(self, title: str) -> Report:
        self._parts.append(f"<h2>{html.escape(title)}</h2>")
        return self

    def paragraph(self, text: str) -> Report:
        self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def table(self, rows: list[dict[str, Any]], caption: str = "", digits: int = 4) -> Report:
        """A table from a list of dicts (the first row's keys are the columns).

        With more than html_table.TRANSPOSE_COLUMNS columns and fewer rows than columns (a few
        methods by many metrics) it is written transposed: one row per column, the first
        column's values (the method names) as the heading, so it fits a narrow page.
        """
        if not rows:
            return self
        table = rows_table(rows, lambda value: _fmt(value, digits), caption)
        self._parts.append(f"<div class='table'>{table}</div>")
        return self

    def figure(self, fig: Any, name: str, caption: str = "") -> Report:
        """Add a matplotlib figure, saved as ``name.png`` when the report is saved."""
        self._figures.append((name, fig))
        self._parts.append(("figure", name, caption))  # type: ignore[arg-type]
        return self

    def save(self, path: str | Path) -> Path:
        """Write the page and its PNG folder; returns the page's path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        target = Path(path)
        folder = target.with_name(target.stem + "_files")
        with atomic_path(folder, replace_folder=True) as tmp_folder:
            tmp_folder.mkdir()
            for name, fig in self._figures:
                fig.savefig(tmp_folder / f"{name}.png", dpi=110, bbox_inches="tight")
                plt.close(fig)
        parts = []
        for part in self._parts:
            if isinstance(part, tuple):
                _, name, caption = part
                src = f"{folder.name}/{name}.png"
                parts.append(
                    f"<figure><img src='{html.escape(src)}' alt='{html.escape(name)}'>"
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
            else:
                parts.append(part)
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
        )
        with atomic_path(target) as tmp:
            tmp.write_text(page, encoding="utf-8")
        return target

    @staticmethod
    def remove(path: str | Path) -> None:
        target = Path(path)
        target.unlink(missing_ok=True)
        shutil.rmtree(target.with_name(target.stem + "_files"), ignore_errors=True)


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return "" if value is None else str(value)
