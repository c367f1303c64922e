"""Reading mobile traffic matched to a tile layer, for ``clustertraffictiles``.

Traffic comes from a NetMob 2023 folder (+ CITY), a long table, or the tile layer's own
fields (PROFILE_PREFIX); it is matched to TILES on ``tile_id``. The reader's problems and
the tiles left out become warnings, kept for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urbansig.models.traffic import TrafficData
from urbansig.protocol import BadInput

SHOWN_PROBLEMS = 5  # traffic reader problems shown one by one (the rest as a count)


@dataclass
class TileTraffic:
    """The tile layer and the profiles of its tiles with traffic (``has``)."""

    tiles: Any  # GeoDataFrame, every tile of TILES
    has: np.ndarray  # (len(tiles),) bool: the tile has a profile
    values: np.ndarray  # (has.sum(), services, steps)
    services: list[str]
    layout: str
    neighbours: list[list[int]]  # positions among the tiles with a profile
    truth: np.ndarray | None  # known class codes of those tiles (-1 unknown), or None
    warnings: list[str] = field(default_factory=list)
    n_missing: int = 0  # tiles of TILES written without a cluster

    def warn(self, events: Any, message: str) -> None:
        """A warning in the log, kept for the report."""
        events.warning(message)
        self.warnings.append(message)

    def data(self) -> TrafficData:
        return TrafficData(self.values, self.neighbours, self.services, self.layout)

    def keep(self, keep: np.ndarray) -> None:
        """Only the profiles ``keep`` (bool over the tiles with a profile) stay."""
        from urbansig.grids import polygon_neighbours

        usable = self.has.copy()
        usable[np.flatnonzero(self.has)[~keep]] = False
        self.values = self.values[keep]
        self.truth = self.truth[keep] if self.truth is not None else None
        self.neighbours = polygon_neighbours(self.tiles.geometry[usable])
        self.has = usable


def read_tile_traffic(inputs: dict[str, Any], params: dict[str, Any], events: Any) -> TileTraffic:
    """Profiles matched to the tile layer: values (n, S, T) of the tiles with traffic."""

    from urbansig.columns import TILE_ID
    from urbansig.grids import polygon_neighbours
    from urbansig.io.vector import read_layer

    source = inputs.get("input")
    tiles_path = inputs.get("tiles")
    if source is None and tiles_path is None:
        raise BadInput("Give INPUT (NetMob folder or traffic table) or TILES with profile fields.")
    if source is None and not params.get("profile_prefix"):
        raise BadInput(
            "PROFILE_PREFIX is required when INPUT is not given: the TILES fields holding the "
            "profiles are named <prefix><service>_<step> (or <prefix><step>)."
        )
    if source is not None and Path(source).is_dir():
        from urbansig.io.netmob import read_netmob_profiles, read_netmob_tiles

        city = params.get("city") or _only_city(Path(source))
        profiles = read_netmob_profiles(
            Path(source),
            city,
            services=params["services"],
            direction=params["direction"],
            layout=params["layout"],
            events=events,
            scheduler=params.get("dask_scheduler") or None,
        )
        tiles = (
            read_layer(tiles_path, "TILES") if tiles_path else read_netmob_tiles(Path(source), city)
        )
    else:
        tiles = read_layer(tiles_path, "TILES") if tiles_path else None
        if source is not None:
            from urbansig.io.netmob import read_traffic_table

            profiles = read_traffic_table(Path(source), params["layout"], params["services"])
        else:
            profiles = _profiles_from_fields(tiles, params)
    if tiles is None:
        raise BadInput("TILES is required with a traffic table: the tile polygons with tile_id.")
    if TILE_ID not in tiles.columns:
        raise BadInput(
            f"TILES has no '{TILE_ID}' field (fields: {', '.join(map(str, tiles.columns))})."
        )
    if tiles[TILE_ID].isna().any() or tiles[TILE_ID].duplicated().any():
        raise BadInput(f"TILES: '{TILE_ID}' must be unique and never empty.")
    warnings: list[str] = []
    _traffic_warnings(profiles.report, events, warnings)
    traffic_ids = np.asarray(profiles.tile_ids)
    layer_ids = _as_ids(tiles[TILE_ID], traffic_ids.dtype)
    position = {tid: i for i, tid in enumerate(traffic_ids.tolist())}
    rows = np.array([position.get(t, -1) for t in layer_ids.tolist()], dtype=np.int64)
    has = rows >= 0
    extra = len(traffic_ids) - int(has.sum())
    if extra:
        message = f"{extra} tiles of the traffic are not in TILES; they are ignored."
        events.warning(message)
        warnings.append(message)
    values = np.asarray(profiles.values, dtype=np.float32)[rows[has]]
    return TileTraffic(
        tiles,
        has,
        values,
        list(profiles.services),
        profiles.layout,
        polygon_neighbours(tiles.geometry[has]),
        _truth(tiles, params.get("label_field"), has),
        warnings,
    )


def _traffic_warnings(report: Any, events: Any, warnings: list[str]) -> None:
    """The traffic reader's first problems as warnings (NetMob files cut short come first),
    then how many more there are."""
    messages = [f"Traffic: {problem}" for problem in report.problems[:SHOWN_PROBLEMS]]
    more = len(report.problems) - SHOWN_PROBLEMS + report.problems_dropped
    if more > 0:
        messages.append(f"Traffic: {more} more problems ({report.summary()}).")
    for message in messages:
        events.warning(message)
        warnings.append(message)


def _only_city(root: Path) -> str:
    cities = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(cities) != 1:
        raise BadInput(
            f"CITY is required: {root} holds {len(cities)} city folders ({', '.join(cities[:8])})."
        )
    return cities[0]


def _as_ids(series: Any, dtype: Any) -> Any:
    try:
        return series.to_numpy().astype(dtype)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"TILES: tile_id values do not match the traffic's ids ({exc}).") from exc


def _profiles_from_fields(tiles: Any, params: dict[str, Any]) -> Any:
    """Profiles held in the tile layer's fields ``<prefix><service>_<step>`` or ``<prefix><step>``."""
    import re

    from urbansig.columns import TILE_ID
    from urbansig.io.profiles import TrafficProfiles, n_steps
    from urbansig.io.report import ReadReport

    prefix = params["profile_prefix"]
    pattern = re.compile(rf"^{re.escape(prefix)}(?:(.+)_)?(\d+)$")
    found: dict[str, dict[int, str]] = {}
    for column in tiles.columns:
        match = pattern.match(str(column))
        if match:
            found.setdefault(match.group(1) or "traffic", {})[int(match.group(2))] = column
    if not found:
        raise BadInput(f"PROFILE_PREFIX: no field of TILES starts with {prefix!r}.")
    services = params["services"] or sorted(found)
    unknown = [s for s in services if s not in found]
    if unknown:
        raise BadInput(
            f"SERVICES: {', '.join(unknown)} not among the profile fields' services "
            f"({', '.join(sorted(found))})."
        )
    steps = n_steps(params["layout"])
    for service in services:
        if sorted(found[service]) != list(range(steps)):
            raise BadInput(
                f"PROFILE_PREFIX: service {service} has {len(found[service])} fields, LAYOUT "
                f"{params['layout']} needs steps 0..{steps - 1}."
            )
    values = np.stack(
        [tiles[[found[s][t] for t in range(steps)]].to_numpy(dtype=np.float64) for s in services],
        axis=1,
    )
    if TILE_ID not in tiles.columns:
        raise BadInput(f"TILES has no '{TILE_ID}' field.")
    return TrafficProfiles(
        tiles[TILE_ID].to_numpy(), list(services), values, params["layout"], ReadReport()
    )


def _truth(tiles: Any, field: str | None, has: Any) -> Any:
    import pandas as pd

    if not field:
        return None
    if field not in tiles.columns:
        raise BadInput(
            f"LABEL_FIELD: TILES has no field {field!r} (fields: {', '.join(tiles.columns)})."
        )
    codes, _ = pd.factorize(tiles[field].where(tiles[field].notna()))
    return np.asarray(codes)[has]
