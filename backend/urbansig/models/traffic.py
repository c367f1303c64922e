"""``TrafficData``: what every traffic-clustering method fits on and applies to.

Importable with torch and numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from urbansig.protocol import BadInput


@dataclass
class TrafficData:
    """Raw per-tile profiles ``(n_tiles, n_services, n_steps)`` and their spatial context.

    ``neighbours[i]``: positions of the tiles adjacent to tile i (None: no spatial context);
    ``services`` and ``layout`` name the profile's rows and its time steps.
    """

    values: np.ndarray
    neighbours: list[list[int]] | None = None
    services: list[str] | None = None
    layout: str | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values)
        if self.values.ndim != 3:
            raise ValueError("values must have shape (n_tiles, n_services, n_steps)")
        if self.neighbours is not None and len(self.neighbours) != len(self.values):
            raise ValueError(
                f"neighbours has {len(self.neighbours)} entries for {len(self.values)} tiles"
            )

    @property
    def n_tiles(self) -> int:
        return int(self.values.shape[0])

    @property
    def service_names(self) -> list[str]:
        """The services, or ``service_<i>`` where none are named."""
        return list(self.services or [f"service_{i}" for i in range(self.values.shape[1])])

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """The neighbour lists as CSR arrays ``(indptr, indices)``."""
        from urbansig.models.contrastive_clustering.normalise import to_csr

        return to_csr(self.neighbours, self.n_tiles)


class TrafficLayout:
    """The services and time layout a fitted clustering method expects (its input checks)."""

    services: list[str] | None
    layout: str | None
    n_steps: int | None

    def check_compatible(
        self, services: list[str], layout: str, parameter: str = "MODEL"
    ) -> list[int]:
        """Positions that put ``services`` in the model's order; BadInput naming ``parameter``
        when the services or the profile layout differ from the model's."""
        if self.layout is not None and layout != self.layout:
            raise BadInput(
                f"{parameter}: the model was trained on the '{self.layout}' layout "
                f"({self.n_steps} steps), the input is '{layout}'; choose LAYOUT {self.layout}."
            )
        model_services = list(self.services or [])
        if sorted(services) != sorted(model_services):
            missing = sorted(set(model_services) - set(services))
            extra = sorted(set(services) - set(model_services))
            raise BadInput(
                f"{parameter}: the model was trained on services {', '.join(model_services)}; "
                f"the input lacks {', '.join(missing) or 'none'} and adds "
                f"{', '.join(extra) or 'none'}. Set SERVICES to the model's services."
            )
        return [services.index(name) for name in model_services]

    def check_layout(self, n_services: int, n_steps: int, parameter: str = "MODEL") -> None:
        """BadInput when profiles do not have the model's number of services and steps."""
        want_s = len(self.services or [])
        if n_services != want_s or (self.n_steps is not None and n_steps != self.n_steps):
            raise BadInput(
                f"{parameter}: the model expects profiles of {want_s} services x "
                f"{self.n_steps} steps, the input has {n_services} x {n_steps}."
            )
