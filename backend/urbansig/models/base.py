"""The one interface every method implements: fit with events, transform, save, load.

A method is constructed from its settings (a dataclass whose defaults come from the
parameter table), fitted on its data with an optional progress sink, applied with
``transform`` and written to / read from one portable model file. Importable with torch
and numpy alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

import torch

from urbansig.training import ProgressSink

DataT = TypeVar("DataT")
ResultT = TypeVar("ResultT")


class Method(ABC, Generic[DataT, ResultT]):
    """A trainable method: ``fit(data, events)`` -> ``transform(data)`` -> ``save(path)``.

    ``method`` names the model file's kind (checked by ``load``); ``version`` its layout.
    """

    method: ClassVar[str]
    version: ClassVar[int] = 1

    @abstractmethod
    def fit(self, data: DataT, events: ProgressSink | None = None) -> Self:
        """Train on ``data``; ``events`` receives progress and is asked for cancellation."""

    @abstractmethod
    def transform(self, data: DataT) -> ResultT:
        """Apply the fitted method to ``data`` (the training data or new data)."""

    @abstractmethod
    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write weights and config (with ``metrics``) to one model file, atomically."""

    @classmethod
    @abstractmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        """Read a model file written by ``save``; BadInput naming ``parameter`` otherwise."""
