"""Generate demo city: a synthetic city with ground truth, in the formats of real data."""

from __future__ import annotations

from ..columns import REGION_ID
from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import ResultFile, ResultLayer, UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("generatedemocity")


class GenerateDemoCity(UrbanSigAlgorithm):
    alg_id = "generatedemocity"
    title = "Generate demo city"
    group_name = "Data"
    group_key = "data"
    task = "generatedemocity"
    table = TABLE
    result_layers = (
        ResultLayer(
            "TILES",
            "tiles",
            "Demo city tiles (true land use)",
            StyleSpec("categorized", "land_use_name"),
        ),
        ResultLayer(
            "REGIONS",
            "regions",
            "Demo city regions (indicators)",
            StyleSpec("graduated", "population_density"),
        ),
        ResultLayer("POIS", "pois", "Demo city POIs", StyleSpec("categorized", "category")),
        ResultLayer("STATIONS", "stations", "Demo city stations", StyleSpec("categorized", "line")),
        ResultLayer(
            "STREETVIEW", "streetview", "Demo city street-view points", StyleSpec("outline")
        ),
        ResultLayer("REMOTE_SENSING", "remote_sensing", "Demo city remote-sensing image"),
    )
    result_files = (
        ResultFile("NETMOB", "netmob", "NetMob 2023 traffic folder", folder=True),
        ResultFile("TRAJECTORIES", "trajectories", "Trajectories (CSV)"),
        ResultFile("USERS", "users", "Users with true home, work and kind (CSV)"),
        ResultFile("OD_FLOWS", "od_flows", "Origin-destination flows (CSV)"),
        ResultFile("INDICATORS", "indicators", "Indicators per region (CSV)"),
    )
    help = Help(
        "Writes a synthetic city with known ground truth in the exact formats of real data: "
        "per-tile, per-service mobile traffic in the NetMob 2023 folder layout (15-minute "
        "bins, DL and UL), tiles with the true land use, H3 regions with population, housing "
        "and crime indicators, POIs, origin-destination flows, users with homes, workplaces "
        "and GPS trajectories (CSV and GeoLife .plt), a 4-band remote-sensing GeoTIFF and "
        "street-view images. Deterministic for a SEED. The folder's README.md describes the "
        f"model. Regions use {REGION_ID} = H3 index, so indicators.csv joins onto "
        "a Create H3 grid output.",
        *help_table(TABLE),
        example="qgis_process run urbansig:generatedemocity -- SIZE=1 SEED=0 OUTPUT=democity",
    )
