"""Atomic outputs: write under a temporary name beside the target, rename at the end.

A failed or cancelled run removes the partial file (and GeoPackage side files) and leaves
any previous file at the target untouched. Inside :func:`output_transaction` (every job
run) nothing is moved into place until the whole run has succeeded, so a run that fails
while writing its last output leaves none of its outputs behind.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".aux.xml")
_lock = threading.Lock()
_transactions: list[dict[Path, Path]] = []  # open transactions: target -> staged file


def partial_path(path: str | Path) -> Path:
    """The temporary name used while ``path`` is being written (same folder, same suffix)."""
    target = Path(path)
    return target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")


@contextmanager
def atomic_path(path: str | Path, replace_folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` only if the block succeeds.

    An existing folder at ``path`` is replaced only with ``replace_folder`` (a folder the
    product owns, such as a report's figures); otherwise it is an error, never deleted.
    Inside :func:`output_transaction` the replacement waits for the transaction's end.
    """
    target = Path(path)
    if target.is_dir() and not replace_folder:
        raise IsADirectoryError(f"{target} is an existing folder; it is not replaced")
    tmp = partial_path(target)
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written for {target}")
        with _lock:
            pending = _transactions[-1] if _transactions else None
            if pending is not None:
                pending[target] = tmp
        if pending is None:
            _move_into_place(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def output_transaction(commit: bool = True) -> Iterator[None]:
    """Defer every :func:`atomic_path` replacement in the block to its successful end
    (``commit=False``: discard them, as the extra processes of a distributed run do)."""
    pending: dict[Path, Path] = {}
    with _lock:
        _transactions.append(pending)
    try:
        yield
    except BaseException:
        _discard(pending)
        raise
    finally:
        with _lock:
            _transactions.remove(pending)
    if not commit:
        _discard(pending)
        return
    try:
        for target, tmp in list(pending.items()):
            _move_into_place(tmp, target)
            del pending[target]
    except BaseException:
        _discard(pending)
        raise


def _discard(pending: dict[Path, Path]) -> None:
    for tmp in pending.values():
        _remove(tmp)
    pending.clear()


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` onto ``target``; a folder being replaced is moved aside first."""
    old = None
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        _remove(old)
        os.replace(target, old)
    os.replace(tmp, target)
    for suffix in _SIDE_SUFFIXES:
        _remove(Path(str(tmp) + suffix))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(str(path) + s) for s in _SIDE_SUFFIXES)):
        if candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)
        elif candidate.exists() or candidate.is_symlink():
            candidate.unlink()
