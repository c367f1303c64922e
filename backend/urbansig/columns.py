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


def embedding_columns(dim: int, prefix: str = EMBEDDING_PREFIX) -> list[str]:
    """``emb_000``, ``emb_001``, ... for an embedding of size ``dim``."""
    return [f"{prefix}{i:03d}" for i in range(dim)]


# Prediction intervals of predictindicator (split-conformal, original scale).
PRED_LOWER = "pred_lower"
PRED_UPPER = "pred_upper"
