"""Column names and class colours shared with the backend, read from
backend/urbansig/columns.py (standard library only, so QGIS loads it without the backend's
environment)."""

from .parameter_tables import backend_module

_COLUMNS = backend_module("columns")
REGION_ID: str = _COLUMNS.REGION_ID
TILE_ID: str = _COLUMNS.TILE_ID
USER_ID: str = _COLUMNS.USER_ID
CLUSTER: str = _COLUMNS.CLUSTER
CONFIDENCE: str = _COLUMNS.CONFIDENCE
VOLUME: str = _COLUMNS.VOLUME
PREDICTION: str = _COLUMNS.PREDICTION
RESIDUAL: str = _COLUMNS.RESIDUAL
SPLIT: str = _COLUMNS.SPLIT
N_USERS: str = _COLUMNS.N_USERS
EMBEDDING_PREFIX: str = _COLUMNS.EMBEDDING_PREFIX
BASELINE_PREFIX: str = _COLUMNS.BASELINE_PREFIX
PRED_LOWER: str = _COLUMNS.PRED_LOWER
PRED_UPPER: str = _COLUMNS.PRED_UPPER
CLASS_PALETTE: tuple[str, ...] = _COLUMNS.CLASS_PALETTE
NO_DATA_COLOUR: str = _COLUMNS.NO_DATA_COLOUR
