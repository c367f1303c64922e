"""Embed regions (MuseCL): multi-semantic contrastive region embeddings."""

from __future__ import annotations

from ..columns import REGION_ID
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm, help_html
from .params import HTML_FILTER, MODEL_FILTER, POINTS, POLYGONS, Param, help_table

TABLE = (
    Param(
        "REGIONS",
        "Region layer",
        "vector",
        "any polygons: H3 cells, tracts, tiles",
        geometry=POLYGONS,
    ),
    Param(
        "ID_FIELD",
        "Region id field",
        "field",
        "",
        parent="REGIONS",
        default=REGION_ID,
        optional=True,
    ),
    Param(
        "RASTER",
        "Remote-sensing raster",
        "raster",
        "any bands, any resolution; cropped per region (regions are reprojected to it)",
        optional=True,
    ),
    Param(
        "STREETVIEW",
        "Street-view points",
        "vector",
        "points with an image path field; several images per region",
        geometry=POINTS,
        optional=True,
    ),
    Param(
        "IMAGE_FIELD",
        "Image path field",
        "field",
        "paths absolute or relative to the layer's folder",
        parent="STREETVIEW",
        default="path",
        optional=True,
    ),
    Param(
        "POIS",
        "POIs",
        "vector",
        "points with a category and optional text fields",
        geometry=POINTS,
        optional=True,
    ),
    Param(
        "CATEGORY_FIELD",
        "POI category field",
        "field",
        "",
        parent="POIS",
        default="category",
        optional=True,
    ),
    Param(
        "TEXT_FIELDS",
        "POI text fields",
        "fields",
        "words for the skip-gram POI vectors besides the category",
        parent="POIS",
        default="text",
        optional=True,
    ),
    Param(
        "OD",
        "Origin-destination flows",
        "file",
        "a table origin, destination, count (CSV or Parquet) keyed by region id",
        optional=True,
        file_filter="Tables (*.csv *.parquet)",
    ),
    Param("OD_ORIGIN", "OD origin field", "string", "", default="origin", advanced=True),
    Param(
        "OD_DESTINATION", "OD destination field", "string", "", default="destination", advanced=True
    ),
    Param(
        "OD_COUNT",
        "OD count field",
        "string",
        "empty: count, flow, trips or value",
        optional=True,
        advanced=True,
    ),
    Param(
        "IN_FIELD",
        "Inflow field (instead of OD)",
        "field",
        "",
        parent="REGIONS",
        numeric=True,
        optional=True,
        advanced=True,
    ),
    Param(
        "OUT_FIELD",
        "Outflow field (instead of OD)",
        "field",
        "",
        parent="REGIONS",
        numeric=True,
        optional=True,
        advanced=True,
    ),
    Param(
        "MODALITIES",
        "Modalities",
        "string",
        "comma list among rs, sv, flow, poi_counts, poi_text (empty: all that are given; "
        "at least two)",
        optional=True,
        advanced=True,
    ),
    Param("DIM", "Embedding size", "int", "", default=128, minimum=2, maximum=4096),
    Param(
        "EPOCHS_IMAGE", "Epochs per image encoder", "int", "", default=5, minimum=1, advanced=True
    ),
    Param(
        "EPOCHS_TABULAR",
        "Epochs per tabular encoder",
        "int",
        "",
        default=40,
        minimum=1,
        advanced=True,
    ),
    Param(
        "EPOCHS_FUSION",
        "Epochs of the fusion stage",
        "int",
        "",
        default=20,
        minimum=1,
        advanced=True,
    ),
    Param("EPOCHS_TEXT", "Skip-gram epochs", "int", "", default=10, minimum=1, advanced=True),
    Param(
        "BATCH_IMAGE", "Image triplets per batch", "int", "", default=32, minimum=2, advanced=True
    ),
    Param(
        "BATCH_TABULAR",
        "Tabular triplets per batch",
        "int",
        "",
        default=128,
        minimum=2,
        advanced=True,
    ),
    Param(
        "BATCH_FUSION",
        "Regions per InfoNCE batch",
        "int",
        "",
        default=128,
        minimum=2,
        advanced=True,
    ),
    Param(
        "LR",
        "Learning rate",
        "float",
        "of the image encoders (paper: 5e-4)",
        default=0.0005,
        minimum=1e-6,
        maximum=1.0,
        advanced=True,
    ),
    Param(
        "MARGIN",
        "Triplet margin",
        "float",
        "cosine triplet margin",
        default=0.5,
        minimum=0.0,
        advanced=True,
    ),
    Param(
        "TEMPERATURE", "InfoNCE temperature", "float", "", default=0.1, minimum=0.001, advanced=True
    ),
    Param(
        "IMAGE_SIZE",
        "Image size",
        "int",
        "pixels (street view needs at least 75)",
        default=80,
        minimum=16,
        advanced=True,
    ),
    Param(
        "ENCODER_SIZE",
        "Encoder size",
        "enum",
        "small (CPU) or full (torchvision ResNet-18 / Inception-v3 layouts)",
        options=("small", "full"),
        default="small",
        advanced=True,
    ),
    Param(
        "FINETUNE_HEADS",
        "Fine-tune encoder projections in fusion",
        "enum",
        "true also trains the encoders' output layers during fusion (the public code); "
        "false keeps the stage-1 embeddings",
        options=("true", "false"),
        default="false",
        advanced=True,
    ),
    Param(
        "PROJECTION_HEAD",
        "InfoNCE on a projection head",
        "enum",
        "true: InfoNCE aligns a projection g(h) of the fused embedding h, and h is the output "
        "(as SimCLR); false: the paper-literal alignment of h itself",
        options=("true", "false"),
        default="true",
        advanced=True,
    ),
    Param(
        "MODALITY_MAPS",
        "Map each modality before fusion",
        "enum",
        "true: each fused modality goes through its own learned (residual MLP) map into the "
        "fused space before the attention; false: the paper-literal weighted sum of the "
        "embeddings as they are",
        options=("true", "false"),
        default="true",
        advanced=True,
    ),
    Param(
        "BETA_ENTROPY",
        "Attention entropy weight",
        "float",
        "keeps the attention from collapsing onto one modality; 0 follows the paper",
        default=3.0,
        minimum=0.0,
        advanced=True,
    ),
    Param(
        "FUSION_TRIPLET_WEIGHT",
        "Triplet weight during fusion",
        "float",
        "0 follows the paper",
        default=0.0,
        minimum=0.0,
        advanced=True,
    ),
    Param(
        "IMAGES_PER_EPOCH",
        "Anchor images per epoch",
        "int",
        "",
        default=1024,
        minimum=16,
        advanced=True,
    ),
    Param(
        "RS_WEIGHTS",
        "Remote-sensing encoder weights",
        "file",
        "a torchvision resnet18 state dict you supply (nothing is downloaded)",
        optional=True,
        advanced=True,
        file_filter="PyTorch weights (*.pt *.pth)",
    ),
    Param(
        "SV_WEIGHTS",
        "Street-view encoder weights",
        "file",
        "a torchvision inception_v3 state dict you supply",
        optional=True,
        advanced=True,
        file_filter="PyTorch weights (*.pt *.pth)",
    ),
    Param(
        "N_CLUSTERS",
        "Clusters in the report map",
        "int",
        "k-means clusters of the PCA of the embedding (as the paper's Figure 5)",
        default=3,
        minimum=2,
        advanced=True,
    ),
    Param(
        "ABLATION_FIELD",
        "Ablation indicator",
        "field",
        "run the ablation (single modalities, sum, concatenation, MuseCL) scored by "
        "predicting this REGIONS field",
        parent="REGIONS",
        numeric=True,
        optional=True,
    ),
    Param("ABLATION_REPEATS", "Ablation repeats", "int", "", default=3, minimum=1, advanced=True),
    Param(
        "ABLATION_MODELS",
        "Ablation predictors",
        "string",
        "comma list of mlp, ridge, gbm",
        default="mlp,ridge",
        advanced=True,
    ),
    Param(
        "MODEL",
        "Trained model (apply instead of training)",
        "file",
        "a model saved by this algorithm, to embed new regions",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "OUTPUT",
        "Embedded regions",
        "vector_out",
        "regions with emb_000 ..., the modality weights and counts of images and POIs used",
        geometry=POLYGONS,
        style=StyleSpec("categorized", "cluster"),
    ),
    Param(
        "MODEL_FILE",
        "Trained model file",
        "file_out",
        "weights + config",
        backend="outputs.output_model",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Param(
        "REPORT",
        "Report",
        "file_out",
        "training curves per stage, PCA + k-means map, ablation table",
        backend="outputs.output_report",
        optional=True,
        file_filter=HTML_FILTER,
    ),
)


class EmbedRegionsMuseCL(UrbanSigAlgorithm):
    alg_id = "embedregionsmusecl"
    title = "Embed regions (MuseCL)"
    group_name = "Methods"
    group_key = "methods"
    task = "embedregionsmusecl"
    table = TABLE
    help = help_html(
        "Learns a region embedding from the modalities you have (at least two): remote-"
        "sensing crops and street-view images trained with triplets chosen by POI and "
        "mobility similarity, skip-gram POI text vectors, flow profiles and POI counts, fused "
        "by attention (per-region modality weights are outputs) and aligned with InfoNCE. "
        "Chain it with Predict indicator.",
        *help_table(TABLE),
        paper="Yong et al., MuseCL: Predicting Urban Socioeconomic Indicators via "
        "Multi-Semantic Contrastive Learning (IJCAI 2024).",
        example="qgis_process run urbansig:embedregionsmusecl -- REGIONS=city/regions.gpkg "
        "RASTER=city/remote_sensing.tif STREETVIEW=city/streetview.gpkg POIS=city/pois.gpkg "
        "OD=city/od_flows.csv OUTPUT=embedded.gpkg REPORT=musecl.html",
    )
