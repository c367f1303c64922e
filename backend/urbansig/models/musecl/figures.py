"""Report figures: training curves per stage, and the PCA + k-means map (paper Figure 5).

matplotlib and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def training_curves(histories: dict[str, Any]) -> Any:
    """One panel per stage (triplet loss per encoder, InfoNCE for the fusion)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(histories)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        loss = histories[name].train_loss
        ax.plot(np.arange(1, len(loss) + 1), loss, marker="o", ms=3)
        ax.set_title(f"{name} ({'InfoNCE' if name == 'fusion' else 'triplet'})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("training loss")
    fig.tight_layout()
    return fig


def pca_kmeans(
    embedding: np.ndarray, valid: np.ndarray, n_clusters: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """PCA (2 components) and k-means labels of the valid rows; -1 / NaN for the others."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    labels = np.full(len(embedding), -1, dtype=np.int64)
    coords = np.full((len(embedding), 2), np.nan)
    rows = np.flatnonzero(valid)
    k = min(n_clusters, len(rows))
    if k < 1:
        return labels, coords
    x = embedding[rows]
    n_comp = min(2, x.shape[1], len(rows))
    reduced = PCA(n_components=n_comp, random_state=seed).fit_transform(x)
    coords[rows, :n_comp] = reduced
    labels[rows] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return labels, coords


def cluster_map(regions: Any, labels: np.ndarray, pca: np.ndarray) -> Any:
    """Regions coloured by cluster (left) and the embedding's first two PCs (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_map, ax_pca) = plt.subplots(1, 2, figsize=(10, 4.5))
    cmap = plt.get_cmap("viridis", max(int(labels.max()) + 1, 1))
    frame = regions.assign(_cluster=labels)
    nodata = frame[frame["_cluster"] < 0]
    if len(nodata):
        nodata.plot(ax=ax_map, color="#dddddd", edgecolor="white", linewidth=0.2)
    frame[frame["_cluster"] >= 0].plot(
        ax=ax_map, column="_cluster", cmap=cmap, edgecolor="white", linewidth=0.2
    )
    ax_map.set_title("k-means clusters of the embedding")
    ax_map.set_axis_off()
    ok = labels >= 0
    ax_pca.scatter(pca[ok, 0], pca[ok, 1], c=labels[ok], cmap=cmap, s=8)
    ax_pca.set_xlabel("PC 1")
    ax_pca.set_ylabel("PC 2")
    ax_pca.set_title("embedding, first two principal components")
    fig.tight_layout()
    return fig


def ablation_chart(rows: list[dict[str, Any]], indicator: str) -> Any:
    """Bar chart of R2 per variant (as the paper's Figure 6), one bar group per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(r["variant"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.1 * len(variants) + 2, 3.2))
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        values = [
            next((r["r2_mean"] for r in rows if r["variant"] == v and r["model"] == model), 0)
            for v in variants
        ]
        ax.bar(np.arange(len(variants)) + j * width, values, width, label=model)
    ax.set_xticks(np.arange(len(variants)) + 0.4 - width / 2)
    ax.set_xticklabels(variants, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"R2 ({indicator}, log)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
