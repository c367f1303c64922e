"""Report figures of the indicator predictor (matplotlib imported on use)."""

from __future__ import annotations

from typing import Any

import numpy as np


def scatter_figure(
    y_true: np.ndarray, y_pred: np.ndarray, parts: np.ndarray, log_target: bool, target: str
) -> Any:
    """Predicted against true with the 45-degree line (MuseCL Figure 4).

    ``parts`` holds "train", "validation" or "test" per point; on log scale when
    ``log_target``, with the R2 of the validation and test points in the legend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from urbansig.evaluation import regression_metrics

    f = np.log1p if log_target else (lambda v: np.asarray(v, dtype=float))
    t, p = f(np.asarray(y_true, dtype=float)), f(np.maximum(y_pred, 0) if log_target else y_pred)
    fig, ax = plt.subplots(figsize=(5.2, 5))
    styles = {"train": ("#bbbbbb", 12), "validation": ("#1f77b4", 22), "test": ("#8e44ad", 22)}
    for name, (colour, size) in styles.items():
        sel = parts == name
        if not sel.any():
            continue
        label = f"{name} (n={int(sel.sum())})"
        if name != "train" and sel.sum() > 1 and np.ptp(t[sel]) > 0:
            label += f", R² = {regression_metrics(t[sel], p[sel])['r2']:.3f}"
        ax.scatter(t[sel], p[sel], s=size, c=colour, alpha=0.8, label=label, edgecolors="none")
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ":", c="k", lw=1)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    scale = "log(1 + {})" if log_target else "{}"
    ax.set_xlabel("true " + scale.format(target))
    ax.set_ylabel("predicted " + scale.format(target))
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def residual_map(frame: Any, residual: np.ndarray, label: str) -> Any:
    """Region polygons coloured by residual (diverging, centred on 0); unknown in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    residual = np.asarray(residual, dtype=float)
    known = np.isfinite(residual)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if (~known).any():
        frame[~known].plot(ax=ax, color="#e6e6e6", edgecolor="#bbbbbb", linewidth=0.2)
    if known.any():
        limit = float(np.quantile(np.abs(residual[known]), 0.98)) or 1.0
        shown = frame[known].assign(_residual=np.clip(residual[known], -limit, limit))
        shown.plot(
            ax=ax,
            column="_residual",
            cmap="RdBu_r",
            norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit),
            edgecolor="#666666",
            linewidth=0.2,
            legend=True,
            legend_kwds={"label": label, "shrink": 0.7},
        )
    ax.set_axis_off()
    return fig
