"""Train / validation / test splits: random 60/20/20 (as MuseCL) or spatial block folds.

A split is an int8 array over the labelled regions: 0 = train, 1 = validation, 2 = test.
"""

from __future__ import annotations

import numpy as np

from urbansig import parameters
from urbansig.protocol import BadInput

SPLIT = parameters.default("predictindicator", "split")  # the table's SPLIT
TRAIN, VALIDATION, TEST = 0, 1, 2
PART_NAMES = ("train", "validation", "test")
MIN_LABELLED = 10  # 6 train, 2 validation, 2 test at 60/20/20
N_FOLDS = 5  # spatial block CV: fold k = test, fold k+1 = validation, the rest = train


def check_split_size(n: int, field: str = "TARGET_FIELD") -> None:
    """BadInput when ``n`` labelled regions are too few for a 60/20/20 split."""
    if n < MIN_LABELLED:
        raise BadInput(
            f"{field}: {n} regions have a known value; at least {MIN_LABELLED} are needed "
            "for a train/validation/test split (60/20/20). Label more regions."
        )


def random_split(n: int, seed: int, fractions: tuple[float, float] = (0.2, 0.2)) -> np.ndarray:
    """A random split with ``fractions`` = (validation, test) shares, the rest train."""
    check_split_size(n)
    n_val = max(2, int(round(fractions[0] * n)))
    n_test = max(2, int(round(fractions[1] * n)))
    order = np.random.default_rng(seed).permutation(n)
    part = np.full(n, TRAIN, dtype=np.int8)
    part[order[:n_test]] = TEST
    part[order[n_test : n_test + n_val]] = VALIDATION
    return part


def block_ids(coords: np.ndarray, block_size: float) -> np.ndarray:
    """Square block index of each point (blocks of ``block_size`` layer units)."""
    coords = np.asarray(coords, dtype=float)
    cells = np.floor((coords - coords.min(axis=0)) / block_size).astype(np.int64)
    _, ids = np.unique(cells, axis=0, return_inverse=True)
    return ids.reshape(-1)


def default_block_size(coords: np.ndarray) -> float:
    """A block size giving about 5 x 5 blocks over the extent of ``coords``."""
    coords = np.asarray(coords, dtype=float)
    span = float(np.max(coords.max(axis=0) - coords.min(axis=0)))
    return span / 5.0 if span > 0 else 1.0


def block_folds(blocks: np.ndarray, seed: int, n_folds: int = N_FOLDS) -> np.ndarray:
    """Assign whole blocks to ``n_folds`` folds of about equal region counts.

    Blocks are visited in a seeded random order, largest first among equals, each going
    to the fold that holds the fewest regions so far.
    """
    ids, counts = np.unique(blocks, return_counts=True)
    if len(ids) < n_folds:
        raise BadInput(
            f"BLOCK_SIZE: the labelled regions fall into {len(ids)} blocks; spatial block "
            f"cross-validation needs at least {n_folds}. Choose a smaller BLOCK_SIZE."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of_block = np.empty(len(ids), dtype=np.int64)
    load = np.zeros(n_folds, dtype=np.int64)
    for b in order:
        k = int(np.argmin(load))
        fold_of_block[b] = k
        load[k] += counts[b]
    return fold_of_block[np.searchsorted(ids, blocks)]


def spatial_split(folds: np.ndarray, fold: int, n_folds: int = N_FOLDS) -> np.ndarray:
    """Fold ``fold`` is the test part, the next fold validation, the others train."""
    part = np.full(len(folds), TRAIN, dtype=np.int8)
    part[folds == fold % n_folds] = TEST
    part[folds == (fold + 1) % n_folds] = VALIDATION
    return part


def make_splits(
    n: int,
    split: str = SPLIT,
    repeats: int = 3,
    seed: int = 0,
    coords: np.ndarray | None = None,
    block_size: float | None = None,
) -> list[np.ndarray]:
    """``repeats`` splits of ``n`` labelled regions.

    ``random``: a new 60/20/20 permutation per repeat (seed + r). ``spatial``: square blocks
    of ``block_size`` (layer units; default about a fifth of the extent) dealt into 5 folds;
    repeat r tests on fold r % 5 of the partition drawn with seed + r // 5, so 5 repeats are
    one complete 5-fold block cross-validation and no block is ever in two parts.
    """
    if repeats < 1:
        raise BadInput(f"REPEATS must be at least 1, not {repeats}.")
    check_split_size(n)
    if split == "random":
        return [random_split(n, seed + r) for r in range(repeats)]
    if split != "spatial":
        raise BadInput(f"SPLIT must be 'random' or 'spatial', not {split!r}.")
    if coords is None:
        raise BadInput("SPLIT 'spatial' needs region coordinates (a layer with geometries).")
    if block_size is not None and not block_size > 0:
        raise BadInput(f"BLOCK_SIZE must be positive (layer units), not {block_size}.")
    blocks = block_ids(coords, block_size or default_block_size(coords))
    partitions: dict[int, np.ndarray] = {}
    splits = []
    for r in range(repeats):
        key = r // N_FOLDS
        if key not in partitions:
            partitions[key] = block_folds(blocks, seed + key)
        splits.append(spatial_split(partitions[key], r % N_FOLDS))
    return splits
