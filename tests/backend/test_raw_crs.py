"""RAW's km figures do not depend on the CRS of the regions layer the user picked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from urbansig.protocol import Events, JobSpec

# the demo city is Lyon (4.8 E): its local metric CRS is UTM zone 31N
REGION_CRS = ("EPSG:4326", "EPSG:3857", "EPSG:32631")
TINY = {
    "layers": 1, "width": 16, "heads": 2, "seq_len": 16, "epochs": 1, "batch_size": 64,
    "horizon_steps": 3,
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_job(task: str, inputs: dict, params: dict, outputs: dict) -> dict:
    from urbansig.runtime import run_spec

    spec = JobSpec(task=task, inputs=inputs, params=params, outputs=outputs, device="cpu")
    return run_spec(spec, Events(io.StringIO(), min_interval=0.0))


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """The tiny demo city, its regions written in each CRS of REGION_CRS."""
    import geopandas as gpd

    from urbansig.synth import generate_city

    root = tmp_path_factory.mktemp("crs")
    generate_city(root / "city", seed=0, size="tiny", days=2, n_users=12)
    regions = gpd.read_file(root / "city" / "regions.gpkg")
    for crs in REGION_CRS:
        regions.to_crs(crs).to_file(root / f"regions_{crs[5:]}.gpkg", engine="pyogrio")
    return root


def km_figures(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if "_km_" in k}


def test_km_figures_and_model_crs_do_not_depend_on_the_regions_crs(city, tmp_path):
    import geopandas as gpd

    from urbansig.models.raw.method import RawModel

    figures = {}
    for crs in REGION_CRS:
        out = {"output": str(tmp_path / f"out_{crs[5:]}.gpkg"),
               "output_model": str(tmp_path / f"raw_{crs[5:]}.pt")}  # fmt: skip
        inputs = {"trajectories": str(city / "city" / "trajectories.csv"),
                  "regions": str(city / f"regions_{crs[5:]}.gpkg")}  # fmt: skip
        result = run_job("pooltrajectoriesraw", inputs, TINY, out)
        figures[crs] = km_figures(result["metrics"])
        assert gpd.read_file(out["output"]).crs == crs  # the regions keep their own CRS
        assert RawModel.load(out["output_model"], device="cpu").crs == "EPSG:32631"
    reference = figures["EPSG:32631"]
    assert len(reference) == 10 * TINY["horizon_steps"]  # 5 forecasters: mean and median
    for crs, values in figures.items():
        assert values.keys() == reference.keys(), crs
        for name, value in values.items():
            assert value == pytest.approx(reference[name], rel=0.01), (crs, name)
    assert all(np.isfinite(v) and v > 0 for v in reference.values())
