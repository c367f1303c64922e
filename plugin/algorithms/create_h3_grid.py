"""Create H3 grid: H3 cells covering an extent or polygon layer, with region_id."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputNumber

from ..parameter_tables import parameter_table
from ..styles import StyleSpec
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("createh3grid")


class CreateH3Grid(UrbanSigAlgorithm):
    alg_id = "createh3grid"
    title = "Create H3 grid"
    group_name = "Regions"
    group_key = "regions"
    task = "createh3grid"
    table = TABLE
    styles = {"OUTPUT": StyleSpec("outline")}
    uses_device = False
    one_of = (("EXTENT", "INPUT"),)
    help = Help(
        "Covers an extent or a polygon layer with Uber H3 hexagons (every cell that overlaps "
        "the area) and writes them as polygons with region_id = the H3 index. "
        "Use it as the region layer of the embedding and prediction algorithms.",
        *help_table(TABLE),
        paper="Uber H3 hierarchical hexagonal grid (h3geo.org).",
        example="qgis_process run urbansig:createh3grid -- "
        "EXTENT='4.80,4.90,45.72,45.79 [EPSG:4326]' RESOLUTION=8 OUTPUT=grid.gpkg",
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS API
        super().initAlgorithm(config)
        self.addOutput(QgsProcessingOutputNumber("N_CELLS", self.tr("Number of cells")))

    def collect_outputs(self, result: dict, outputs: dict, context, feedback) -> dict:
        collected = super().collect_outputs(result, outputs, context, feedback)
        collected["N_CELLS"] = result.get("metrics", {}).get("n_cells")
        return collected
