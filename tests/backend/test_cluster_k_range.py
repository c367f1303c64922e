"""Too few tiles for the clusters asked for: the message names N_CLUSTERS, K_MIN or K_MAX
and says how far to lower it; nothing is written."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from urbansig.protocol import BadInput, Events, JobSpec

gpd = pytest.importorskip("geopandas")


def _tiles(path: Path, n: int) -> Path:
    """``n`` tiles in a row with random daily profiles in fields p_<step>."""
    from shapely.geometry import box

    rng = np.random.default_rng(0)
    fields = {f"p_{t}": rng.uniform(1, 10, n) for t in range(24)}
    geoms = [box(i * 100, 0, i * 100 + 100, 100) for i in range(n)]
    frame = gpd.GeoDataFrame({"tile_id": np.arange(n), **fields}, geometry=geoms, crs=27572)
    frame.to_file(path, engine="pyogrio")
    return path


def _run(tmp_path: Path, n_tiles: int, **params) -> None:
    from urbansig.runtime import run_spec

    spec = JobSpec(
        task="clustertraffictiles",
        inputs={"tiles": str(_tiles(tmp_path / "tiles.gpkg", n_tiles))},
        params={"profile_prefix": "p_", "layout": "daily_hourly", "epochs": 1, **params},
        outputs={"output": str(tmp_path / "out.gpkg"), "report": str(tmp_path / "r.html")},
        device="cpu",
    )
    try:
        run_spec(spec, Events(io.StringIO()))
    finally:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.gpkg"]


@pytest.mark.parametrize(
    ("n_tiles", "params", "message"),
    [
        (5, {"n_clusters": "auto", "k_min": 3, "k_max": 10}, r"^K_MAX: .*lower K_MAX to at most 4"),
        (
            5,
            {"n_clusters": "auto", "k_min": 5, "k_max": 10},
            r"^K_MIN: .*K_MIN and K_MAX to at most 4",
        ),
        (2, {"n_clusters": "auto", "k_min": 2, "k_max": 2}, r"^N_CLUSTERS: auto needs at least 3"),
        (5, {"n_clusters": "8"}, r"^N_CLUSTERS: 5 tiles .* N_CLUSTERS at most 5"),
    ],
)
def test_too_few_tiles_names_the_parameter(tmp_path: Path, n_tiles, params, message):
    with pytest.raises(BadInput, match=message) as info:
        _run(tmp_path, n_tiles, **params)
    assert "only" in str(info.value) or "cannot make" in str(info.value)


def test_auto_with_k_max_below_the_tiles_runs(tmp_path: Path):
    from urbansig.runtime import run_spec

    spec = JobSpec(
        task="clustertraffictiles",
        inputs={"tiles": str(_tiles(tmp_path / "tiles.gpkg", 5))},
        params={
            "profile_prefix": "p_",
            "layout": "daily_hourly",
            "epochs": 3,
            "n_clusters": "auto",
            "k_min": 2,
            "k_max": 4,
        },
        outputs={"output": str(tmp_path / "out.gpkg")},
        device="cpu",
    )
    result = run_spec(spec, Events(io.StringIO()))
    assert 2 <= result["metrics"]["n_clusters"] <= 4
