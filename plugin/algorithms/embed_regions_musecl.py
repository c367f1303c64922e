"""Embed regions (MuseCL): multi-semantic contrastive region embeddings."""

from __future__ import annotations

from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("embedregionsmusecl")


class EmbedRegionsMuseCL(UrbanSigAlgorithm):
    alg_id = "embedregionsmusecl"
    title = "Embed regions (MuseCL)"
    group_name = "Methods"
    group_key = "methods"
    task = "embedregionsmusecl"
    table = TABLE
    styles = {"OUTPUT": StyleSpec("categorized", "cluster")}
    layer_labels = {"OUTPUT": "Region embeddings (MuseCL)"}
    help = Help(
        "Learns a region embedding from the modalities you have (at least two): remote-"
        "sensing crops and street-view images trained with triplets chosen by POI and "
        "mobility similarity, skip-gram POI text vectors, flow profiles and POI counts, fused "
        "by attention (per-region modality weights are outputs) and aligned with InfoNCE. "
        "Chain it with Predict indicator.",
        *help_table(TABLE),
        paper="Yong et al., MuseCL: Predicting Urban Socioeconomic Indicators via "
        "Multi-Semantic Contrastive Learning (IJCAI 2024).",
        methods=(
            (
                "Triplet loss",
                "trains the image and tabular encoders. A region's embedding (the anchor) must "
                "be more similar (cosine) to a region like it (the positive) than to a region "
                "unlike it (the negative), by at least MARGIN. Positives are drawn among the "
                "most similar regions and negatives among the least similar: by POI category "
                "counts for remote-sensing crops, by mobility flows for street-view images "
                "(failing those, by the other one, then by distance).",
            ),
            (
                "Skip-gram",
                "word2vec's skip-gram learns a vector per word by predicting the words around "
                "it in a sentence. Each POI (its category and text words) is a sentence, and "
                "so are a region's POI categories in random order, so categories found in the "
                "same regions get similar vectors; a region's POI vector is the mean of its "
                "POIs' category vectors.",
            ),
            (
                "Attentive fusion",
                "a learned score per modality embedding, turned by a softmax into weights "
                "that sum to 1 for each region (written to the output), gives the fused "
                "embedding as the weighted sum. MODALITY_MAPS first passes each modality "
                "through its own learned map; BETA_ENTROPY keeps the weights from all going "
                "to one modality.",
            ),
            (
                "InfoNCE",
                "aligns each region's fused embedding with its target vector (the POI vector "
                "when POIs are given, else the flows, else street view): among the regions "
                "of a batch, a "
                "softmax over cosine similarities divided by TEMPERATURE must pick the "
                "region's own target. With PROJECTION_HEAD the loss sees a small projection "
                "of the fused embedding, and the fused embedding is the output.",
            ),
        ),
        example="qgis_process run urbansig:embedregionsmusecl -- REGIONS=city/regions.gpkg "
        "RASTER=city/remote_sensing.tif STREETVIEW=city/streetview.gpkg POIS=city/pois.gpkg "
        "OD=city/od_flows.csv OUTPUT=embedded.gpkg REPORT=musecl.html",
    )
