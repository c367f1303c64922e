"""Create H3 grid: H3 cells covering an extent or polygon layer, with region_id."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ..layer_io import source_for_backend
from ..styles import StyleSpec, style_output
from .base import UrbanSigAlgorithm, help_html

OUTPUT_CRS_CHOICES = ["input", "EPSG:4326"]


class CreateH3Grid(UrbanSigAlgorithm):
    alg_id = "createh3grid"
    title = "Create H3 grid"
    group_name = "Regions"
    group_key = "regions"
    task = "createh3grid"
    help = help_html(
        "Covers an extent or a polygon layer with Uber H3 hexagons (every cell that overlaps "
        "the area) and writes them as polygons with <code>region_id</code> = the H3 index. "
        "Use it as the region layer of the embedding and prediction algorithms.",
        {
            "EXTENT": "area to cover (used when no polygon layer is given)",
            "INPUT": "polygon layer to cover instead of an extent",
            "RESOLUTION": "H3 resolution 0 (continents) .. 15 (about 1 m2); 8 is about 0.7 km2,"
            " 9 about 0.1 km2",
            "OUTPUT_CRS": "the CRS of the input/extent, or EPSG:4326",
            "MAX_CELLS": "refuse grids larger than this (protects against typos)",
        },
        {"OUTPUT": "polygon layer of H3 cells with region_id"},
        paper="Uber H3 hierarchical hexagonal grid (h3geo.org).",
        example="qgis_process run urbansig:createh3grid -- "
        "EXTENT='4.80,4.90,45.72,45.79 [EPSG:4326]' RESOLUTION=8 OUTPUT=grid.gpkg",
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterExtent("EXTENT", self.tr("Extent"), optional=True))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "INPUT",
                self.tr("Polygon layer (instead of an extent)"),
                [QgsProcessing.TypeVectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "RESOLUTION",
                self.tr("H3 resolution"),
                QgsProcessingParameterNumber.Integer,
                8,
                minValue=0,
                maxValue=15,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "OUTPUT_CRS",
                self.tr("Output CRS"),
                options=["Same as the input / extent", "EPSG:4326 (WGS 84)"],
                defaultValue=0,
            )
        )
        max_cells = QgsProcessingParameterNumber(
            "MAX_CELLS",
            self.tr("Maximum number of cells"),
            QgsProcessingParameterNumber.Integer,
            200_000,
            minValue=1,
        )
        max_cells.setFlags(max_cells.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(max_cells)
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT", self.tr("H3 grid"), QgsProcessing.TypeVectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputNumber("N_CELLS", self.tr("Number of cells")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        polygons = source_for_backend(self, parameters, "INPUT", context, feedback)
        inputs = {"polygons": polygons}
        if polygons is None:
            if parameters.get("EXTENT") in (None, ""):
                raise QgsProcessingException(
                    "Give EXTENT or INPUT (a polygon layer) to cover with H3 cells."
                )
            extent = self.parameterAsExtent(parameters, "EXTENT", context)
            crs = self.parameterAsExtentCrs(parameters, "EXTENT", context)
            inputs["extent"] = ",".join(
                repr(v)
                for v in (
                    extent.xMinimum(),
                    extent.yMinimum(),
                    extent.xMaximum(),
                    extent.yMaximum(),
                )
            )
            inputs["extent_crs"] = crs.authid() or crs.toWkt() if crs.isValid() else "EPSG:4326"
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        params = {
            "resolution": self.parameterAsInt(parameters, "RESOLUTION", context),
            "max_cells": self.parameterAsInt(parameters, "MAX_CELLS", context),
            "output_crs": OUTPUT_CRS_CHOICES[
                self.parameterAsEnum(parameters, "OUTPUT_CRS", context)
            ],
        }
        result = self.run_backend(inputs, params, {"output": output}, parameters, context, feedback)
        style_output(output, StyleSpec("outline"), context, feedback)
        return {"OUTPUT": output, "N_CELLS": result.get("metrics", {}).get("n_cells")}
