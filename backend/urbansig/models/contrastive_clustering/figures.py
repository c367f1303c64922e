"""The clustering report: cluster profiles, sizes, t-SNE of the latent space, training
curves, the metrics table with the baselines and the auto-K curve (matplotlib, Agg)."""

from __future__ import annotations

from typing import Any

import numpy as np

from urbansig.models.contrastive_clustering.normalise import normalise_profiles

TSNE_SAMPLE = 2000


def build_report(model: Any, values: np.ndarray, result: Any, seed: int = 0) -> Any:
    """A :class:`urbansig.report.Report` describing a clustering run: ``model`` (either
    method) on raw profiles ``values``; ``result`` holds labels, reps, probs, the comparison
    rows and the curve of the choice of K."""
    import matplotlib

    matplotlib.use("Agg")
    from urbansig.report import Report

    labels, reps, probs, curve = result.labels, result.reps, result.probs, result.curve
    report = Report("Cluster mobile traffic tiles")
    report.paragraph(
        f"{len(labels)} tiles, {len(model.services)} services, layout {model.layout}, "
        f"K = {model.n_clusters}, normalisation {model.normalisation}. {model.describe()}"
    )
    report.section(f"Metrics ({result.rows[0]['method']}, whose clusters are written, first)")
    report.table(
        result.rows,
        "Silhouette / Davies-Bouldin in each method's feature space; coherence: "
        "share of neighbour pairs in the same cluster (random: permuted labels).",
    )
    if curve:
        report.section("Choice of K")
        report.table(curve, model.k_score)
        report.figure(_curve_figure(curve), "auto_k", "Scores per K (the highest score wins)")
    report.section("Clusters")
    report.figure(_sizes_figure(labels, model.n_clusters), "sizes", "Tiles per cluster")
    report.figure(
        _profiles_figure(values, labels, model),
        "profiles",
        "Mean normalised weekly profile of each cluster, one line per service",
    )
    report.section("Latent space")
    report.figure(_tsne_figure(reps, labels, seed), "tsne", "t-SNE of a sample of tiles")
    history = getattr(model, "history", None)
    if history is not None and history.train_loss:
        report.section("Training")
        report.figure(_training_figure(history), "training", "Losses per epoch")
        report.table([model.training_summary])
    confidence = probs.max(axis=1)
    report.paragraph(
        f"Mean confidence {confidence.mean():.3f}; {np.mean(confidence < 0.5):.1%} of tiles "
        "below 0.5."
    )
    return report


def _sizes_figure(labels: np.ndarray, k: int) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(np.arange(k), np.bincount(labels, minlength=k), color=_colours(k))
    ax.set_xlabel("cluster")
    ax.set_ylabel("tiles")
    ax.set_xticks(np.arange(k))
    return fig


def _profiles_figure(values: np.ndarray, labels: np.ndarray, model: Any) -> Any:
    import matplotlib.pyplot as plt

    k = model.n_clusters
    cols = min(k, 4)
    rows = -(-k // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False, sharex=True, sharey=True
    )
    sums = np.zeros((k, *values.shape[1:]))
    for start in range(0, len(values), 20_000):
        block = normalise_profiles(values[start : start + 20_000], model.normalisation)
        np.add.at(sums, labels[start : start + 20_000], block)
    counts = np.bincount(labels, minlength=k)
    steps = values.shape[2]
    for c in range(k):
        ax = axes[c // cols][c % cols]
        if counts[c]:
            for s, name in enumerate(model.services):
                ax.plot(np.arange(steps), sums[c, s] / counts[c], lw=0.8, label=name)
        ax.set_title(f"cluster {c} ({counts[c]} tiles)", fontsize=9)
        for day in range(1, 7 if steps % 7 == 0 else 1):
            ax.axvline(day * steps / 7, color="#ccc", lw=0.5)
    for c in range(k, rows * cols):
        axes[c // cols][c % cols].axis("off")
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=min(8, len(names)), fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def _tsne_figure(reps: np.ndarray, labels: np.ndarray, seed: int) -> Any:
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(reps), min(TSNE_SAMPLE, len(reps)), replace=False)
    perplexity = float(min(30, max(2, (len(pick) - 1) / 3)))
    xy = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(
        reps[pick].astype(np.float64)
    )
    fig, ax = plt.subplots(figsize=(5, 5))
    k = int(labels.max()) + 1
    colours = np.asarray(_colours(k))
    ax.scatter(xy[:, 0], xy[:, 1], s=4, c=colours[labels[pick]])
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _training_figure(history: Any) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax.plot(epochs, history.train_loss, label="total", color="black")
    for key in history.parts[0] if history.parts else []:
        ax.plot(epochs, [p[key] for p in history.parts], label=key, lw=0.9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    return fig


def _curve_figure(curve: list[dict[str, float]]) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ks = [row["k"] for row in curve]
    keys = [key for key in curve[0] if key not in ("k", "used_clusters")]
    for key in keys:
        values = np.array([row[key] for row in curve], dtype=float)
        span = np.ptp(values) or 1.0
        ax.plot(ks, (values - values.min()) / span, marker="o", label=key)
    ax.set_ylabel("scaled to 0-1")
    ax.set_xlabel("K")
    ax.legend(fontsize=8)
    return fig


def _colours(k: int) -> list[Any]:
    """Cluster i's colour, the same as on the QGIS map (urbansig.columns.CLASS_PALETTE)."""
    from urbansig.columns import CLASS_PALETTE

    return [CLASS_PALETTE[i % len(CLASS_PALETTE)] for i in range(k)]
