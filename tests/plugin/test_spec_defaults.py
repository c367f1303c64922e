"""Omitting an optional parameter means its declared default: for every algorithm of the
provider, the job spec built from the required parameters only equals the one built with
every parameter that declares a default set to that default (output paths aside)."""

from __future__ import annotations

import json

import pytest
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
    QgsProject,
)

# Algorithms that build no job spec (their processAlgorithm installs the backend).
NO_SPEC = {"setupbackend"}

# Beside the mandatory parameters without a default: the one parameter of each one_of group
# a run gives, and those an algorithm needs together (predictindicator trains on a target).
EXTRA = {
    "createh3grid": {"EXTENT": "4.80,4.90,45.72,45.79 [EPSG:4326]"},
    "clustertraffictiles": {"TRAFFIC_FOLDER": "{folder}", "TILES": "{polygons}"},
    "pooltrajectoriesraw": {"TRAJECTORIES": "{csv}"},
    "applyrawmodel": {"TRAJECTORIES": "{csv}"},
    "predictindicator": {"TARGET_FIELD": "population"},
}


class SpecCaptured(Exception):
    pass


@pytest.fixture()
def captured(monkeypatch):
    from urban_signatures.plugin.algorithms import base

    specs: list[dict] = []

    def capture(spec, feedback, command=None):
        specs.append(spec)
        raise SpecCaptured

    monkeypatch.setattr(base, "run_job", capture)
    return specs


def _write_layer(path, features: list[tuple[dict, dict]]) -> str:
    """A GeoJSON file of (geometry, properties) features in WGS 84."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": geometry, "properties": properties}
            for geometry, properties in features
        ],
    }
    path.write_text(json.dumps(collection))
    return str(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Small files of each kind the algorithms read (the backend never runs here)."""
    root = tmp_path_factory.mktemp("spec_defaults")
    fields = {"region_id": "r", "tile_id": "t", "population": 1.5, "emb_000": 0.1}
    fields.update({"path": "a.png", "category": "shop", "text": "bread"})
    polygons = _write_layer(
        root / "regions.geojson",
        [
            ({"type": "Polygon", "coordinates": [[[x, 45.7], [x + 0.01, 45.7],
              [x + 0.01, 45.71], [x, 45.7]]]}, {**fields, "region_id": f"r{i}"})
            for i, x in enumerate((4.80, 4.82, 4.84))
        ],
    )  # fmt: skip
    points = _write_layer(
        root / "points.geojson",
        [
            ({"type": "Point", "coordinates": [x, 45.7]},
             {**fields, "user_id": "u", "timestamp": "2019-03-25 08:00"})
            for x in (4.80, 4.82, 4.84)
        ],
    )  # fmt: skip
    csv = root / "table.csv"
    csv.write_text("origin,destination,count,user_id\nr0,r1,3,u\n")
    model = root / "model.pt"
    model.write_bytes(b"not read here")
    folder = root / "folder"
    folder.mkdir()
    raster = root / "raster.tif"
    from osgeo import gdal

    dataset = gdal.GetDriverByName("GTiff").Create(str(raster), 4, 4, 1)
    dataset.SetGeoTransform((4.8, 0.01, 0, 45.75, 0, -0.01))
    dataset = None
    return {
        "polygons": polygons,
        "points": points,
        "csv": str(csv),
        "model": str(model),
        "folder": str(folder),
        "raster": str(raster),
        "root": str(root),
    }


def _value_for(definition, inputs: dict[str, str]):
    """A value a run could give a mandatory parameter without a default."""
    if isinstance(definition, QgsProcessingParameterVectorDestination):
        return "TEMPORARY_OUTPUT"
    if isinstance(definition, QgsProcessingParameterFileDestination):
        return f"{inputs['root']}/{definition.name().lower()}.out"
    if isinstance(definition, QgsProcessingParameterFolderDestination):
        return f"{inputs['root']}/{definition.name().lower()}_folder"
    if isinstance(definition, QgsProcessingParameterVectorLayer):
        return (
            inputs["points"] if definition.name() in ("STREETVIEW", "POIS") else inputs["polygons"]
        )
    if isinstance(definition, QgsProcessingParameterMultipleLayers):
        return [inputs["csv"]]
    if isinstance(definition, QgsProcessingParameterRasterLayer):
        return inputs["raster"]
    if isinstance(definition, QgsProcessingParameterFile):
        folder = definition.behavior() == QgsProcessingParameterFile.Behavior.Folder
        if folder:
            return inputs["folder"]
        return inputs["model"] if definition.name() in ("MODEL", "TRAINED_MODEL") else inputs["csv"]
    if isinstance(definition, QgsProcessingParameterField):
        return "region_id"
    if isinstance(definition, QgsProcessingParameterString):
        return "x"
    raise AssertionError(f"no test value for {definition.name()} ({definition.type()})")


def _parameters(alg, inputs: dict[str, str]) -> tuple[dict, dict]:
    """(only what must be given, that plus every declared default given explicitly)."""
    extra = {
        k: v.format(**inputs) if isinstance(v, str) else v
        for k, v in EXTRA.get(alg.id().split(":")[-1], {}).items()
    }
    minimal = dict(extra)
    for definition in alg.parameterDefinitions():
        name = definition.name()
        if name in minimal or definition.defaultValue() is not None:
            continue
        if not (definition.flags() & definition.Flag.FlagOptional):
            minimal[name] = _value_for(definition, inputs)
    full = dict(minimal)
    for definition in alg.parameterDefinitions():
        if definition.name() not in full and definition.defaultValue() is not None:
            full[definition.name()] = definition.defaultValue()
    return minimal, full


def _spec(alg_id, provider, parameters, captured) -> dict:
    alg = provider.algorithm(alg_id).create()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    ok, message = alg.checkParameterValues(parameters, context)
    assert ok, f"{alg_id}: {message}"
    captured.clear()
    with pytest.raises(SpecCaptured):
        alg.processAlgorithm(parameters, context, QgsProcessingFeedback())
    spec = dict(captured[0])
    spec["outputs"] = sorted(spec["outputs"])  # which outputs, not their (temporary) paths
    return spec


def _algorithm_ids() -> list[str]:
    from urban_signatures.plugin.provider import ALGORITHMS

    return [a.alg_id for a in ALGORITHMS]


def test_every_algorithm_is_covered():
    from urban_signatures.plugin.provider import ALGORITHMS

    with_spec = {a.alg_id for a in ALGORITHMS if a.task}
    assert with_spec | NO_SPEC == set(_algorithm_ids())


@pytest.mark.parametrize("alg_id", [a for a in _algorithm_ids() if a not in NO_SPEC])
def test_omitted_optional_parameters_mean_their_defaults(alg_id, provider, captured, inputs):
    alg = provider.algorithm(alg_id)
    minimal, full = _parameters(alg, inputs)
    assert set(full) > set(minimal) or not any(
        d.defaultValue() is not None for d in alg.parameterDefinitions()
    )
    omitted = _spec(alg_id, provider, minimal, captured)
    explicit = _spec(alg_id, provider, full, captured)
    assert _differences(omitted, explicit) == {}


def _differences(omitted: dict, explicit: dict) -> dict:
    """section.key -> (value when omitted, value when given), for the entries that differ."""
    found = {}
    for section in sorted(set(omitted) | set(explicit)):
        a, b = omitted.get(section), explicit.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key, "<absent>") != b.get(key, "<absent>"):
                    found[f"{section}.{key}"] = (a.get(key, "<absent>"), b.get(key, "<absent>"))
        elif a != b:
            found[section] = (a, b)
    return found
