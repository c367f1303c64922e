"""The synthetic city: determinism, exact NetMob layout, coherent truth, readable files, job."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from urbansig.protocol import BadInput, Cancelled, Events, JobSpec
from urbansig.runtime import run_spec
from urbansig.synth import generate_city
from urbansig.synth.textformat import format_rows

START = dt.date(2019, 3, 30)  # Saturday, then the daylight-saving Sunday 2019-03-31


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "city"
    generate_city(out, seed=3, size="tiny", days=2, start_date=START)
    return out


def _netmob_files(city: Path) -> list[Path]:
    return sorted((city / "netmob").rglob("*.txt"))


def test_format_rows_round_trip() -> None:
    values = np.array([[0.0, 0.04, 12.34, 99999.96], [7.0, 0.26, 1.0, 2.5]])
    text = format_rows(np.array([3, 120]), values, decimals=1).decode()
    assert text == "3 0.0 0.0 12.3 100000.0\n120 7.0 0.3 1.0 2.5\n"
    with pytest.raises(ValueError):
        format_rows(np.array([1]), np.array([[-1.0]]))


def test_traffic_bytes_do_not_depend_on_workers(tmp_path: Path) -> None:
    from urbansig.synth.traffic import make_traffic_model, write_traffic

    rng = np.random.default_rng(0)
    membership = rng.dirichlet(np.ones(7), size=60)
    model = make_traffic_model(9, membership, rng.lognormal(0, 1, 60), rng)
    for workers in (1, 2):
        write_traffic(
            model, tmp_path / str(workers), START, 1, lambda *a: None, lambda: None, workers
        )
    one = sorted((tmp_path / "1").rglob("*.txt"))
    assert len(one) == 32
    for path in one:
        assert (tmp_path / "2" / path.relative_to(tmp_path / "1")).read_bytes() == path.read_bytes()


def test_netmob_layout_is_exact(city: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    files = _netmob_files(city)
    assert len(files) == len(manifest["services"]) * 2 * 2
    pattern = re.compile(r"Demoville_(.+)_(\d{8})_(DL|UL)\.txt")
    n_tiles = manifest["n_tiles"]
    for path in files:
        match = pattern.fullmatch(path.name)
        assert match, path.name
        service, stamp = match.group(1), match.group(2)
        assert path.parent.name == stamp and path.parent.parent.name == service
        assert path.parent.parent.parent.name == "Demoville"
        lines = path.read_text().splitlines()
        widths = {len(line.split(" ")) for line in lines}
        assert widths == ({93} if stamp == "20190331" else {97}), (path.name, widths)
        ids = np.array([int(line.split(" ", 1)[0]) for line in lines])
        assert np.all(np.diff(ids) > 0) and ids.min() >= 0 and ids.max() < n_tiles
        assert 0.95 * n_tiles < len(ids) < n_tiles  # a few tiles missing in every file
    sample = np.loadtxt(files[0])
    assert sample.shape[1] == 97 and (sample[:, 1:] >= 0).all()
    tiles = gpd.read_file(city / "netmob" / "Demoville.geojson")
    assert tiles.crs.to_epsg() == 4326 and sorted(tiles["tile_id"]) == list(range(n_tiles))


def test_same_seed_same_bytes_other_seed_differs(city: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    generate_city(again, seed=3, size="tiny", days=2, start_date=START)
    generate_city(other, seed=4, size="tiny", days=1, start_date=START)
    for path in _netmob_files(city):
        assert (again / path.relative_to(city)).read_bytes() == path.read_bytes()
    first = _netmob_files(city)[0]
    assert (other / first.relative_to(city)).read_bytes() != first.read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_csv(city / "indicators.csv"), pd.read_csv(again / "indicators.csv")
    )


def test_land_use_is_coherent_with_many_classes(city: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    tiles = gpd.read_file(city / "tiles.gpkg").sort_values("tile_id")
    assert tiles.crs.to_epsg() == 27572
    area = tiles.geometry.area.to_numpy()
    assert np.allclose(area, 10_000.0)
    labels = tiles["land_use"].to_numpy().reshape(manifest["grid"]["n_rows"], -1)
    assert len(np.unique(labels)) >= 6
    agree = np.mean(
        np.r_[(labels[1:] == labels[:-1]).ravel(), (labels[:, 1:] == labels[:, :-1]).ravel()]
    )
    share = np.bincount(labels.ravel()) / labels.size
    assert agree > (share**2).sum() + 0.4
    # tile 0 is the bottom-left square
    first = tiles.geometry.iloc[0].bounds
    assert first[:2] == (manifest["grid"]["xmin"], manifest["grid"]["ymin"])


def test_indicators_are_not_a_function_of_one_input(city: Path) -> None:
    frame = pd.read_csv(city / "indicators.csv")
    numeric = ["population", "population_density", "housing_price", "crime_rate"]
    for target in ("housing_price", "crime_rate"):
        assert frame.groupby("land_use")[target].std().max() > 0
        for other in numeric:
            if other != target:
                rho = frame[target].rank().corr(frame[other].rank())
                assert abs(rho) < 0.95, (target, other, rho)
    regions = gpd.read_file(city / "regions.gpkg")
    assert regions.crs.to_epsg() == 27572
    assert regions["region_id"].str.len().eq(15).all()
    assert len(set(regions["land_use"])) >= 4
    assert regions["trip_count"].sum() > 0 and regions["in_flow"].sum() > 0
    assert regions["station_ridership"].sum() > 0
    trips = pd.read_csv(city / "trips.csv")
    assert set(trips["mode"]) == {"walk", "drive", "subway"}


def test_every_file_is_present_and_readable(city: Path) -> None:
    import rasterio
    from PIL import Image

    manifest = json.loads((city / "manifest.json").read_text())
    for rel in manifest["files"].values():
        assert (city / rel).exists(), rel
    pois = gpd.read_file(city / "pois.gpkg")
    assert {"poi_id", "category", "name", "text"} <= set(pois.columns) and len(pois) > 100
    cafes = pois.loc[pois["category"] == "cafe", "text"]
    assert cafes.str.split().map(len).min() >= 3
    stations = gpd.read_file(city / "stations.gpkg")
    assert {"station_id", "line"} <= set(stations.columns) and len(stations) >= 6
    with rasterio.open(city / "remote_sensing.tif") as src:
        assert src.count == 4 and src.dtypes == ("uint8",) * 4
        assert src.crs.to_epsg() == 27572
        band = src.read(4)
        assert band.std() > 10
    views = gpd.read_file(city / "streetview.gpkg")
    assert len(views) >= 20
    for rel in views["path"].head(5):
        with Image.open(city / rel) as img:
            assert img.size == (64, 64)
    trajectories = pd.read_csv(city / "trajectories.csv")
    assert list(trajectories.columns) == ["user_id", "timestamp", "lon", "lat"]
    times = pd.to_datetime(trajectories["timestamp"], utc=True, format="ISO8601")
    assert times.min() >= pd.Timestamp("2019-03-29T23:00:00Z")
    assert trajectories["timestamp"].str.endswith("+02:00").any()
    users = pd.read_csv(city / "users.csv")
    assert set(users["kind"]) <= {"commuter", "non_commuter", "shift_worker", "student"}
    assert users["user_id"].is_unique
    plts = sorted((city / "geolife").rglob("*.plt"))
    assert plts
    lines = plts[0].read_text().splitlines()
    assert lines[0] == "Geolife trajectory" and len(lines[6].split(",")) == 7
    od = pd.read_csv(city / "od_flows.csv")
    assert list(od.columns) == ["origin", "destination", "time_slot", "count"]
    assert (od["count"] > 0).all() and set(od["time_slot"]) <= {
        "morning",
        "midday",
        "evening",
        "night",
    }
    assert "Demoville" in (city / "README.md").read_text()


def test_job_runs_through_run_spec(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    spec = JobSpec(
        task="generatedemocity",
        params={"size": "tiny", "days": "1", "n_users": "5"},
        outputs={"output": str(out)},
        seed=1,
    )
    stream = io.StringIO()
    result = run_spec(spec, Events(stream))
    outputs = result["outputs"]
    for key in ("tiles", "regions", "pois", "trajectories", "remote_sensing", "netmob"):
        assert Path(outputs[key]).exists(), key
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(e["event"] == "progress" for e in events)
    assert pd.read_csv(outputs["users"]).shape[0] == 5
    again = JobSpec(
        task="generatedemocity",
        params={"size": "tiny", "days": "1", "n_users": "4"},
        outputs={"output": str(out)},
        seed=2,
    )
    run_spec(again, Events(io.StringIO()))  # a previous demo city is replaced
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert pd.read_csv(outputs["users"]).shape[0] == 4
    bad = JobSpec(task="generatedemocity", params={"days": "0"}, outputs={"output": str(out)})
    with pytest.raises(BadInput, match="DAYS"):
        run_spec(bad, Events(io.StringIO()))
    other = tmp_path / "not_a_city"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    spec = JobSpec(task="generatedemocity", params={"size": "tiny"}, outputs={"output": str(other)})
    with pytest.raises(BadInput, match="OUTPUT"):
        run_spec(spec, Events(io.StringIO()))
    assert (other / "keep.txt").read_text() == "mine"


def test_readers_load_the_city(city: Path) -> None:
    netmob = pytest.importorskip("urbansig.io.netmob")
    manifest = json.loads((city / "manifest.json").read_text())
    services, days = netmob.netmob_catalog(city / "netmob", "Demoville")
    assert services == sorted(manifest["services"]) and days[0] == START
    profiles = netmob.read_netmob_profiles(
        city / "netmob", "Demoville", layout="daily_hourly", workers=1
    )
    assert profiles.values.shape[1:] == (len(services), 24)
    assert profiles.report.malformed_lines == 0
    assert len(profiles.tile_ids) > 0.95 * manifest["n_tiles"]


class _CancelMidway(Events):
    def progress(self, fraction: float, message: str = "") -> None:
        if fraction > 0.2:
            self.cancel()
        super().progress(fraction, message)


def test_cancelled_generation_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(Cancelled):
        generate_city(tmp_path / "city", size="tiny", days=2, events=_CancelMidway(io.StringIO()))
    assert list(tmp_path.iterdir()) == []


def _land(n_land_uses: int = 7, imbalance: float = 0.0, seed: int = 3):
    from urbansig.synth.grid import CityGrid
    from urbansig.synth.landuse import make_land_use
    from urbansig.synth.network import make_network

    grid = CityGrid.for_size("tiny")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
    network = make_network(grid, streams[0])
    return make_land_use(grid, network, streams[1], n_land_uses, imbalance)


@pytest.mark.parametrize("n_land_uses", [3, 4, 5, 6])
def test_fewer_land_uses_keep_the_first_of_the_order(n_land_uses: int) -> None:
    from urbansig.synth.landuse import KEEP_ORDER

    present = set(np.unique(_land(n_land_uses).label).tolist())
    assert present <= set(KEEP_ORDER[:n_land_uses])
    assert len(present) >= n_land_uses - 1  # a rare class may lose all its tiles


def test_imbalance_makes_the_largest_class_larger() -> None:
    sizes = [np.bincount(_land(7, imbalance).label).max() for imbalance in (0.0, 2.0)]
    assert sizes[1] > sizes[0]


def test_noise_scales_the_tiles_own_variation() -> None:
    from urbansig.synth.traffic import NOISE_CV, make_traffic_model

    membership = np.tile([0.7, 0.3], (400, 1))
    spread = {}
    for noise in (1.0, 2.0):
        model = make_traffic_model(1, membership, np.ones(400), np.random.default_rng(0), noise)
        spread[noise] = float(np.log(model.taste).std())
        assert model.noise_cv == pytest.approx(NOISE_CV * noise)
    assert spread[2.0] == pytest.approx(2 * spread[1.0], rel=0.05)


@pytest.mark.parametrize(
    "variation, name",
    [
        ({"n_land_uses": 2}, "N_LAND_USES"),
        ({"imbalance": -1}, "IMBALANCE"),
        ({"noise": 9}, "NOISE"),
    ],
)
def test_variation_out_of_range_names_the_parameter(tmp_path: Path, variation, name) -> None:
    from urbansig.synth import CityVariation

    with pytest.raises(BadInput, match=name):
        generate_city(tmp_path / "c", size="tiny", variation=CityVariation(**variation))
    assert not (tmp_path / "c").exists()
