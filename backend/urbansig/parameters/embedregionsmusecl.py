"""Parameters of ``embedregionsmusecl``."""

from urbansig.parameters import HTML_FILTER, MODEL_FILTER, Parameter

PARAMETERS = (
    Parameter(
        "REGIONS",
        "Regions (layer or table)",
        "vector",
        help="any polygons (H3 cells, tracts, tiles), or a plain table of region ids for the "
        "non-image modalities (OD, VIEWS, IN_FIELD/OUT_FIELD)",
        geometry="table",
    ),
    Parameter(
        "ID_FIELD", "Region id field", "field", default="region_id", optional=True, parent="REGIONS"
    ),
    Parameter(
        "RASTER",
        "Remote-sensing raster",
        "raster",
        help="any bands, any resolution; cropped per region (regions are reprojected to it)",
        optional=True,
    ),
    Parameter(
        "STREETVIEW",
        "Street-view points",
        "vector",
        help="points with an image path field; several images per region",
        optional=True,
        geometry="point",
    ),
    Parameter(
        "IMAGE_FIELD",
        "Image path field",
        "field",
        help="paths absolute or relative to the layer's folder",
        default="path",
        optional=True,
        parent="STREETVIEW",
    ),
    Parameter(
        "POIS",
        "POIs",
        "vector",
        help="points with a category and optional text fields",
        optional=True,
        geometry="point",
    ),
    Parameter(
        "CATEGORY_FIELD",
        "POI category field",
        "field",
        default="category",
        optional=True,
        parent="POIS",
    ),
    Parameter(
        "TEXT_FIELDS",
        "POI text fields",
        "fields",
        help="words for the skip-gram POI vectors besides the category",
        default="text",
        optional=True,
        parent="POIS",
    ),
    Parameter(
        "OD",
        "Origin-destination flows",
        "file",
        help="a table origin, destination, count (CSV or Parquet) keyed by region id",
        optional=True,
        file_filter="Tables (*.csv *.parquet)",
    ),
    Parameter(
        "FLOW_ENCODER",
        "Flow encoder",
        "enum",
        help="structure: the flows are encoded from who goes where (the OD-structure encoder of "
        "Embed regions from mobility flows, trained on the OD table); totals: from each "
        "region's inflow and outflow only (the paper; always so with IN_FIELD/OUT_FIELD)",
        default="structure",
        choices=("structure", "totals"),
        choice_labels=("OD structure (who goes where)", "In/out totals (the paper)"),
        advanced=True,
    ),
    Parameter(
        "PAIR_SEARCH",
        "Contrastive pair search",
        "enum",
        help="how each region's most similar regions (its positives) are found: auto "
        "(exact up to 50,000 regions, approximate above), exact (every distance: time grows "
        "with the square of the regions) or approximate (an HNSW graph index, faiss)",
        default="auto",
        choices=("auto", "exact", "approximate"),
        advanced=True,
    ),
    Parameter("OD_ORIGIN", "OD origin field", "string", default="origin", advanced=True),
    Parameter(
        "OD_DESTINATION", "OD destination field", "string", default="destination", advanced=True
    ),
    Parameter(
        "OD_COUNT",
        "OD count field",
        "string",
        help="empty: count, flow, trips or value",
        optional=True,
        advanced=True,
    ),
    Parameter(
        "IN_FIELD",
        "Inflow field (instead of OD)",
        "field",
        optional=True,
        advanced=True,
        parent="REGIONS",
        numeric=True,
    ),
    Parameter(
        "OUT_FIELD",
        "Outflow field (instead of OD)",
        "field",
        optional=True,
        advanced=True,
        parent="REGIONS",
        numeric=True,
    ),
    Parameter(
        "VIEWS",
        "Per-region count tables",
        "layers",
        help="optional tables keyed by ID_FIELD (POI counts per category without points, "
        "land-use classes, census fields); each table is one modality named after it",
        optional=True,
    ),
    Parameter(
        "MODALITIES",
        "Modalities",
        "string",
        help="comma list among rs, sv, flow, poi_counts, poi_text and the VIEWS tables' names "
        "(empty: all that are given; at least two)",
        optional=True,
        advanced=True,
    ),
    Parameter("DIM", "Embedding size", "int", default=128, minimum=2, maximum=4096),
    Parameter(
        "EPOCHS_IMAGE", "Epochs per image encoder", "int", default=5, advanced=True, minimum=1
    ),
    Parameter(
        "EPOCHS_TABULAR", "Epochs per tabular encoder", "int", default=40, advanced=True, minimum=1
    ),
    Parameter(
        "EPOCHS_FUSION", "Epochs of the fusion stage", "int", default=20, advanced=True, minimum=1
    ),
    Parameter("EPOCHS_TEXT", "Skip-gram epochs", "int", default=10, advanced=True, minimum=1),
    Parameter(
        "BATCH_IMAGE", "Image triplets per batch", "int", default=32, advanced=True, minimum=2
    ),
    Parameter(
        "BATCH_TABULAR", "Tabular triplets per batch", "int", default=128, advanced=True, minimum=2
    ),
    Parameter(
        "BATCH_FUSION", "Regions per InfoNCE batch", "int", default=128, advanced=True, minimum=2
    ),
    Parameter(
        "LR",
        "Learning rate",
        "float",
        help="of the image encoders (paper: 5e-4)",
        default=0.0005,
        advanced=True,
        minimum=1e-06,
        maximum=1.0,
    ),
    Parameter(
        "MARGIN",
        "Triplet margin",
        "float",
        help="cosine triplet margin",
        default=0.5,
        advanced=True,
        minimum=0.0,
    ),
    Parameter(
        "TEMPERATURE", "InfoNCE temperature", "float", default=0.1, advanced=True, minimum=0.001
    ),
    Parameter(
        "IMAGE_SIZE",
        "Image size",
        "int",
        help="pixels (street view needs at least 75)",
        default=80,
        advanced=True,
        minimum=16,
    ),
    Parameter(
        "ENCODER_SIZE",
        "Encoder size",
        "enum",
        help="small (CPU) or full (torchvision ResNet-18 / Inception-v3 layouts)",
        default="small",
        advanced=True,
        choices=("small", "full"),
    ),
    Parameter(
        "FINETUNE_HEADS",
        "Fine-tune encoder projections in fusion",
        "bool",
        help="checked: the fusion stage also trains the encoders' output layers (the public "
        "code); unchecked: it keeps the stage-1 embeddings as they are",
        default=False,
        advanced=True,
    ),
    Parameter(
        "PROJECTION_HEAD",
        "InfoNCE on a projection head",
        "bool",
        help="checked: InfoNCE aligns a projection g(h) of the fused embedding h, and h is "
        "the output (as SimCLR); unchecked: the paper-literal alignment of h itself",
        default=True,
        advanced=True,
    ),
    Parameter(
        "MODALITY_MAPS",
        "Map each modality before fusion",
        "bool",
        help="checked: each fused modality goes through its own learned (residual MLP) map "
        "into the fused space before the attention; unchecked: the paper-literal weighted "
        "sum of the embeddings as they are",
        default=True,
        advanced=True,
    ),
    Parameter(
        "BETA_ENTROPY",
        "Attention entropy weight",
        "float",
        help="keeps the attention from collapsing onto one modality; 0 follows the paper",
        default=3.0,
        advanced=True,
        minimum=0.0,
    ),
    Parameter(
        "FUSION_TRIPLET_WEIGHT",
        "Triplet weight during fusion",
        "float",
        help="0 follows the paper",
        default=0.0,
        advanced=True,
        minimum=0.0,
    ),
    Parameter(
        "IMAGES_PER_EPOCH",
        "Anchor images per epoch",
        "int",
        default=1024,
        advanced=True,
        minimum=16,
    ),
    Parameter(
        "RS_WEIGHTS",
        "Remote-sensing encoder weights",
        "file",
        help="a torchvision resnet18 state dict you supply (nothing is downloaded)",
        optional=True,
        advanced=True,
        file_filter="PyTorch weights (*.pt *.pth)",
    ),
    Parameter(
        "SV_WEIGHTS",
        "Street-view encoder weights",
        "file",
        help="a torchvision inception_v3 state dict you supply",
        optional=True,
        advanced=True,
        file_filter="PyTorch weights (*.pt *.pth)",
    ),
    Parameter(
        "N_CLUSTERS",
        "Clusters in the report map",
        "int",
        help="k-means clusters of the PCA of the embedding (as the paper's Figure 5)",
        default=3,
        advanced=True,
        minimum=2,
    ),
    Parameter(
        "ABLATION_FIELD",
        "Ablation indicator",
        "field",
        help="run the ablation (single modalities, sum, concatenation, MuseCL) scored by predicting this REGIONS field",
        optional=True,
        parent="REGIONS",
        numeric=True,
    ),
    Parameter("ABLATION_REPEATS", "Ablation repeats", "int", default=3, advanced=True, minimum=1),
    Parameter(
        "ABLATION_MODELS",
        "Ablation predictors",
        "string",
        help="comma list of mlp, ridge, gbm",
        default="mlp,ridge",
        advanced=True,
    ),
    Parameter(
        "MODEL",
        "Trained model (apply instead of training)",
        "file",
        help="a model saved by this algorithm, to embed new regions",
        optional=True,
        file_filter=MODEL_FILTER,
    ),
    Parameter(
        "OUTPUT",
        "Embedded regions",
        "vector_out",
        help="regions with emb_000 ... (the fused embedding), base_000 ... (the fused "
        "modalities' own embeddings side by side, the no-fusion baseline to score beside it), "
        "the modality weights and counts of images and POIs used (a plain table when "
        "REGIONS is one)",
        geometry="table",
    ),
    Parameter(
        "MODEL_FILE",
        "Trained model file",
        "file_out",
        help="weights + config",
        optional=True,
        file_filter=MODEL_FILTER,
        target="outputs.output_model",
    ),
    Parameter(
        "REPORT",
        "MuseCL report",
        "file_out",
        help="training curves per stage, PCA + k-means map, ablation table",
        optional=True,
        file_filter=HTML_FILTER,
        target="outputs.output_report",
    ),
)
