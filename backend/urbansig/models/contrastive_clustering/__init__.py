"""Deep contrastive clustering of mobile-traffic tiles (Li et al. 2021, adapted to traffic).

Importable with torch and numpy alone: the benchmark machine has no geo stack.
"""

from urbansig.models.contrastive_clustering.augment import AugmentConfig, TrafficAugment
from urbansig.models.contrastive_clustering.model import METHOD, ClusterSettings, TrafficClusterer
from urbansig.models.contrastive_clustering.normalise import NORMALISATIONS, normalise_profiles

__all__ = [
    "METHOD",
    "NORMALISATIONS",
    "AugmentConfig",
    "ClusterSettings",
    "TrafficAugment",
    "TrafficClusterer",
    "normalise_profiles",
]
