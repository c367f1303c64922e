"""The input of the flows method: OD matrices per time slot and numeric views per region."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from urbansig.protocol import BadInput


@dataclass
class FlowData:
    """``od[t, i, j]``: trips from region ``i`` to ``j`` in slot ``t``; ``views``: name -> (n, d).

    Rows of every array follow ``region_ids``. Views are any numeric per-region tables
    (POI counts per category, land-use shares, census fields).
    """

    region_ids: np.ndarray
    od: np.ndarray
    views: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.region_ids)
        self.od = np.asarray(self.od, dtype=np.float64)
        if self.od.ndim == 2:
            self.od = self.od[None]
        if self.od.ndim != 3 or self.od.shape[1:] != (n, n):
            raise BadInput(f"OD: expected {n} x {n} matrices, got shape {self.od.shape}.")
        if not np.isfinite(self.od).all() or (self.od < 0).any():
            raise BadInput("OD: trip counts must be finite and non-negative.")
        views = {}
        for name, table in self.views.items():
            table = np.asarray(table, dtype=np.float64)
            if table.ndim == 1:
                table = table[:, None]
            if table.shape[0] != n:
                raise BadInput(f"{name}: {table.shape[0]} rows for {n} regions.")
            if not np.isfinite(table).all():
                raise BadInput(f"{name}: values must be finite (fill or drop NULLs first).")
            views[name] = table
        self.views = views

    @property
    def n_regions(self) -> int:
        return len(self.region_ids)

    def aligned_to(self, region_ids: np.ndarray) -> np.ndarray:
        """OD re-indexed so that destinations/origins follow ``region_ids`` (absent -> 0).

        Returns ``(T, 2, n_self, len(region_ids))``: outgoing trips of each region of this
        data to each reference region, and incoming trips from each.
        """
        position = {rid: k for k, rid in enumerate(self.region_ids.tolist())}
        columns = np.array([position.get(rid, -1) for rid in region_ids.tolist()])
        known = columns >= 0
        out = np.zeros((self.od.shape[0], 2, self.n_regions, len(region_ids)))
        out[:, 0][:, :, known] = self.od[:, :, columns[known]]
        out[:, 1][:, :, known] = self.od[:, columns[known], :].transpose(0, 2, 1)
        return out
