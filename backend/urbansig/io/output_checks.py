"""Checks on a run's outputs before any work, and OS errors named by their parameter.

An output must not be one of the run's inputs (also through a symlink or another spelling
of its path), nor another output, nor an existing folder (unless it is a folder output),
and its folder must be writable. An existing GeoPackage gets the output as one layer, so
it must be a readable GeoPackage.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from urbansig.protocol import BadInput, JobSpec


def file_part(value: str) -> Path:
    """The file of a layer source ``file.gpkg|layername=x``."""
    return Path(str(value).split("|", 1)[0])


def check_outputs(options: Iterable[Any], spec: JobSpec) -> None:
    """BadInput naming the parameter of the first output that would lose a user's data."""
    options = list(options)
    inputs = list(_paths(options, spec, "inputs"))
    seen: list[tuple[str, Path]] = []
    for option, path in _paths(options, spec, "outputs"):
        for input_option, input_path in inputs:
            if _same(path, input_path):
                raise BadInput(
                    f"{option.name}: {path} is also the input {input_option.name}; write the "
                    "result to another file so the input is kept."
                )
        for other, other_path in seen:
            if _same(path, other_path):
                raise BadInput(
                    f"{option.name}: {path} is also the output {other}; give each output its "
                    "own file."
                )
        seen.append((option.name, path))
        _check_target(option, path)


def _paths(options: list[Any], spec: JobSpec, section: str) -> Iterator[tuple[Any, Path]]:
    for option in options:
        if option.section != section or not option.is_path:
            continue
        value = getattr(spec, section).get(option.key)
        if value in (None, ""):
            continue
        for item in value if isinstance(value, list) else [value]:
            yield option, file_part(item)


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _check_target(option: Any, path: Path) -> None:
    name = option.name
    if path.is_dir() and option.kind != "folder_out":
        raise BadInput(
            f"{name}: {path} is an existing folder; give a file name (inside it, if you like)."
        )
    folder = path.parent
    if not folder.is_dir():
        raise BadInput(f"{name}: the folder of output {path} does not exist.")
    if not writable(folder):
        raise BadInput(
            f"{name}: cannot write in {folder} (permission denied or read-only); choose a "
            "folder you can write to."
        )
    if option.kind == "vector_out" and path.suffix.lower() == ".gpkg" and path.is_file():
        _check_geopackage(name, path)


def writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, so root and read-only mounts count)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".urbansig-probe-"):
            return True
    except OSError:
        return False


def _check_geopackage(name: str, path: Path) -> None:
    import pyogrio

    try:
        pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types
        raise BadInput(
            f"{name}: {path} exists and is not a readable GeoPackage ({exc}); the result is "
            "added to an existing GeoPackage as a layer, so choose another file name."
        ) from exc


def describe_os_error(options: Iterable[Any], spec: JobSpec, exc: OSError) -> str:
    """An OS error (disk full, permission, vanished file) as a sentence naming its parameter."""
    culprit = Path(exc.filename) if exc.filename else None
    reason = exc.strerror or str(exc)
    for section in ("outputs", "inputs"):
        for option, path in _paths(list(options), spec, section):
            if culprit is not None and _related(culprit, path):
                verb = "write" if section == "outputs" else "read"
                return f"{option.name}: cannot {verb} {path}: {reason}."
    where = f" ({exc.filename})" if exc.filename else ""
    return f"A file operation failed{where}: {reason}. Check free disk space and permissions."


def _related(culprit: Path, path: Path) -> bool:
    """``culprit`` is ``path``, its temporary twin, a file in it, or its folder."""
    culprit_text, text = os.path.realpath(culprit), os.path.realpath(path)
    if culprit_text == text or culprit_text.startswith(text + os.sep):
        return True
    return culprit.parent.resolve() == path.parent.resolve() and path.stem in culprit.name
