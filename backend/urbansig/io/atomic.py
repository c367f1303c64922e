"""Atomic outputs: write under a temporary name beside the target, rename at the end.

A failed or cancelled run removes the partial file (and GeoPackage side files) and leaves
any previous file at the target untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".aux.xml")


def partial_path(path: str | Path) -> Path:
    """The temporary name used while ``path`` is being written (same folder, same suffix)."""
    target = Path(path)
    return target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` only if the block succeeds."""
    target = Path(path)
    tmp = partial_path(target)
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written for {target}")
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(tmp, target)
        for suffix in _SIDE_SUFFIXES:
            _remove(Path(str(tmp) + suffix))
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(str(path) + s) for s in _SIDE_SUFFIXES)):
        if candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)
        elif candidate.exists() or candidate.is_symlink():
            candidate.unlink()
