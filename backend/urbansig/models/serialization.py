"""Saved models: one portable file with the weights and a JSON config, loaded safely.

The file is a ``torch.save`` of ``{"format": ..., "config": <json text>, "state": {...}}``
holding only tensors and strings, read back with ``weights_only=True`` (no pickle code).
Importable with torch and numpy alone.
"""

from __future__ import annotations

import json
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


def load_model(
    path: str | Path, method: str, parameter: str = "MODEL"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a file written by :func:`save_model` for ``method``; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{parameter}: model file {path} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise BadInput(
            f"{parameter}: {path} is not an Urban Signatures model file ({exc})."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(f"{parameter}: {path} is not an Urban Signatures model file.")
    config = json.loads(payload["config"])
    if config.get("method") != method:
        raise BadInput(
            f"{parameter}: {path} holds a '{config.get('method')}' model, not '{method}'; "
            "choose a model saved by this algorithm."
        )
    return config, payload["state"]
