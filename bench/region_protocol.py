"""The published region-benchmark protocol and its data (Chicago, San Francisco).

Ridge(alpha=1) on the embedding, KFold(shuffle, random_state=2024), predictions below 0 set
to 0, MAE / RMSE / R2 on the concatenated out-of-fold predictions (HAFusion, MGFN, HREP).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "region_benchmarks"
CITIES = {"Chi": ("Chicago", 25), "SF": ("San Francisco", 10)}
TASKS = {"check": "check_counts", "crime": "crime_counts", "service": "serviceCall_counts"}
PUBLISHED = {  # HAFusion, ICDE 2024 (test-selected epoch: optimistic)
    "Chi": {"check": 0.870, "crime": 0.631, "service": 0.613},
    "SF": {"check": 0.813, "crime": 0.682, "service": 0.612},
}


def load_city(city: str) -> dict[str, np.ndarray]:
    """OD (n, n), poi (n, 26), landuse (n, k) and the three targets of ``city``."""
    folder = DATA / city
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing (the shared region benchmarks)")
    out = {
        "od": np.load(folder / "mob-adj.npy").astype(np.float64),
        "poi": np.load(folder / "poi_dist.npy").astype(np.float64),
        "landuse": np.load(folder / "landUse_dist.npy").astype(np.float64),
    }
    for task, stem in TASKS.items():
        out[task] = np.load(folder / f"{stem}.npy").astype(np.float64)
    return out


def score(features: np.ndarray, y: np.ndarray, folds: int) -> dict[str, float]:
    """R2, RMSE and MAE of the published protocol for one target (predictindicator's own)."""
    from urbansig.models.predictor import literature_protocol

    return literature_protocol(features, y, folds, seed=2024)[0]


def score_all(features: np.ndarray, city_data: dict[str, np.ndarray], city: str) -> dict:
    """R2 of every task of ``city`` for ``features``."""
    folds = CITIES[city][1]
    return {task: score(features, city_data[task], folds)["r2"] for task in TASKS}


def zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)


def floors(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The README's trivial floors as feature matrices."""
    from sklearn.decomposition import PCA

    od = np.log1p(d["od"])
    lp, ll = np.log1p(d["poi"]), np.log1p(d["landuse"])
    all_z = zscore(np.hstack([od, od.T, lp, ll]))
    return {
        "log OD rows+cols, PCA 16": PCA(16, random_state=0).fit_transform(np.hstack([od, od.T])),
        "z log [OD, POI, LU], PCA 16": PCA(16, random_state=0).fit_transform(all_z),
        "log POI + LU": np.hstack([lp, ll]),
    }
