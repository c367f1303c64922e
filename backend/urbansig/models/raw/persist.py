"""Saving and loading a trained RAW model (weights + sizes + normalisation + resampling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from urbansig.models.raw import METHOD, MODEL_VERSION
from urbansig.models.raw.model import RawConfig, RawTransformer
from urbansig.models.raw.sequences import Normaliser
from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput

LAYOUT = "xy+gap/tod/dow"


def save_raw(
    path: str | Path, model: RawTransformer, norm: Normaliser, meta: dict[str, Any]
) -> Path:
    """``meta`` holds step_s, max_gap_s, utc_offset_s, seq_len and summaries (JSON-able)."""
    config = {
        "version": MODEL_VERSION,
        "layout": LAYOUT,
        "model": model.config.to_dict(),
        "normaliser": norm.to_config(),
        **meta,
    }
    return save_model(path, METHOD, config, model.state_dict())


def load_raw(
    path: str | Path, parameter: str = "MODEL"
) -> tuple[RawTransformer, Normaliser, dict[str, Any]]:
    config, state = load_model(path, METHOD, parameter)
    if config.get("layout") != LAYOUT or config.get("version") != MODEL_VERSION:
        raise BadInput(
            f"{parameter}: {path} is a RAW model of another layout or version "
            f"({config.get('layout')!r} v{config.get('version')}); train a new one."
        )
    model = RawTransformer(RawConfig.from_dict(config["model"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BadInput(
            f"{parameter}: the weights in {path} do not match its sizes ({exc})."
        ) from exc
    model.eval()
    return model, Normaliser.from_config(config["normaliser"]), config
