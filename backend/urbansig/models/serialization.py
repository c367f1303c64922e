"""Saved models: one portable file with the weights and a JSON config, loaded safely.

The file is a ``torch.save`` of ``{"format": ..., "config": <json text>, "state": {...}}``
holding only tensors and strings, read back with ``weights_only=True`` (no pickle code).
A file refused is a BadInput that says why (empty, not a PyTorch file, damaged, holding
other Python objects, another method's model), never torch's advice to load it unsafely.
Importable with torch and numpy alone.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from urbansig import __version__
from urbansig.protocol import BadInput

FORMAT = "urbansig-model-1"


def save_model(
    path: str | Path, method: str, config: dict[str, Any], state: dict[str, torch.Tensor]
) -> Path:
    """Write ``state`` (tensors) and ``config`` (JSON-able) atomically to ``path``."""
    from urbansig.io.atomic import atomic_path
    from urbansig.protocol import _jsonable

    full_config = {"method": method, "urbansig_version": __version__, **config}
    payload = {
        "format": FORMAT,
        "config": json.dumps(full_config, default=_jsonable),
        "state": {k: v.detach().cpu() for k, v in state.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


CHOOSE_MODEL = "choose a model file saved by an Urban Signatures algorithm"


def read_torch_file(path: str | Path, parameter: str, what: str, choose: str) -> Any:
    """``torch.load`` of ``path`` with ``weights_only=True`` (tensors, numbers, strings and
    containers only: no pickled code runs); a BadInput naming ``parameter`` that says why a
    file is refused, ``what`` the file should be and what to do (``choose``), never
    torch's own message (which suggests loading the file unsafely)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{parameter}: {path} does not exist; {choose}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on the pickle protocol
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every refusal gets one of our messages
        raise BadInput(_refusal(path, exc, parameter, what, choose)) from exc


def _refusal(path: Path, exc: Exception, parameter: str, what: str, choose: str) -> str:
    """Why ``torch.load`` refused ``path``, for the user."""
    if path.stat().st_size == 0:
        return f"{parameter}: {path} is empty (0 bytes), not {what}; {choose}."
    if not _zip_signature(path):
        return f"{parameter}: {path} is not {what} (not a PyTorch file at all); {choose}."
    if isinstance(exc, pickle.UnpicklingError):
        return (
            f"{parameter}: {path} is not {what}: it holds Python objects other than tensors, "
            f"which are refused because loading them could run code; {choose}."
        )
    return (
        f"{parameter}: {path} is damaged or incomplete (cut short by a copy or download?), so "
        f"it cannot be read as {what}; copy it again, or {choose}."
    )


def _zip_signature(path: Path) -> bool:
    """Whether ``path`` starts like a zip archive (PyTorch's format), as it still does
    when cut short."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def load_model(
    path: str | Path, method: str, parameter: str = "MODEL"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a file written by :func:`save_model` for ``method``; clear errors otherwise."""
    path = Path(path)
    what = "an Urban Signatures model file"
    payload = read_torch_file(path, parameter, what, CHOOSE_MODEL)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(
            f"{parameter}: {path} is a PyTorch file but not {what} (weights or a checkpoint "
            f"from another program?); {CHOOSE_MODEL}."
        )
    config, state = _contents(payload)
    if config is None or state is None:
        raise BadInput(
            f"{parameter}: {path} is a damaged Urban Signatures model file (its settings or "
            "weights are unreadable); save the model again."
        )
    if config.get("method") != method:
        raise BadInput(
            f"{parameter}: {path} holds a '{config.get('method')}' model, not '{method}'; "
            "choose a model saved by this algorithm."
        )
    return config, state


def _contents(payload: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The config and the state of a model file's payload, None where unreadable."""
    raw = payload.get("config")
    try:
        config = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        config = None
    state = payload.get("state")
    tensors = isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    return config if isinstance(config, dict) else None, state if tensors else None


def saved_method(path: str | Path, parameter: str = "MODEL") -> str | None:
    """The method that wrote the model file ``path`` (None when the file names none);
    BadInput naming ``parameter`` for files that are not Urban Signatures models."""
    payload = read_torch_file(Path(path), parameter, "an Urban Signatures model file", CHOOSE_MODEL)
    config = _contents(payload)[0] if isinstance(payload, dict) else None
    return config.get("method") if config else None
