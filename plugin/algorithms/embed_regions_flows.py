"""Embed regions from mobility flows: OD structure and per-region count tables."""

from __future__ import annotations

from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("embedregionsflows")


class EmbedRegionsFlows(UrbanSigAlgorithm):
    alg_id = "embedregionsflows"
    title = "Embed regions from mobility flows"
    group_name = "Methods"
    group_key = "methods"
    task = "embedregionsflows"
    table = TABLE
    styles = {"OUTPUT": StyleSpec("graduated", "trips_out", ramp="Viridis")}
    layer_labels = {"OUTPUT": "Region embeddings (flows)"}
    help = Help(
        "Learns region embeddings from who goes where: one or more origin-destination tables "
        "(taxi, bike, phone or commuting trips; a time-slot field gives one matrix per slot) "
        "and optional per-region count tables (POI counts per category, land use, census "
        "fields), joined to the regions by their id. The regions can be a polygon layer or a "
        "plain table of ids. An attention encoder over each region's trip shares and count "
        "views is trained, without labels and for a fixed number of epochs, to predict where "
        "the region's trips go and come from and to reconstruct its views. Chain the emb_ "
        "columns with Predict indicator; a saved model embeds new regions of the same city, or "
        "a later period, from the same kinds of tables.",
        *help_table(TABLE),
        paper="Self-supervised mobility prediction as in MVURE / MGFN / HAFusion "
        "(multi-view region embeddings from OD flows and POIs); see bench/RESULTS.md for the "
        "comparison with their published figures and with simple floors.",
        methods=(
            (
                "Region tokens",
                "each region is described by one token per OD table and time slot (the log "
                "of its trips to and from every region) and, per count table, one token of "
                "its log counts and one of its counts on their own scale.",
            ),
            (
                "Attention encoder",
                "a transformer layer lets a region's tokens attend to one another, an "
                "attention pooling fuses them (its weights per token are in the report) and "
                "a linear layer gives the embedding.",
            ),
            (
                "Mobility objective",
                "as MVURE and HAFusion, the embeddings must explain who goes where: per time "
                "slot, a softmax over a learned similarity between a region's source vector "
                "and every region's target vector must match the shares of the region's "
                "trips to each region, and likewise for the trips arriving (cross entropy).",
            ),
            (
                "Reconstruction",
                "a linear decoder per token must rebuild every token from the embedding "
                "(mean squared error). Training is full-batch for EPOCHS steps; the emb_ "
                "columns are the learned embedding, scaled, then the leading principal "
                "components of each count table.",
            ),
        ),
        example="qgis_process run urbansig:embedregionsflows -- REGIONS=regions.csv "
        "ID_FIELD=region_id OD=od.csv VIEWS=poi_counts.csv VIEWS=landuse.csv "
        "OUTPUT=embedded.gpkg REPORT=flows.html",
    )
