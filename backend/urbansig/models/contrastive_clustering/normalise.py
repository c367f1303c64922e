"""Per-tile normalisation: keep a tile's signature (service mix and weekly shape), not its volume."""

from __future__ import annotations

import numpy as np

NORMALISATIONS = ("log_zscore", "share", "service_shape")


def check_profiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of tiles whose profile holds NaN/inf or negative values, and all-zero ones."""
    values = np.asarray(values)
    flat = values.reshape(len(values), -1)
    invalid = ~np.isfinite(flat).all(axis=1) | (np.nan_to_num(flat) < 0).any(axis=1)
    empty = ~invalid & (np.abs(np.nan_to_num(flat)).sum(axis=1) == 0)
    return invalid, empty


def tile_volume(values: np.ndarray) -> np.ndarray:
    """Total traffic of each tile over services and steps (float64)."""
    values = np.asarray(values)
    return values.reshape(len(values), -1).sum(axis=1, dtype=np.float64)


def normalise_profiles(
    values: np.ndarray, method: str = "log_zscore", chunk: int = 65_536
) -> np.ndarray:
    """Volume-free signatures of raw profiles ``(n, services, steps)`` as float32, same shape.

    ``log_zscore``: log1p, then standardise each tile over all its services and steps (a
    volume factor is a shift in log space, so it is removed; service mix and weekly shape
    stay). ``share``: each cell's share of the tile's total, times the number of cells, then
    log1p (a tile with flat traffic is all log 2). ``service_shape``: each service row
    separately: log1p of its weekly shape (share of the row's total times the number of
    steps), standardised over the tile's cells, plus the row's log service share (log of the
    share of the tile's total, standardised over the tile's services) added to the row as a
    constant offset; so the weekly rhythm of a small service counts as much as a big one's, and
    the service mix stays. Processed in chunks (bounded memory).
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, not {method!r}")
    values = np.asarray(values)
    out = np.empty(values.shape, dtype=np.float32)
    cells = int(np.prod(values.shape[1:]))
    for start in range(0, len(values), chunk):
        block = values[start : start + chunk].astype(np.float64).reshape(-1, cells)
        if method == "service_shape":
            block = _service_shape(block.reshape((-1, *values.shape[1:]))).reshape(-1, cells)
        elif method == "log_zscore":
            block = np.log1p(block)
            block -= block.mean(axis=1, keepdims=True)
            std = block.std(axis=1, keepdims=True)
            block /= np.where(std > 0, std, 1.0)
        else:
            total = block.sum(axis=1, keepdims=True)
            block = np.log1p(block * cells / np.where(total > 0, total, 1.0))
        out[start : start + chunk] = block.reshape((-1, *values.shape[1:]))
    return out


def _service_shape(block: np.ndarray) -> np.ndarray:
    """``service_shape`` normalisation of a float64 block ``(n, services, steps)``."""
    steps = block.shape[-1]
    rows = block.sum(axis=-1, keepdims=True)
    shape = np.log1p(block * steps / np.where(rows > 0, rows, 1.0))
    shape -= shape.mean(axis=(1, 2), keepdims=True)
    std = shape.std(axis=(1, 2), keepdims=True)
    shape /= np.where(std > 0, std, 1.0)
    total = rows.sum(axis=1, keepdims=True)
    share = np.log(rows / np.where(total > 0, total, 1.0) + 1e-4)
    share -= share.mean(axis=1, keepdims=True)
    sstd = share.std(axis=1, keepdims=True)
    share /= np.where(sstd > 0, sstd, 1.0)
    return shape + share


def neighbour_mean(x: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Mean of each tile's neighbours' arrays (CSR adjacency); a tile without neighbours keeps
    its own array. One sparse (row-normalised adjacency) x dense product in torch."""
    import warnings

    import torch

    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    counts = np.diff(indptr)
    if n == 0 or counts.sum() == 0:
        return x.copy()
    weights = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        adjacency = torch.sparse_csr_tensor(
            torch.from_numpy(np.asarray(indptr, dtype=np.int64)),
            torch.from_numpy(np.asarray(indices, dtype=np.int64)),
            torch.from_numpy(weights),
            size=(n, n),
            check_invariants=True,
        )
        mean = (adjacency @ torch.from_numpy(x.reshape(n, -1))).numpy().reshape(x.shape)
    return np.where(counts.reshape((-1,) + (1,) * (x.ndim - 1)) > 0, mean, x)


def to_csr(neighbours: list[list[int]] | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists to CSR arrays ``(indptr (n+1,), indices)``; none -> no neighbours."""
    if neighbours is None:
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if len(neighbours) != n:
        raise ValueError(f"neighbours has {len(neighbours)} entries for {n} tiles")
    counts = np.fromiter((len(a) for a in neighbours), dtype=np.int64, count=n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = (
        np.concatenate([np.asarray(a, dtype=np.int64) for a in neighbours if len(a)])
        if indptr[-1]
        else np.zeros(0, dtype=np.int64)
    )
    if len(indices) and (indices.min() < 0 or indices.max() >= n):
        raise ValueError("neighbour indices must be positions 0..n-1")
    return indptr, indices
