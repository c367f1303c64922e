"""Column names shared by every job (the plugin mirrors them in plugin/columns.py)."""

from __future__ import annotations

REGION_ID = "region_id"
TILE_ID = "tile_id"
USER_ID = "user_id"
CLUSTER = "cluster"
CONFIDENCE = "confidence"
VOLUME = "volume"
PREDICTION = "prediction"
RESIDUAL = "residual"
SPLIT = "split"
N_USERS = "n_users"
EMBEDDING_PREFIX = "emb_"
BASELINE_PREFIX = "base_"  # a simple baseline written beside an embedding


def embedding_columns(dim: int, prefix: str = EMBEDDING_PREFIX) -> list[str]:
    """``emb_000``, ``emb_001``, ... for an embedding of size ``dim``."""
    return [f"{prefix}{i:03d}" for i in range(dim)]


# Prediction intervals of predictindicator (split-conformal, original scale).
PRED_LOWER = "pred_lower"
PRED_UPPER = "pred_upper"


# Class colours shared by the map (plugin styles) and the reports' figures: class k is
# drawn CLASS_PALETTE[k % 20] everywhere (tab10, then its lighter partners from tab20).
CLASS_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
NO_DATA_COLOUR = "#ffffff"  # tiles or regions without a class (drawn white, outlined)
