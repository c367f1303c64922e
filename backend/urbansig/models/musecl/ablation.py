"""Ablation (paper Table 1 / Figure 6): single modalities, sum, concatenation, full MuseCL.

Every variant is scored by predicting an indicator with the shared predictor's
``evaluate_features`` (same splits and seeds for every variant), R2 and RMSE on log scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def ablation_variants(result: dict[str, Any], fused: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Feature matrices per variant from :meth:`MuseCL.transform`'s result.

    ``single: m`` for each modality (encoders' stage-1 embeddings, POI text vectors),
    ``sum`` (sum of the fused modalities' embeddings, the paper's Add), ``concat`` (every
    modality side by side, the paper's Concat), ``concat_fused`` (the fused modalities side
    by side: the same inputs as the fusion; only when they are not every modality) and
    ``musecl`` (the fused embedding).
    """
    per = result["modalities"]
    variants = {f"single: {m}": per[m] for m in per}
    if len(fused) > 1:
        variants["sum"] = np.sum([per[m] for m in fused], axis=0)
    if len(per) > 1:
        variants["concat"] = np.concatenate([per[m] for m in per], axis=1)
    if 1 < len(fused) < len(per):
        variants["concat_fused"] = np.concatenate([per[m] for m in fused], axis=1)
    variants["musecl"] = result["embedding"]
    return variants


def run_ablation(
    variants: dict[str, np.ndarray],
    target: np.ndarray,
    coords: np.ndarray | None = None,
    split: str = "random",
    repeats: int = 3,
    seed: int = 0,
    models: tuple[str, ...] = ("mlp", "ridge"),
    events: Any = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """One row per variant and predictor model: r2/rmse mean and std (log scale)."""
    from urbansig.models.predictor import evaluate_features

    rows = []
    for i, (name, features) in enumerate(variants.items()):
        if events is not None:
            events.check_cancelled()
            events.progress(i / len(variants), f"ablation: {name}")
        results = evaluate_features(
            features,
            target,
            coords=coords,
            split=split,
            repeats=repeats,
            seed=seed,
            models=models,
            log_target=True,
            **options,
        )
        for row in results:
            rows.append(
                {
                    "variant": name,
                    "model": row["model"],
                    "r2_mean": row["r2_mean"],
                    "r2_std": row["r2_std"],
                    "rmse_mean": row["rmse_mean"],
                    "rmse_std": row["rmse_std"],
                }
            )
    return rows
