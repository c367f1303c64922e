"""HTML reports with tables and PNG figures, written atomically (shown in QGIS's results viewer)."""

from __future__ import annotations

import html
import math
import shutil
from pathlib import Path
from typing import Any

from urbansig.io.atomic import atomic_path

_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
    "text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%;border:1px solid #ddd}figcaption{font-size:90%;color:#555}"
)


class Report:
    """Build an HTML page; figures go to ``<name>_files/`` beside it."""

    def __init__(self, title: str) -> None:
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
        """A table from a list of dicts (the first row's keys are the columns)."""
        if not rows:
            return self
        columns = list(rows[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(_fmt(r.get(c), digits))}</td>" for c in columns)
            + "</tr>"
            for r in rows
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._parts.append(f"<table>{cap}<tr>{head}</tr>{body}</table>")
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
