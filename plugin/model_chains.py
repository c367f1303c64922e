"""The shipped Processing models (.model3 in resources/models), defined here as data.

``python3 -m plugin.model_chains resources/models`` (QGIS's Python, Processing initialised)
rewrites the files. Open them in the graphical modeler (Processing > Model Designer > Open)
or run them with ``qgis_process.bin run resources/models/<name>.model3 -- ...``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from qgis.core import (
    QgsApplication,
    QgsProcessing,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QPointF

MODELS_DIR = Path(__file__).resolve().parents[1] / "resources" / "models"
GROUP = "Chains"


def model_input(name: str) -> tuple[str, str]:
    return ("model", name)


def child_output(child: str, output: str) -> tuple[str, str, str]:
    return ("child", child, output)


def static(value: Any) -> tuple[str, Any]:
    return ("static", value)


@dataclass
class Step:
    """One child algorithm: its parameter sources and the outputs the model exposes."""

    child_id: str
    algorithm: str
    description: str
    sources: dict[str, tuple]
    outputs: dict[str, str] = field(default_factory=dict)  # child output -> model output name


@dataclass
class Chain:
    name: str
    title: str
    help: str
    inputs: list[Callable[[], QgsProcessingParameterDefinition]]
    steps: list[Step]


def _source(spec: tuple) -> QgsProcessingModelChildParameterSource:
    if spec[0] == "model":
        return QgsProcessingModelChildParameterSource.fromModelParameter(spec[1])
    if spec[0] == "child":
        return QgsProcessingModelChildParameterSource.fromChildOutput(spec[1], spec[2])
    return QgsProcessingModelChildParameterSource.fromStaticValue(spec[1])


def _fill_defaults(child: QgsProcessingModelChildAlgorithm, given: set[str]) -> None:
    """Static sources with the default of every other parameter, as the modeler does, so
    the model validates and shows its settings in the designer."""
    algorithm = QgsApplication.processingRegistry().algorithmById(child.algorithmId())
    if algorithm is None:
        raise RuntimeError(f"{child.algorithmId()} is not registered: start Processing first")
    for definition in algorithm.parameterDefinitions():
        if definition.name() in given or definition.isDestination():
            continue
        default = definition.defaultValue()
        if default is not None:
            child.addParameterSources(
                definition.name(), [QgsProcessingModelChildParameterSource.fromStaticValue(default)]
            )


def build(chain: Chain) -> QgsProcessingModelAlgorithm:
    """A QgsProcessingModelAlgorithm for ``chain`` (laid out left to right)."""
    model = QgsProcessingModelAlgorithm(chain.title, GROUP, "urbansig_chains")
    model.setHelpContent({"ALG_DESC": chain.help, "ALG_CREATOR": "Urban Signatures"})
    for row, make in enumerate(chain.inputs):
        definition = make()
        component = QgsProcessingModelParameter(definition.name())
        component.setPosition(QPointF(120, 80 + 70 * row))
        model.addModelParameter(definition, component)
    for column, step in enumerate(chain.steps):
        child = QgsProcessingModelChildAlgorithm(step.algorithm)
        child.setChildId(step.child_id)
        child.setDescription(step.description)
        child.setPosition(QPointF(420 + 300 * column, 120 + 60 * (column % 2)))
        for name, spec in step.sources.items():
            child.addParameterSources(name, [_source(spec)])
        _fill_defaults(child, set(step.sources))
        outputs: dict[str, QgsProcessingModelOutput] = {}
        for child_output_name, title in step.outputs.items():
            model_output_name = re.sub(r"\W+", "_", title.lower()).strip("_")
            output = QgsProcessingModelOutput(model_output_name, title)
            output.setChildId(step.child_id)
            output.setChildOutputName(child_output_name)
            output.setPosition(QPointF(420 + 300 * column, 260 + 50 * len(outputs)))
            outputs[model_output_name] = output
        child.setModelOutputs(outputs)
        model.addChildAlgorithm(child)
    model.updateDestinationParameters()
    return model


def _epochs(name: str, label: str, default: int) -> Callable[[], QgsProcessingParameterNumber]:
    return lambda: QgsProcessingParameterNumber(
        name, label, QgsProcessingParameterNumber.Type.Integer, default, minValue=1
    )


CLUSTER_EPOCHS = _epochs("cluster_epochs", "Clustering epochs", 60)
IMAGE_EPOCHS = _epochs("image_epochs", "MuseCL image encoder epochs", 5)
FUSION_EPOCHS = _epochs("fusion_epochs", "MuseCL fusion epochs", 60)
RAW_EPOCHS = _epochs("raw_epochs", "RAW pre-training epochs", 20)


def _size() -> QgsProcessingParameterEnum:
    return QgsProcessingParameterEnum(
        "size", "Demo city size", options=["tiny", "small", "medium", "large"], defaultValue=0
    )


def _city_step(size_source: tuple) -> Step:
    return Step(
        "city",
        "urbansig:generatedemocity",
        "Generate demo city",
        {"SIZE": size_source, "DAYS": static(7), "SEED": static(0)},
    )


def _cluster_step() -> Step:
    return Step(
        "clusters",
        "urbansig:clustertraffictiles",
        "Cluster mobile traffic tiles",
        {
            "TRAFFIC_FOLDER": child_output("city", "NETMOB"),
            "CITY": static("Demoville"),
            "TILES": child_output("city", "TILES"),
            "LABEL_FIELD": static("land_use"),
            "SEED": static(0),
        },
        {"OUTPUT": "Traffic clusters", "REPORT": "Clustering report"},
    )


def _predict_step(child_id: str, regions: tuple, target: tuple, title: str) -> Step:
    return Step(
        child_id,
        "urbansig:predictindicator",
        f"Predict indicator ({title})",
        {
            "INPUT": regions,
            "TARGET_FIELD": target,
            "FEATURE_PREFIX": static("emb_"),
            "REPEATS": static(3),
            "SEED": static(0),
        },
        {"OUTPUT": f"Predicted {title}", "REPORT": f"Prediction report ({title})"},
    )


def _musecl_step(
    regions: tuple,
    raster: tuple,
    streetview: tuple,
    pois: tuple,
    od: tuple,
    target: tuple | None = None,
) -> Step:
    sources = {
        "REGIONS": regions,
        "RASTER": raster,
        "STREETVIEW": streetview,
        "POIS": pois,
        "OD": od,
        "SEED": static(0),
    }
    return Step(
        "musecl",
        "urbansig:embedregionsmusecl",
        "Embed regions (MuseCL)",
        sources,
        {"OUTPUT": "MuseCL region embeddings", "REPORT": "MuseCL report"},
    )


def _raw_step(trajectories: tuple, regions: tuple, users: tuple | None) -> Step:
    sources = {
        "TRAJECTORIES": trajectories,
        "REGIONS": regions,
        "EPOCHS": model_input("raw_epochs"),
        "SEED": static(0),
    }
    if users is not None:
        sources.update({"USER_LABELS": users, "LABEL_FIELD": static("is_commuter")})
    return Step(
        "raw",
        "urbansig:pooltrajectoriesraw",
        "Pool trajectories to regions (RAW)",
        sources,
        {"OUTPUT": "RAW region embeddings", "REPORT": "RAW report"},
    )


def chains() -> list[Chain]:
    polygons = [QgsProcessing.SourceType.TypeVectorPolygon]
    return [
        Chain(
            "democity_clusters",
            "Demo city to traffic clusters",
            "Generates a demo city and clusters its mobile traffic tiles (spatial k-means, "
            "number of clusters chosen automatically), scored against the true land use.",
            [_size],
            [_city_step(model_input("size")), _cluster_step()],
        ),
        Chain(
            "h3grid_musecl_predict",
            "H3 grid to MuseCL embeddings to indicator",
            "Covers an extent with H3 cells, joins a table of indicators on region_id, "
            "embeds the cells with MuseCL from imagery, street views, POIs and flows, and "
            "predicts an indicator from the embeddings.",
            [
                lambda: QgsProcessingParameterExtent("extent", "Extent"),
                lambda: QgsProcessingParameterNumber(
                    "resolution",
                    "H3 resolution",
                    QgsProcessingParameterNumber.Type.Integer,
                    9,
                    minValue=0,
                    maxValue=15,
                ),
                lambda: QgsProcessingParameterFeatureSource(
                    "indicators",
                    "Indicator table (region_id + indicators)",
                    [QgsProcessing.SourceType.TypeVector],
                ),
                lambda: QgsProcessingParameterRasterLayer("raster", "Remote-sensing raster"),
                lambda: QgsProcessingParameterVectorLayer(
                    "streetview", "Street-view points", [QgsProcessing.SourceType.TypeVectorPoint]
                ),
                lambda: QgsProcessingParameterVectorLayer(
                    "pois", "POIs", [QgsProcessing.SourceType.TypeVectorPoint]
                ),
                lambda: QgsProcessingParameterFile("od", "Origin-destination flows (CSV)"),
                lambda: QgsProcessingParameterString(
                    "target", "Indicator to predict", "population_density"
                ),
            ],
            [
                Step(
                    "grid",
                    "urbansig:createh3grid",
                    "Create H3 grid",
                    {"EXTENT": model_input("extent"), "RESOLUTION": model_input("resolution")},
                ),
                Step(
                    "join",
                    "native:joinattributestable",
                    "Join indicators",
                    {
                        "INPUT": child_output("grid", "OUTPUT"),
                        "FIELD": static("region_id"),
                        "INPUT_2": model_input("indicators"),
                        "FIELD_2": static("region_id"),
                        "METHOD": static(1),
                        "DISCARD_NONMATCHING": static(False),
                        "PREFIX": static(""),
                    },
                ),
                _musecl_step(
                    child_output("join", "OUTPUT"),
                    model_input("raster"),
                    model_input("streetview"),
                    model_input("pois"),
                    model_input("od"),
                ),
                _predict_step(
                    "predict", child_output("musecl", "OUTPUT"), model_input("target"), "indicator"
                ),
            ],
        ),
        Chain(
            "trajectories_raw_predict",
            "Trajectories to RAW embeddings to indicator",
            "Pre-trains the RAW trajectory transformer, pools user embeddings into regions "
            "and predicts a region indicator from them.",
            [
                lambda: QgsProcessingParameterFile("trajectories", "Trajectories (CSV)"),
                lambda: QgsProcessingParameterVectorLayer("regions", "Regions", polygons),
                lambda: QgsProcessingParameterString(
                    "target", "Indicator to predict", "trip_count"
                ),
                RAW_EPOCHS,
            ],
            [
                _raw_step(model_input("trajectories"), model_input("regions"), None),
                _predict_step(
                    "predict", child_output("raw", "OUTPUT"), model_input("target"), "indicator"
                ),
            ],
        ),
        Chain(
            "democity_full_pipeline",
            "Demo city: all four methods",
            "Generates a demo city, clusters its traffic tiles, embeds its regions with "
            "MuseCL and with RAW, and predicts population density and trip counts from the "
            "embeddings.",
            [_size, CLUSTER_EPOCHS, IMAGE_EPOCHS, FUSION_EPOCHS, RAW_EPOCHS],
            [
                _city_step(model_input("size")),
                _cluster_step(),
                _musecl_step(
                    child_output("city", "REGIONS"),
                    child_output("city", "REMOTE_SENSING"),
                    child_output("city", "STREETVIEW"),
                    child_output("city", "POIS"),
                    child_output("city", "OD_FLOWS"),
                ),
                _predict_step(
                    "predict_musecl",
                    child_output("musecl", "OUTPUT"),
                    static("population_density"),
                    "population density",
                ),
                _raw_step(
                    child_output("city", "TRAJECTORIES"),
                    child_output("city", "REGIONS"),
                    child_output("city", "USERS"),
                ),
                _predict_step(
                    "predict_raw", child_output("raw", "OUTPUT"), static("trip_count"), "trip count"
                ),
            ],
        ),
    ]


def write_all(folder: Path = MODELS_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chain in chains():
        path = folder / f"{chain.name}.model3"
        if not build(chain).toFile(str(path)):
            raise RuntimeError(f"cannot write {path}")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """Write the models from QGIS's Python (Processing and this provider are started here)."""
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    from .provider import UrbanSignaturesProvider

    Processing.initialize()
    provider = UrbanSignaturesProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    for path in write_all(Path(argv[0]) if argv else MODELS_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
