"""Embed regions (MuseCL): multi-semantic contrastive region embeddings."""

from __future__ import annotations

from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm, help_html
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
