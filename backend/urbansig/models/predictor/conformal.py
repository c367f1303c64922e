"""Split-conformal prediction intervals from held-out (validation) residuals."""

from __future__ import annotations

import math

import numpy as np


def conformal_halfwidth(residuals: np.ndarray, coverage: float) -> tuple[float, bool]:
    """The half-width q of a symmetric interval with marginal coverage >= ``coverage``.

    q is the ceil((n + 1) * coverage)-th smallest absolute calibration residual
    (Lei et al. 2018). Returns ``(q, exact)``; ``exact`` is False when there are too few
    residuals for that rank, in which case q is the largest residual and the guarantee
    does not hold.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), not {coverage}")
    scores = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    n = len(scores)
    if n == 0:
        raise ValueError("no calibration residuals")
    rank = math.ceil((n + 1) * coverage - 1e-9)  # 10 * 0.9 is 9.000000000000002
    if rank > n:
        return float(scores[-1]), False
    return float(scores[rank - 1]), True


def min_calibration_size(coverage: float) -> int:
    """The fewest calibration residuals for which :func:`conformal_halfwidth` is exact."""
    return math.ceil(coverage / (1.0 - coverage) - 1e-9)
