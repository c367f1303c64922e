"""Fast vectorised text formatting of numeric tables (NetMob rows: an id, then values).

``np.savetxt`` formats value by value in Python; here numbers below ``LUT_SIZE`` (in units of
the last decimal) are looked up in a table of preformatted bytes, larger ones get their digits
by integer arithmetic, a whole block of rows at once; the byte matrix is then compacted
(padding bytes are 0). Several times faster than ``np.savetxt``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_ZERO, _DOT, _SPACE, _NEWLINE = ord("0"), ord("."), ord(" "), ord("\n")


def _digits_needed(values: np.ndarray) -> np.ndarray:
    """Number of decimal digits of each non-negative integer (at least 1)."""
    n = np.ones(values.shape, dtype=np.int64)
    bound = 10
    top = int(values.max(initial=0))
    while bound <= top:
        n += values >= bound
        bound *= 10
    return n


def _layout(values: np.ndarray, decimals: int, width: int) -> np.ndarray:
    """Bytes (rows, cols, width) of right-aligned numbers, 0 where nothing is written.

    ``values`` are non-negative integers equal to the number times ``10**decimals``. The last
    byte of each cell is left for the separator.
    """
    rows, cols = values.shape
    out = np.zeros((rows, cols, width), dtype=np.uint8)
    n_digits = np.maximum(_digits_needed(values), decimals + 1)
    rest = values.copy()
    pos = width - 2  # last character position before the separator
    for j in range(int(n_digits.max(initial=1))):
        if decimals and j == decimals:
            out[:, :, pos] = _DOT
            pos -= 1
        digit = (rest % 10).astype(np.uint8) + _ZERO
        out[:, :, pos] = np.where(j < n_digits, digit, 0)
        rest //= 10
        pos -= 1
    return out


LUT_SIZE = 1_000_000


@lru_cache(maxsize=4)
def _table(decimals: int) -> np.ndarray:
    """Preformatted bytes (LUT_SIZE, width) of 0 .. LUT_SIZE-1, each ending with a space."""
    width = len(str(LUT_SIZE - 1)) + (2 if decimals else 1)
    table = _layout(np.arange(LUT_SIZE, dtype=np.int64).reshape(-1, 1), decimals, width)[:, 0]
    table[:, -1] = _SPACE
    table.setflags(write=False)
    return table


def format_rows(ids: np.ndarray, values: np.ndarray, decimals: int = 1) -> bytes:
    """Lines ``id v1 v2 ...`` separated by single spaces, values with ``decimals`` decimals.

    ``values`` must be non-negative (shape (rows, cols)); ids non-negative integers.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1, 1)
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 10**decimals).astype(np.int64)
    if len(ids) == 0:
        return b""
    if scaled.min(initial=0) < 0 or ids.min() < 0:
        raise ValueError("format_rows writes non-negative numbers only")
    id_width = len(str(int(ids.max()))) + 1
    id_bytes = _layout(ids, 0, id_width)
    id_bytes[:, :, -1] = _SPACE
    if scaled.max(initial=0) < LUT_SIZE:
        value_bytes = _table(decimals)[scaled]
    else:
        value_width = len(str(int(scaled.max(initial=0)))) + (2 if decimals else 1) + 1
        value_bytes = _layout(scaled, decimals, value_width)
        value_bytes[:, :, -1] = _SPACE
    value_bytes[:, -1, -1] = _NEWLINE
    line = np.concatenate(
        [id_bytes.reshape(len(ids), -1), value_bytes.reshape(len(ids), -1)], axis=1
    )
    return line[line != 0].tobytes()


def write_rows(
    handle, ids: np.ndarray, values: np.ndarray, decimals: int = 1, block: int = 2048
) -> None:
    """Write ``format_rows`` output to a binary file handle, ``block`` rows at a time."""
    for start in range(0, len(ids), block):
        handle.write(
            format_rows(ids[start : start + block], values[start : start + block], decimals)
        )
