"""Cluster mobile traffic tiles: deep contrastive clustering of service-traffic signatures."""

from __future__ import annotations

from ..columns import CLUSTER
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm, help_html
from .params import HTML_FILTER, MODEL_FILTER, POLYGONS, Param, help_table

AUGMENTATIONS = (
    ("AUG_SHIFT", "small circular time shifts (up to SHIFT_HOURS)"),
    ("AUG_SCALE", "amplitude scaling"),
    ("AUG_JITTER", "jitter (noise)"),
    ("AUG_MASK_HOURS", "masking of hours"),
    ("AUG_MASK_SERVICES", "masking of services"),
    ("AUG_NEIGHBOUR_MIX", "mixing with a spatial neighbour's signature"),
)

TABLE = (
    Param(
        "TRAFFIC_FOLDER",
        "NetMob 2023 traffic folder",
        "folder",
        "root of a NetMob 2023 layout ({City}/{Service}/{YYYYMMDD}/..._DL.txt), read "
        "streaming and aggregated per tile",
        backend="inputs.input",
        optional=True,
    ),
    Param(
        "TRAFFIC_TABLE",
        "Traffic table (instead of a folder)",
        "file",
        "a long table tile_id, timestamp, service, value (CSV or Parquet)",
        backend="inputs.input",
        optional=True,
        file_filter="Tables (*.csv *.parquet)",
    ),
    Param(
        "CITY",
        "City",
        "string",
        "city folder in the NetMob folder (empty: the only one)",
        optional=True,
    ),
    Param(
        "TILES",
        "Tile layer",
        "vector",
        "tile polygons with tile_id (empty: the NetMob folder's {City}.geojson); with "
        "PROFILE_PREFIX, its fields hold the profiles",
        geometry=POLYGONS,
        optional=True,
    ),
    Param(
        "PROFILE_PREFIX",
        "Profile field prefix",
        "string",
        "use TILES fields starting with this as profiles instead of traffic files",
        optional=True,
        advanced=True,
    ),
    Param("SERVICES", "Services", "string", "comma-separated services (empty: all)", optional=True),
    Param(
        "DIRECTION",
        "Direction",
        "enum",
        "downlink, uplink or both (DL + UL)",
        options=("both", "DL", "UL"),
        default="both",
    ),
    Param(
        "LAYOUT",
        "Temporal profile",
        "enum",
        "weekly 7 x 24 (default), weekly 7 x 96, or daily 24",
        options=("weekly_hourly", "weekly_15min", "daily_hourly"),
        default="weekly_hourly",
    ),
    Param(
        "N_CLUSTERS",
        "Number of clusters",
        "string",
        "a number, or auto (chosen in K_MIN..K_MAX by stability across seeds and "
        "silhouette; the curve is in the report)",
        default="8",
    ),
    Param("K_MIN", "Smallest K for auto", "int", "", default=3, minimum=2, advanced=True),
    Param("K_MAX", "Largest K for auto", "int", "", default=10, minimum=2, advanced=True),
    Param(
        "EPOCHS",
        "Epochs",
        "int",
        "training epochs (the last quarter refines the clusters from k-means prototypes)",
        default=60,
        minimum=1,
    ),
    Param(
        "BATCH_SIZE", "Batch size", "int", "tiles per batch", default=256, minimum=8, advanced=True
    ),
    Param(
        "LR",
        "Learning rate",
        "float",
        "Adam learning rate",
        default=0.001,
        minimum=1e-6,
        maximum=1.0,
        advanced=True,
    ),
    Param(
        "INSTANCE_TEMPERATURE",
        "Instance temperature",
        "float",
        "NT-Xent temperature of the instance-level head",
        default=0.5,
        minimum=0.01,
        advanced=True,
    ),
    Param(
        "CLUSTER_TEMPERATURE",
        "Cluster temperature",
        "float",
        "temperature of the cluster-level head",
        default=1.0,
        minimum=0.01,
        advanced=True,
    ),
    Param(
        "ENTROPY_WEIGHT",
        "Entropy weight",
        "float",
        "weight of the cluster entropy term that prevents collapse while the representation "
        "trains (it also pushes towards equal cluster sizes: keep it small when classes are "
        "unequal; the refinement stage starts from k-means prototypes and drops it)",
        default=0.05,
        minimum=0.0,
        advanced=True,
    ),
    Param(
        "ENCODER",
        "Encoder",
        "enum",
        "dense: a time convolution then dense layers over the whole week (each hour keeps "
        "its own weights; best measured); small / large: residual 1-D CNNs pooled over time "
        "(large for a GPU)",
        options=("dense", "small", "large"),
        default="dense",
        advanced=True,
    ),
    Param(
        "NORMALISATION",
        "Per-tile normalisation",
        "enum",
        "keeps the signature, not the volume: the log weekly shape of each service plus its "
        "log share (service_shape), a log z-score per tile, or traffic shares",
        options=("service_shape", "log_zscore", "share"),
        default="service_shape",
        advanced=True,
    ),
    Param(
        "MAX_TRAIN_TILES",
        "Tiles per epoch",
        "int",
        "tiles sampled per epoch",
        default=8000,
        minimum=100,
        advanced=True,
    ),
    Param(
        "SPATIAL",
        "Spatial contrast",
        "bool",
        "the second view of each tile is a random neighbour's signature, so the model learns "
        "what adjacent tiles share (land use) rather than one tile's noise: spatially "
        "coherent clusters",
        default=True,
    ),
    Param(
        "NEIGHBOUR_CONTEXT",
        "Neighbour context input",
        "bool",
        "also feed each tile its neighbours' mean signature as extra input channels",
        default=False,
        advanced=True,
    ),
    Param(
        "SHIFT_HOURS",
        "Largest time shift (hours)",
        "float",
        "",
        default=1.0,
        minimum=0.0,
        advanced=True,
    ),
    *(
        Param(
            name,
            f"Augmentation: {text}",
            "bool",
            f"use {text}",
            default=name != "AUG_NEIGHBOUR_MIX",
            advanced=True,
        )
        for name, text in AUGMENTATIONS
    ),
    Param(
        "LABEL_FIELD",
        "Known labels (evaluation)",
        "field",
        "TILES field of known classes: ARI, NMI and accuracy are then reported",
        parent="TILES",
        optional=True,
    ),
    Param(
        "WRITE_EMBEDDINGS",
        "Write embedding columns",
        "bool",
        "emb_000 ... columns",
        default=False,
        advanced=True,
    ),
    Param(
        "MODEL",
        "Trained model (apply instead of training)",
        "file",
        "a model saved by this algorithm (e.g. on another city); its services and profile "
        "layout must match",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "OUTPUT",
        "Clustered tiles",
        "vector_out",
        "tiles with cluster, confidence and volume",
        geometry=POLYGONS,
        style=StyleSpec("categorized", CLUSTER, opacity=0.9),
    ),
    Param(
        "MODEL_FILE",
        "Trained model file",
        "file_out",
        "weights + JSON config (services, layout, K, normalisation, metrics)",
        backend="outputs.model_output",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "REPORT",
        "Report",
        "file_out",
        "cluster profiles per service, sizes, t-SNE of the latent space, training curves, "
        "metrics against k-means baselines",
        optional=True,
        file_filter=HTML_FILTER,
    ),
)


class ClusterTrafficTiles(UrbanSigAlgorithm):
    alg_id = "clustertraffictiles"
    title = "Cluster mobile traffic tiles"
    group_name = "Methods"
    group_key = "methods"
    task = "clustertraffictiles"
    table = TABLE
    one_of = (("TRAFFIC_FOLDER", "TRAFFIC_TABLE", "PROFILE_PREFIX"),)
    help = help_html(
        "Groups 100 m tiles by the shape of their weekly mobile-service traffic (their "
        "'social signature'), not their volume, with deep contrastive clustering: augmented "
        "views of each tile and of a random neighbour (spatial contrast), a time-series "
        "encoder over services x time, an instance-level and a cluster-level contrastive "
        "head, then a refinement of the clusters from k-means prototypes. Reports silhouette, "
        "Davies-Bouldin, spatial coherence and, with known labels, ARI/NMI/accuracy, beside "
        "k-means and PCA + k-means baselines. A saved model labels another city's tiles "
        "without retraining.",
        *help_table(TABLE),
        paper="Hu et al., Spatio-temporal analysis of mobile service consumption for social "
        "signature clustering (NetMob 2023), on Contrastive Clustering (Li et al., AAAI 2021).",
        example="qgis_process run urbansig:clustertraffictiles -- TRAFFIC_FOLDER=city/netmob "
        "CITY=Demoville TILES=city/tiles.gpkg N_CLUSTERS=7 LABEL_FIELD=land_use "
        "OUTPUT=clusters.gpkg REPORT=clusters.html",
    )
