"""Region embeddings learnt from mobility flows (who goes where) and per-region count views.

Importable with torch and numpy alone.
"""

from urbansig.models.flows.data import FlowData
from urbansig.models.flows.method import METHOD, FlowEmbedder, FlowSettings

__all__ = ["METHOD", "FlowData", "FlowEmbedder", "FlowSettings"]
