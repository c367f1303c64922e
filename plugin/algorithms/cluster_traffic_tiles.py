"""Cluster mobile traffic tiles: spatial k-means or deep contrastive clustering of
service-traffic signatures."""

from __future__ import annotations

from ..columns import CLUSTER
from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

AUGMENTATIONS = (
    ("AUG_SHIFT", "small circular time shifts (up to SHIFT_HOURS)"),
    ("AUG_SCALE", "amplitude scaling"),
    ("AUG_JITTER", "jitter (noise)"),
    ("AUG_MASK_HOURS", "masking of hours"),
    ("AUG_MASK_SERVICES", "masking of services"),
    ("AUG_NEIGHBOUR_MIX", "mixing with a spatial neighbour's signature"),
)

TABLE = parameter_table("clustertraffictiles")


class ClusterTrafficTiles(UrbanSigAlgorithm):
    alg_id = "clustertraffictiles"
    title = "Cluster mobile traffic tiles"
    group_name = "Methods"
    group_key = "methods"
    task = "clustertraffictiles"
    table = TABLE
    styles = {"OUTPUT": StyleSpec("categorized", CLUSTER, opacity=0.9, no_data_label="No traffic")}
    one_of = (("TRAFFIC_FOLDER", "TRAFFIC_TABLE", "PROFILE_PREFIX"),)
    layer_labels = {"OUTPUT": "Clusters"}
    main_inputs = ("TILES", "CITY", "TRAFFIC_TABLE", "TRAFFIC_FOLDER")
    help = Help(
        "Groups 100 m tiles by the shape of their weekly mobile-service traffic (their "
        "'social signature'), not their volume. Two methods (METHOD): spatial k-means, the "
        "default, clusters each tile on what its signature shares with its neighbours' "
        "(canonical correlation analysis, then k-means); deep contrastive clustering trains "
        "augmented views of each tile and of a random neighbour (spatial contrast) through a "
        "time-series encoder with an instance-level and a cluster-level contrastive head, then "
        "refines the clusters from k-means prototypes. Spatial k-means is the default because "
        "it scored higher on the validation cities and on the held-out test cities "
        "(bench/RESULTS.md); the deep model is there to compare and for data where it wins. "
        "The number of clusters is chosen automatically unless given. Reports silhouette, "
        "Davies-Bouldin, spatial coherence and, with known labels, ARI/NMI/accuracy, for the "
        "method and beside it k-means, PCA + k-means, neighbour-smoothed k-means and (for "
        "the deep model) spatial k-means. A saved model labels another city's tiles without "
        "refitting.",
        *help_table(TABLE),
        paper="Hu et al., Spatio-temporal analysis of mobile service consumption for social "
        "signature clustering (NetMob 2023), on Contrastive Clustering (Li et al., AAAI 2021).",
        methods=(
            (
                "Spatial k-means",
                "each tile's normalised profile is reduced by PCA; canonical correlation "
                "analysis between it and the mean of its neighbours finds the directions in "
                "which a tile agrees with the tiles around it (their shared land use) rather "
                "than its own noise; the tiles' projections on the first "
                "CANONICAL_COMPONENTS directions, weighted by their correlations, are "
                "clustered by k-means. With N_CLUSTERS auto, K is the one in K_MIN..K_MAX "
                "with the highest Calinski-Harabasz index (between- over within-cluster "
                "dispersion).",
            ),
            (
                "NT-Xent",
                "normalised temperature-scaled cross entropy. Two views of the same item are a "
                "positive pair: their cosine similarity, divided by a temperature, goes "
                "through a softmax against the similarities to every other view in the "
                "batch, and the loss is the cross entropy of picking the partner.",
            ),
            (
                "Instance-level head",
                "NT-Xent over the rows of the feature matrix: each tile's two views are pulled "
                "together and pushed away from the other tiles (INSTANCE_TEMPERATURE). With "
                "SPATIAL the second view is a random neighbouring tile, so the model learns "
                "what adjacent tiles share rather than one tile's noise.",
            ),
            (
                "Cluster-level head",
                "NT-Xent over the columns of the soft cluster-assignment matrix: cluster k in "
                "one view is the positive of cluster k in the other (CLUSTER_TEMPERATURE), "
                "plus an entropy term (ENTROPY_WEIGHT) that keeps every cluster in use. "
                "These two heads are Contrastive Clustering (Li et al. 2021).",
            ),
            (
                "Refinement",
                "for the last quarter of the epochs the cluster head becomes K prototypes "
                "started by k-means on the learned representation; each tile's cluster is "
                "its most probable one and the confidence that probability.",
            ),
        ),
        example="qgis_process run urbansig:clustertraffictiles -- TRAFFIC_FOLDER=city/netmob "
        "CITY=Demoville TILES=city/tiles.gpkg LABEL_FIELD=land_use "
        "OUTPUT=clusters.gpkg REPORT=clusters.html",
    )
