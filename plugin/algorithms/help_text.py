"""Algorithm help as content, written as HTML for the dialog's help panel or as plain text
for ``qgis_process help``; the help URL of each algorithm (its README section)."""

from __future__ import annotations

import configparser
import html
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from qgis.core import QgsApplication

from .params import HelpEntry

METADATA = Path(__file__).resolve().parents[2] / "metadata.txt"


@dataclass(frozen=True)
class Help:
    """An algorithm's help as content: :func:`help_html` writes it as HTML for the dialog's
    help panel or as plain text for ``qgis_process help``, from the same entries."""

    summary: str
    parameters: tuple[HelpEntry, ...]
    outputs: tuple[HelpEntry, ...]
    paper: str = ""
    methods: tuple[tuple[str, str], ...] = ()  # (term, what it means in plain words)
    example: str = ""


# DEVICE and SEED: added by add_device_and_seed to every model algorithm, not in the tables.
DEVICE_AND_SEED_HELP = (
    HelpEntry("Device [DEVICE]", "auto picks CUDA when available", "auto", "0 = auto"),
    HelpEntry("Random seed [SEED]", "seed of the random draws (weights, samples, splits)", "0"),
)
HELP_WIDTH = 88  # plain-text help lines, for a terminal


def help_html(content: Help, plain: bool = False, url: str = "") -> str:
    """The help of an algorithm: what it does, the paper, the methods in plain words, each
    parameter and output with its default, a qgis_process example.

    HTML (one line: the dialog makes a paragraph of every line) unless ``plain``: plain text
    for qgis_process, which prints the help as it is, with the defaults as qgis_process takes
    them (a choice's index, true/false) and ``url`` (the README section) at the end.
    """
    if plain:
        return _plain_help(content, url)
    esc = partial(html.escape, quote=False)

    def entry(item: HelpEntry) -> str:
        text = f": {esc(item.text)}" if item.text else ""
        default = f" (default: {esc(item.default)})" if item.default else ""
        return f"<li><b>{esc(item.key)}</b>{text}{default}</li>"

    parts = [f"<p>{esc(content.summary)}</p>"]
    if content.paper:
        parts.append(f"<p><b>Method:</b> {esc(content.paper)}</p>")
    if content.methods:
        parts.append("<h3>How it works</h3><ul>")
        parts += [f"<li><b>{esc(t)}</b>: {esc(d)}</li>" for t, d in content.methods]
        parts.append("</ul>")
    parts.append("<h3>Parameters</h3><ul>")
    parts += [entry(item) for item in content.parameters]
    parts.append("</ul><h3>Outputs</h3><ul>")
    parts += [entry(item) for item in content.outputs]
    parts.append("</ul>")
    if content.example:
        parts.append(f"<h3>Example</h3><pre>{esc(content.example)}</pre>")
    return "".join(parts)


def _plain_help(content: Help, url: str) -> str:
    """help_html's plain text: headings, "- Label [NAME]: help (default: x)" lines."""

    def fill(text: str, bullet: bool = False) -> str:
        return textwrap.fill(
            text,
            HELP_WIDTH,
            initial_indent="- " if bullet else "",
            subsequent_indent="  " if bullet else "",
            break_on_hyphens=False,
        )

    def entry(item: HelpEntry) -> str:
        text = f": {item.text}" if item.text else ""
        default = item.default_cli or item.default
        return fill(item.key + text + (f" (default: {default})" if default else ""), True)

    def section(title: str, lines: list[str]) -> list[str]:
        return ["", title, "-" * len(title), *lines] if lines else []

    lines = [fill(content.summary)]
    if content.paper:
        lines += ["", fill(f"Method: {content.paper}")]
    lines += section("How it works", [fill(f"{t}: {d}", True) for t, d in content.methods])
    lines += section("Parameters", [entry(item) for item in content.parameters])
    lines += section("Outputs", [entry(item) for item in content.outputs])
    lines += section("Example", [_command_lines(content.example)] if content.example else [])
    if url:
        lines += ["", f"More: {url}"]
    return "\n".join(lines)


def _command_lines(command: str) -> str:
    """A shell command folded at HELP_WIDTH with backslash continuations (never inside a
    quoted argument), so it still runs when pasted."""
    words = re.findall(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""", command)
    lines = ["  "]
    for word in words:
        started = not lines[-1].isspace()
        if started and len(lines[-1]) + 1 + len(word) > HELP_WIDTH - 2:
            lines.append("      ")
            started = False
        lines[-1] += (" " if started else "") + word
    return " \\\n".join(lines)


def in_qgis_process() -> bool:
    """True inside the qgis_process command (its QgsApplication's platform name)."""
    return QgsApplication.platform() == "qgis_process"


@lru_cache(maxsize=1)
def homepage() -> str:
    """The project's homepage (metadata.txt ``homepage=``), without a trailing slash."""
    metadata = configparser.ConfigParser()
    metadata.read(METADATA, encoding="utf-8")
    return metadata.get("general", "homepage", fallback="").rstrip("/")


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces
    as hyphens ("Embed regions (MuseCL)" -> "embed-regions-musecl")."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")
