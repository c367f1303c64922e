"""Parameters of ``createh3grid``."""

from urbansig.parameters import Parameter

PARAMETERS = (
    Parameter(
        "EXTENT",
        "Extent",
        "extent",
        help="area to cover (job spec: 'xmin,ymin,xmax,ymax [CRS]', WGS 84 without a CRS)",
        optional=True,
    ),
    Parameter(
        "INPUT",
        "Polygon layer (instead of an extent)",
        "vector",
        help="cover these polygons instead of an extent",
        optional=True,
        geometry="polygon",
        target="inputs.polygons",
    ),
    Parameter(
        "RESOLUTION",
        "H3 resolution",
        "int",
        help="H3 resolution 0 (continents) .. 15 (about 1 m); 8 is about 0.7 km2 per cell",
        default=8,
        minimum=0,
        maximum=15,
    ),
    Parameter(
        "OUTPUT_CRS",
        "Output CRS",
        "enum",
        help="the CRS of the area covered, or WGS 84",
        default="input",
        choices=("input", "EPSG:4326"),
        choice_labels=("Same as the input / extent", "EPSG:4326 (WGS 84)"),
    ),
    Parameter(
        "MAX_CELLS",
        "Maximum number of cells",
        "int",
        help="refuse grids larger than this (protects against typos)",
        default=200_000,
        minimum=1,
        advanced=True,
    ),
    Parameter(
        "OUTPUT",
        "H3 grid",
        "vector_out",
        help="polygon layer of H3 cells with region_id",
        geometry="polygon",
    ),
)
