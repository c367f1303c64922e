"""MuseCL (Yong & Zhou, IJCAI 2024): multi-semantic contrastive region embeddings.

Stage 1 trains one encoder per modality with a cosine triplet loss whose pairs come from
another modality's similarity (remote sensing by POI distribution, street view by mobility);
stage 2 fuses the encoders' embeddings with the paper's attention (c, M, b) and aligns the
fused vector to the regions' POI text vectors (skip-gram) with InfoNCE.
"""

from urbansig.models.musecl.model import MODALITIES, MuseCL, MuseCLConfig, RegionData

__all__ = ["MODALITIES", "MuseCL", "MuseCLConfig", "RegionData"]
