"""``generate_city``: build the synthetic city and write its folder atomically."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from urbansig.columns import REGION_ID, TILE_ID
from urbansig.io.atomic import atomic_path
from urbansig.protocol import BadInput
from urbansig.synth import flows, imagery, mobility
from urbansig.synth.grid import CITY, CRS, SIZES, CityGrid
from urbansig.synth.landuse import COMMERCIAL, LAND_USES, PARK, make_land_use
from urbansig.synth.network import make_network
from urbansig.synth.pois import make_pois
from urbansig.synth.population import make_population
from urbansig.synth.regions import INDICATOR_COLUMNS, make_regions
from urbansig.synth.rhythms import SERVICES
from urbansig.synth.traffic import make_traffic_model, write_traffic

START_DATE = dt.date(2019, 3, 25)  # a Monday; 2019-03-31 is the daylight-saving day
GEOLIFE_USERS = 20
STREETVIEW_PER_REGION = {"tiny": 2, "small": 2, "medium": 1, "large": 1}
MODEL_PAGE = Path(__file__).with_name("MODEL.md")


@dataclass(frozen=True)
class CityVariation:
    """How the city departs from the standard one (the defaults draw the standard city)."""

    n_land_uses: int = len(LAND_USES)  # 3..7 classes (the first of landuse.KEEP_ORDER)
    imbalance: float = 0.0  # > 0: frequent land uses grow, rare ones shrink
    noise: float = 1.0  # scale of per-tile variation and observation noise

    def check(self) -> None:
        """BadInput naming the parameter that is out of range."""
        if not 3 <= self.n_land_uses <= len(LAND_USES):
            raise BadInput(
                f"N_LAND_USES must be between 3 and {len(LAND_USES)}, not {self.n_land_uses}."
            )
        if not 0.0 <= self.imbalance <= 5.0:
            raise BadInput(f"IMBALANCE must be between 0 and 5, not {self.imbalance}.")
        if not 0.0 <= self.noise <= 5.0:
            raise BadInput(f"NOISE must be between 0 and 5, not {self.noise}.")


class _Quiet:
    """Events sink used when no events object is given."""

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass

    def metric(self, name: str, value: Any, **extra: Any) -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass


class _Stage:
    """Progress of one stage mapped into ``start..end`` of the whole run."""

    def __init__(self, events: Any, start: float, end: float) -> None:
        self.events, self.start, self.end = events, start, end

    def __call__(self, fraction: float, message: str = "") -> None:
        self.events.progress(self.start + (self.end - self.start) * fraction, message)


def generate_city(
    out_dir: Path,
    seed: int = 0,
    size: str = "small",
    days: int = 7,
    events: Any = None,
    *,
    region_resolution: int = 9,
    n_users: int = 0,
    start_date: dt.date = START_DATE,
    variation: CityVariation | None = None,
) -> dict[str, Any]:
    """Generate the synthetic city into ``out_dir`` (replaced atomically); returns the manifest.

    ``n_users`` 0 picks the default for ``size``. Raises BadInput for invalid arguments.
    """
    if size not in SIZES:
        raise BadInput(f"SIZE must be one of {', '.join(SIZES)}, not {size!r}.")
    if not 1 <= int(days) <= 77:
        raise BadInput(f"DAYS must be between 1 and 77, not {days}.")
    if not 7 <= int(region_resolution) <= 10:
        raise BadInput(f"REGION_RESOLUTION must be between 7 and 10 (H3), not {region_resolution}.")
    if int(n_users) < 0:
        raise BadInput(f"N_USERS must be 0 (default for the size) or more, not {n_users}.")
    variation = variation or CityVariation()
    variation.check()
    events = events if events is not None else _Quiet()
    out_dir = Path(out_dir)
    check_output(out_dir)
    with atomic_path(out_dir, replace_folder=True) as tmp:
        tmp.mkdir()
        manifest = _build(
            tmp,
            int(seed),
            size,
            int(days),
            events,
            int(region_resolution),
            int(n_users),
            start_date,
            variation,
        )
    return manifest


def check_output(out_dir: Path) -> None:
    """BadInput unless ``out_dir`` is new, an empty folder or a previous demo city."""
    if not out_dir.parent.is_dir():
        raise BadInput(f"OUTPUT: the folder {out_dir.parent} does not exist.")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"OUTPUT: {out_dir} is a file; give a folder path.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "manifest.json").is_file():
        raise BadInput(
            f"OUTPUT: {out_dir} is a non-empty folder that is not a demo city; choose a new or "
            "empty folder (a previous demo city there is replaced)."
        )


def _build(
    out: Path,
    seed: int,
    size: str,
    days: int,
    events: Any,
    resolution: int,
    n_users: int,
    start: dt.date,
    variation: CityVariation,
) -> dict[str, Any]:
    grid = CityGrid.for_size(size)
    n_users = n_users or SIZES[size][2]
    pixel = SIZES[size][3]
    root = np.random.SeedSequence(seed)
    streams = [np.random.default_rng(s) for s in root.spawn(8)]
    events.progress(0.0, f"Laying out {CITY} ({grid.n_rows} x {grid.n_cols} tiles)")
    network = make_network(grid, streams[0])
    land = make_land_use(grid, network, streams[1], variation.n_land_uses, variation.imbalance)
    pop = make_population(grid, land, streams[2])
    events.check_cancelled()

    events.progress(0.03, "Regions and indicators")
    regions = make_regions(grid, land.membership, land.label, pop, resolution, streams[3])
    events.check_cancelled()

    traffic = make_traffic_model(seed, land.membership, pop.activity, streams[4], variation.noise)
    netmob = out / "netmob"
    n_bytes = write_traffic(
        traffic, netmob, start, days, _Stage(events, 0.05, 0.7), events.check_cancelled
    )
    events.metric("netmob_mb", round(n_bytes / 1e6, 1))
    _write_tiles(out, netmob, grid, land, pop)
    events.check_cancelled()

    events.progress(0.72, "Points of interest")
    pois = make_pois(grid, land.membership, pop.activity, streams[5])
    _write_gpkg(pois, out / "pois.gpkg", "pois")
    stations = gpd.GeoDataFrame(
        {"station_id": network.names, "line": [f"L{i + 1}" for i in network.line]},
        geometry=gpd.points_from_xy(network.x, network.y),
        crs=CRS,
    )
    _write_gpkg(stations, out / "stations.gpkg", "stations")

    events.progress(0.74, f"Trajectories of {n_users} users")
    users = mobility.make_users(grid, land.membership, pop, n_users, streams[6])
    move = mobility.simulate(
        grid,
        network,
        land.membership,
        pop,
        users,
        start,
        days,
        seed,
        events.check_cancelled,
        _Stage(events, 0.74, 0.84),
    )
    _write_mobility(out, grid, regions, users, move, network)
    events.check_cancelled()

    events.progress(0.85, "Origin-destination flows")
    frame = regions.frame
    centroids = frame.geometry.centroid
    leisure = np.bincount(
        regions.tile_region,
        (land.membership[:, COMMERCIAL] + 0.5 * land.membership[:, PARK]) * pop.activity * 100,
        minlength=len(frame),
    )
    jobs = np.bincount(regions.tile_region, pop.jobs, minlength=len(frame))
    od = flows.gravity_flows(
        frame[REGION_ID].to_numpy(),
        centroids.x.to_numpy(),
        centroids.y.to_numpy(),
        frame["population"].to_numpy(dtype=float),
        jobs,
        leisure,
        streams[7],
    )
    od.to_csv(out / "od_flows.csv", index=False)
    for column, key in (("out_flow", "origin"), ("in_flow", "destination")):
        total = od.groupby(key)["count"].sum().reindex(frame[REGION_ID]).fillna(0)
        frame[column] = total.to_numpy().astype(np.int64)
    _write_gpkg(frame, out / "regions.gpkg", "regions")
    frame[[REGION_ID, *INDICATOR_COLUMNS]].to_csv(out / "indicators.csv", index=False)
    events.check_cancelled()

    events.progress(0.88, "Remote sensing image")
    density = np.log1p(pop.activity)
    imagery.write_remote_sensing(
        out / "remote_sensing.tif",
        grid,
        land.membership,
        density,
        pixel,
        seed,
        events.check_cancelled,
    )
    events.progress(0.95, "Street views")
    _write_streetview(out, grid, land.membership, density, regions, size, seed, events)

    manifest = _manifest(grid, seed, size, days, start, resolution, n_users, regions, pois, od)
    manifest["variation"] = asdict(variation)
    manifest["land_uses_present"] = [LAND_USES[k] for k in np.unique(land.label)]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (out / "README.md").write_text(_readme(manifest), encoding="utf-8")
    events.progress(1.0, "Demo city written")
    return manifest


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    frame.to_file(path, layer=layer, engine="pyogrio", dataset_options={"VERSION": "1.2"})


def tile_polygons(grid: CityGrid) -> np.ndarray:
    """100 m squares of every tile (EPSG:27572), tile-id order."""
    x, y = grid.centres()
    h = grid.cell / 2
    return shapely.box(x - h, y - h, x + h, y + h)


def _write_tiles(out: Path, netmob: Path, grid: CityGrid, land: Any, pop: Any) -> None:
    tiles = gpd.GeoDataFrame(
        {
            TILE_ID: grid.tile_ids(),
            "land_use": land.label,
            "land_use_name": np.array(LAND_USES)[land.label],
            "population": pop.residents,
        },
        geometry=tile_polygons(grid),
        crs=CRS,
    )
    _write_gpkg(tiles, out / "tiles.gpkg", "tiles")
    geojson = tiles[[TILE_ID, "geometry"]].to_crs("EPSG:4326")
    geojson.to_file(netmob / f"{CITY}.geojson", driver="GeoJSON", engine="pyogrio")


def _write_mobility(
    out: Path, grid: CityGrid, regions: Any, users: Any, move: Any, network: Any
) -> None:
    frame = regions.frame
    rid = frame[REGION_ID].to_numpy()
    to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    pts = mobility.points_frame(move, users)
    lon, lat = to_wgs.transform(pts["x"].to_numpy(), pts["y"].to_numpy())
    table = pd.DataFrame(
        {
            "user_id": pts["user_id"],
            "timestamp": mobility.iso_local(pts["t"].to_numpy()),
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
        }
    )
    table.to_csv(out / "trajectories.csv", index=False)
    _write_geolife(out / "geolife", pts, lon, lat, users.ids[:GEOLIFE_USERS])

    work = users.work
    has_work = ~np.isnan(work[:, 0])
    work_region = np.full(len(work), "", dtype=object)
    work_region[has_work] = rid[regions.region_of(work[has_work, 0], work[has_work, 1], grid)]
    pd.DataFrame(
        {
            "user_id": users.ids,
            "kind": np.array(mobility.KINDS)[users.kind],
            "is_commuter": (users.kind != mobility.KINDS.index("non_commuter")).astype(int),
            "home_x": np.round(users.home[:, 0], 1),
            "home_y": np.round(users.home[:, 1], 1),
            "work_x": np.round(work[:, 0], 1),
            "work_y": np.round(work[:, 1], 1),
            "home_region": rid[regions.region_of(users.home[:, 0], users.home[:, 1], grid)],
            "work_region": work_region,
        }
    ).to_csv(out / "users.csv", index=False)

    trips = pd.DataFrame(
        move.trips, columns=["user", "depart", "arrive", "ox", "oy", "dx", "dy", "mode"]
    )
    o_reg = regions.region_of(trips["ox"].to_numpy(), trips["oy"].to_numpy(), grid)
    d_reg = regions.region_of(trips["dx"].to_numpy(), trips["dy"].to_numpy(), grid)
    n = len(frame)
    trip_count = np.bincount(o_reg, minlength=n) + np.bincount(d_reg[d_reg != o_reg], minlength=n)
    frame["trip_count"] = trip_count.astype(np.int64)
    st = np.array([b[0] for b in move.boardings], dtype=np.int64)
    st_reg = regions.region_of(network.x[st], network.y[st], grid)
    frame["station_ridership"] = np.bincount(st_reg, minlength=n).astype(np.int64)
    pd.DataFrame(
        {
            "user_id": np.array(users.ids)[trips["user"].to_numpy(dtype=int)],
            "depart": mobility.iso_local(trips["depart"].to_numpy()),
            "arrive": mobility.iso_local(trips["arrive"].to_numpy()),
            "origin_region": rid[o_reg],
            "destination_region": rid[d_reg],
            "mode": trips["mode"],
        }
    ).to_csv(out / "trips.csv", index=False)


_PLT_HEADER = (
    "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
    "0,2,255,My Track,0,0,2,8421376\n0\n"
)
_DAYS_1899_TO_1970 = 25569.0


def _write_geolife(root: Path, pts: pd.DataFrame, lon, lat, user_ids: list[str]) -> None:
    """One .plt file per user and (UTC) day, named by its first fix, times in GMT."""
    t = pts["t"].to_numpy()
    utc = pd.to_datetime(t.astype("int64"), unit="s")
    stamp = np.datetime_as_string(utc.to_numpy().astype("datetime64[s]"), unit="s")
    day_key = t // 86400
    user = pts["user_id"].to_numpy()
    alt = 560 + (np.asarray(lat) * 1e5 % 40).astype(int)
    for uid in user_ids:
        rows = np.flatnonzero(user == uid)
        folder = root / uid / "Trajectory"
        folder.mkdir(parents=True, exist_ok=True)
        for key in np.unique(day_key[rows]):
            sel = rows[day_key[rows] == key]
            name = stamp[sel[0]].replace("-", "").replace(":", "").replace("T", "")
            days = t[sel] / 86400.0 + _DAYS_1899_TO_1970
            lines = [
                f"{la:.6f},{lo:.6f},0,{a},{d:.10f},{s[:10]},{s[11:]}"
                for la, lo, a, d, s in zip(lat[sel], lon[sel], alt[sel], days, stamp[sel])
            ]
            (folder / f"{name}.plt").write_text(_PLT_HEADER + "\n".join(lines) + "\n")


def _write_streetview(
    out: Path, grid, membership, density, regions, size: str, seed: int, events
) -> None:
    rng = np.random.default_rng([seed, 6001])
    frame = regions.frame
    x, y, reg = imagery.street_points(
        grid, regions.tile_region, len(frame), STREETVIEW_PER_REGION[size], rng
    )
    folder = out / "streetview"
    folder.mkdir()
    from PIL import Image

    tiles = grid.tile_of(x, y)
    ids = [f"sv{i:05d}" for i in range(len(x))]
    for i, image_id in enumerate(ids):
        if i % 200 == 0:
            events.check_cancelled()
        img = imagery.street_view(membership[tiles[i]], float(density[tiles[i]]), rng)
        Image.fromarray(img).save(folder / f"{image_id}.png", compress_level=1)
    layer = gpd.GeoDataFrame(
        {
            "image_id": ids,
            "path": [f"streetview/{i}.png" for i in ids],
            REGION_ID: frame[REGION_ID].to_numpy()[reg],
        },
        geometry=gpd.points_from_xy(x, y),
        crs=CRS,
    )
    _write_gpkg(layer, out / "streetview.gpkg", "streetview")


FILES = {
    "tiles": "tiles.gpkg",
    "regions": "regions.gpkg",
    "indicators": "indicators.csv",
    "pois": "pois.gpkg",
    "od_flows": "od_flows.csv",
    "trajectories": "trajectories.csv",
    "geolife": "geolife",
    "users": "users.csv",
    "trips": "trips.csv",
    "stations": "stations.gpkg",
    "remote_sensing": "remote_sensing.tif",
    "streetview": "streetview.gpkg",
    "netmob": "netmob",
    "netmob_tiles": f"netmob/{CITY}.geojson",
    "readme": "README.md",
}


def _manifest(grid, seed, size, days, start, resolution, n_users, regions, pois, od) -> dict:
    return {
        "city": CITY,
        "crs": CRS,
        "seed": seed,
        "size": size,
        "days": days,
        "start_date": start.isoformat(),
        "services": list(SERVICES),
        "n_tiles": grid.n_tiles,
        "grid": {
            "n_rows": grid.n_rows,
            "n_cols": grid.n_cols,
            "xmin": grid.x0,
            "ymin": grid.y0,
            "cell_size": grid.cell,
            "tile_id": "row * n_cols + col, row 0 at the bottom",
        },
        "land_uses": list(LAND_USES),
        "region_resolution": resolution,
        "n_regions": len(regions.frame),
        "n_users": n_users,
        "n_pois": len(pois),
        "n_od_rows": len(od),
        "files": dict(FILES),
    }


def _readme(manifest: dict) -> str:
    facts = (
        f"- seed {manifest['seed']}, size {manifest['size']}: {manifest['grid']['n_rows']} x "
        f"{manifest['grid']['n_cols']} tiles of 100 m ({manifest['n_tiles']} tiles), "
        f"{manifest['n_regions']} H3 regions at resolution {manifest['region_resolution']}\n"
        f"- {manifest['days']} days from {manifest['start_date']}, "
        f"{len(manifest['services'])} services, {manifest['n_users']} users, "
        f"{manifest['n_pois']} POIs\n"
    )
    return (
        f"# {manifest['city']}: a synthetic city with ground truth\n\n"
        f"Generated by `urbansig.synth` (Processing algorithm *Generate demo city*).\n\n"
        f"{facts}\n" + MODEL_PAGE.read_text(encoding="utf-8")
    )
