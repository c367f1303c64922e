"""Benchmark of the indicator predictor: mlp / ridge / gbm / mean, test-part metrics.

Datasets: a synthetic known relation (log target linear in the features plus noise), New
York State county population from commuting flow features (../shared/data/ny_commuting),
and Helsinki 250 m population cells from OpenStreetMap POI counts (../shared/data/helsinki).
Prints one table (mean ± std over repeats, log1p scale and original scale) per split.

    cd backend && /tmp/bvenv/bin/python ../bench/bench_predictor.py --repeats 10

The real-data feature builders are also used by tests/backend/test_predictor.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if str(ROOT / "backend") not in sys.path:
    sys.path.insert(0, str(ROOT / "backend"))

TOP_CATEGORIES = 6
POI_KEYS = ("amenity", "shop", "tourism", "office", "leisure", "craft", "historic")


def synthetic_known_relation(
    n: int = 600, d: int = 8, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features X (n, d), a count-like target exp(3 + X w + noise) and grid coordinates."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d) / np.sqrt(d)
    y = np.exp(3.0 + X @ w + noise * rng.normal(size=n))
    side = int(np.ceil(np.sqrt(n)))
    coords = np.column_stack([np.arange(n) % side, np.arange(n) // side]).astype(float)
    return X, y, coords


def ny_commuting_features(data_dir: Path = DATA):
    """NY counties with log1p commuting features and ``population``.

    From the flows CSV (origin, destination = county FIPS as in the layer's ``tile_id``):
    in-flow and out-flow across the county border, intra-county flow, and the number of
    counties sending to / receiving from it. Returns (GeoDataFrame, feature names).
    """
    import geopandas as gpd
    import pandas as pd

    folder = Path(data_dir) / "ny_commuting"
    counties = gpd.read_file(folder / "NY_counties_2011.geojson")
    flows = pd.read_csv(folder / "NY_commuting_flows_2011.csv")
    flows["origin"] = flows["origin"].astype(str)
    flows["destination"] = flows["destination"].astype(str)
    intra = flows["origin"] == flows["destination"]
    between = flows[~intra]
    features = pd.DataFrame(
        {
            "in_flow": between.groupby("destination")["flow"].sum(),
            "out_flow": between.groupby("origin")["flow"].sum(),
            "intra_flow": flows[intra].groupby("origin")["flow"].sum(),
            "n_origins": between.groupby("destination")["origin"].nunique(),
            "n_destinations": between.groupby("origin")["destination"].nunique(),
        }
    ).fillna(0.0)
    features = np.log1p(features).add_prefix("f_")
    frame = counties.assign(tile_id=counties["tile_id"].astype(str)).merge(
        features, left_on="tile_id", right_index=True, how="left"
    )
    names = list(features.columns)
    frame[names] = frame[names].fillna(0.0)  # a county with no recorded flow has none
    return frame, names


def osm_points(pbf: Path):
    """OSM points with a ``category`` like ``amenity:cafe`` ('' for non-POI nodes)."""
    try:
        from urbansig.io.poi import read_pois
    except ImportError:
        read_pois = None
    if read_pois is not None:
        pois = read_pois(pbf, layer="points")
        return pois[pois["category"].astype(str) != ""]
    import pyogrio

    points = pyogrio.read_dataframe(pbf, layer="points")
    tags = points["other_tags"].fillna("")
    category = np.full(len(points), "", dtype=object)
    for key in reversed(POI_KEYS):  # the first key in POI_KEYS wins
        value = tags.str.extract(rf'"{key}"=>"([^"]*)"')[0]
        has = value.notna().to_numpy()
        category[has] = key + ":" + value[has].to_numpy().astype(str)
    return points.assign(category=category)[category != ""]


def helsinki_poi_features(data_dir: Path = DATA):
    """Helsinki 250 m cells inside the OSM extract, log1p POI counts per kind, ``population``.

    Kinds: the TOP_CATEGORIES most common POI categories of the extract, "other", and the
    total. Cells are kept where their centre lies inside the convex hull of all OSM points
    (outside it a zero count would mean "not mapped", not "none").
    """
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    folder = Path(data_dir) / "helsinki"
    cells = gpd.read_file(folder / "helsinki_population_grid_2020.gpkg")
    every = pyogrio.read_dataframe(folder / "Helsinki.osm.pbf", layer="points", columns=[])
    hull = every.to_crs(cells.crs).union_all().convex_hull
    cells = cells[cells.geometry.representative_point().within(hull)].reset_index(drop=True)
    pois = osm_points(folder / "Helsinki.osm.pbf").to_crs(cells.crs)
    category = pois["category"].astype(str)
    top = category.value_counts().index[:TOP_CATEGORIES]
    kind = category.where(category.isin(top), "other").str.replace(r"\W+", "_", regex=True)
    joined = gpd.sjoin(pois.assign(kind=kind)[["kind", "geometry"]], cells, predicate="within")
    counts = pd.crosstab(joined["index_right"], joined["kind"]).reindex(
        index=range(len(cells)), fill_value=0
    )
    counts["total"] = counts.sum(axis=1)
    features = np.log1p(counts.astype(float)).add_prefix("poi_")
    frame = pd.concat([cells, features.set_index(cells.index)], axis=1)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=cells.crs), list(features.columns)


def datasets(data_dir: Path = DATA):
    """(name, X, y, coords) of every dataset available."""
    X, y, coords = synthetic_known_relation()
    out = [("synthetic log-linear (n=600, d=8, noise 0.1)", X, y, coords)]
    if (Path(data_dir) / "ny_commuting").is_dir():
        frame, names = ny_commuting_features(data_dir)
        points = frame.geometry.representative_point()
        out.append(
            (
                "NY county population ~ commuting flows (n=62)",
                frame[names].to_numpy(float),
                frame["population"].to_numpy(float),
                np.column_stack([points.x, points.y]),
            )
        )
    if (Path(data_dir) / "helsinki").is_dir():
        frame, names = helsinki_poi_features(data_dir)
        points = frame.geometry.representative_point()
        out.append(
            (
                f"Helsinki 250 m cell population ~ OSM POI counts (n={len(frame)})",
                frame[names].to_numpy(float),
                frame["population"].to_numpy(float),
                np.column_stack([points.x, points.y]),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    from urbansig.models.predictor import evaluate_features

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--splits", default="random,spatial")
    parser.add_argument("--models", default="mlp,ridge,gbm,mean")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    models = tuple(args.models.split(","))
    print(f"# bench_predictor: repeats={args.repeats}, device={args.device}")
    for name, X, y, coords in datasets():
        for split in args.splits.split(","):
            started = time.perf_counter()
            rows = evaluate_features(
                X, y, coords, split=split, repeats=args.repeats, seed=0, models=models,
                log_target=True, device=args.device,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            print(f"\n## {name}, {split} split ({seconds:.0f} s)\n")
            print("| model | R2 (log1p) | RMSE (log1p) | MAE (log1p) | R2 (original) | n_test |")
            print("|---|---|---|---|---|---|")
            for r in rows:
                print(
                    f"| {r['model']} | {r['r2_mean']:.3f} ± {r['r2_std']:.3f} "
                    f"| {r['rmse_mean']:.3f} ± {r['rmse_std']:.3f} "
                    f"| {r['mae_mean']:.3f} ± {r['mae_std']:.3f} "
                    f"| {r['r2_orig_mean']:.3f} ± {r['r2_orig_std']:.3f} | {r['n_test']} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
