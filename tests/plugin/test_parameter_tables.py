"""Every algorithm's parameters, declared once in the backend's tables: the QGIS parameters
they build, the job spec each parameter lands in, and defaults that arrive whether given or
left out."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProject,
)

from .test_algorithms import SpecCaptured, captured  # noqa: F401 - fixture

FIELDS = ("f1", "f2")
# Needed by an algorithm's own cross-parameter check although optional in the table.
NEEDED = {"predictindicator": ("TARGET_FIELD",)}


def table_algorithms(provider):
    return [alg for alg in provider.algorithms() if getattr(alg, "table", ()) and not chain(alg)]


def chain(alg) -> bool:
    """A shipped .model3 chain (listed in the toolbox group Chains)."""
    return alg.group() == "Chains"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Real inputs of every kind: polygon and point GeoPackages, a GeoTIFF, a file, a folder."""
    root = tmp_path_factory.mktemp("inputs")
    made = {}
    for geometry, wkt in (("polygon", "POLYGON((0 0,1 0,1 1,0 1,0 0))"), ("point", "POINT(0 0)")):
        path = str(root / f"{geometry}.gpkg")
        kind = ogr.wkbPolygon if geometry == "polygon" else ogr.wkbPoint
        dataset = ogr.GetDriverByName("GPKG").CreateDataSource(path)
        layer = dataset.CreateLayer(
            geometry, osr.SpatialReference(osr.SRS_WKT_WGS84_LAT_LONG), kind
        )
        for name in FIELDS:
            layer.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField(FIELDS[0], 1.0)
        feature.SetField(FIELDS[1], 2.0)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
        dataset = None
        made[geometry] = path
    made["any"] = made["polygon"]
    made["table"] = str(root / "plain.csv")  # a table without geometry
    Path(made["table"]).write_text("f1,f2\n1,2\n3,4\n", encoding="utf-8")
    raster = str(root / "image.tif")
    image = gdal.GetDriverByName("GTiff").Create(raster, 4, 4, 1)
    image.SetGeoTransform((0, 0.25, 0, 1, 0, -0.25))
    image.FlushCache()
    del image
    made["raster"] = raster
    (root / "table.csv").write_text("region_id,value\n1,2\n")
    made["file"] = str(root / "table.csv")
    (root / "folder").mkdir()
    made["folder"] = str(root / "folder")
    made["out"] = str(root)
    return made


def given_value(p, files, out: str):
    """(value given to QGIS, value expected in the job spec) for a parameter ``p``."""
    kind = p.kind
    if kind == "vector":
        return files[p.geometry], files[p.geometry]
    if kind == "layers":
        return [files["table"], files["polygon"]], [files["table"], files["polygon"]]
    if kind == "raster":
        return files["raster"], files["raster"]
    if kind == "file":
        return files["file"], files["file"]
    if kind == "folder":
        return files["folder"], files["folder"]
    if kind == "field":
        return FIELDS[0], FIELDS[0]
    if kind == "fields":
        return list(FIELDS), ",".join(FIELDS)
    if kind == "enum":
        index = len(p.choices) - 1
        return index, p.choices[index]
    if kind in ("int", "float"):
        base = p.default if p.default is not None else (p.minimum or 0)
        value = base + 1
        if p.maximum is not None and value > p.maximum:
            value = base - 1 if kind == "int" else (base + (p.minimum or 0)) / 2
        return value, value
    if kind == "bool":
        return not bool(p.default), not bool(p.default)
    if kind == "string":
        return f"s_{p.key}", f"s_{p.key}"
    if kind == "extent":
        return "0,1,0,1 [EPSG:4326]", "0.0,0.0,1.0,1.0 [EPSG:4326]"
    suffix = {"vector_out": ".gpkg", "folder_out": ""}.get(kind, ".html")
    if kind == "file_out" and ".pt" in p.file_filter:
        suffix = ".pt"
    path = os.path.join(out, f"{p.name.lower()}{suffix}")
    return path, path


def skipped_alternatives(alg) -> set[str]:
    """Members of an exactly-one-of group other than the first: left out of the run."""
    return {name for group in alg.one_of for name in group[1:]}


def capture_spec(alg, parameters: dict) -> dict:
    from urban_signatures.plugin.algorithms import base

    specs: list[dict] = []

    def capture(spec, feedback, command=None):
        specs.append(spec)
        raise SpecCaptured

    original, base.run_job = base.run_job, capture
    try:
        instance = alg.create()
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        with pytest.raises(SpecCaptured):
            instance.processAlgorithm(parameters, context, QgsProcessingFeedback())
    finally:
        base.run_job = original
    return specs[0]


def test_every_table_algorithm_is_covered(provider):
    ids = {alg.name() for alg in table_algorithms(provider)}
    expected = {
        "applyrawmodel",
        "backenddiagnostics",
        "clustertraffictiles",
        "createh3grid",
        "embedregionsflows",
        "embedregionsmusecl",
        "generatedemocity",
        "pooltrajectoriesraw",
        "predictindicator",
    }
    assert ids == expected
    every = {alg.name() for alg in provider.algorithms() if not chain(alg)}
    assert every == expected | {"setupbackend"}


def test_dialog_parameters_follow_the_table(provider):
    for alg in table_algorithms(provider):
        for p in alg.table:
            qgis = alg.parameterDefinition(p.name)
            where = f"{alg.name()} {p.name}"
            assert qgis is not None, where
            assert qgis.description() == p.label, where
            assert "optional" not in p.label.lower(), f"{where}: QGIS adds [optional] itself"
            optional = bool(qgis.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional)
            assert optional == p.optional, where
            advanced = bool(qgis.flags() & QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            assert advanced == p.advanced, where
            if p.kind == "enum":
                assert qgis.options() == list(p.labels), where
                assert qgis.defaultValue() == p.choices.index(p.default), where
            elif p.kind in ("int", "float", "bool", "string") and p.default is not None:
                assert qgis.defaultValue() == p.default, where
            if p.kind in ("int", "float"):
                if p.minimum is not None:
                    assert qgis.minimum() == p.minimum, where
                if p.maximum is not None:
                    assert qgis.maximum() == p.maximum, where
                else:  # the dialog's integer spin box is 32-bit (issue: fields stuck)
                    assert qgis.maximum() <= 2**31 - 1 or p.kind == "float", where


def test_every_parameter_lands_in_its_job_spec_entry(provider, files, tmp_path):
    for alg in table_algorithms(provider):
        left_out = skipped_alternatives(alg)
        parameters, expected = {}, {}
        for p in alg.table:
            if p.name in left_out:
                continue
            given, wanted = given_value(p, files, str(tmp_path))
            parameters[p.name] = given
            expected[(p.section, p.key)] = (p.name, wanted)
        spec = capture_spec(alg, parameters)
        assert spec["task"] == alg.task
        for (section, key), (name, wanted) in expected.items():
            got = spec[section].get(key)
            if isinstance(wanted, str) and wanted.endswith(".gpkg") and section == "inputs":
                assert got is not None and got.split("|")[0] == wanted, (alg.name(), name, got)
            else:
                assert got == wanted, (alg.name(), name, got, wanted)
        declared = {(p.section, p.key) for p in alg.table}
        for section in ("inputs", "params", "outputs"):
            assert {(section, k) for k in spec[section]} <= declared, (alg.name(), section)


def required_parameters(alg, files, out: str) -> dict:
    """Only what must be given: non-optional parameters without a default."""
    left_out = skipped_alternatives(alg)
    chosen = {}
    for p in alg.table:
        if p.name in left_out or p.optional or p.default is not None:
            continue
        chosen[p.name] = given_value(p, files, out)[0]
    groups = [group[0] for group in alg.one_of] + list(NEEDED.get(alg.name(), ()))
    for name in groups:
        p = next(q for q in alg.table if q.name == name)
        chosen[name] = given_value(p, files, out)[0]
    return chosen


def declared_default(p):
    if p.kind == "enum":
        return p.choices.index(p.default)
    return p.default


def test_leaving_out_optional_parameters_equals_giving_their_defaults(provider, files, tmp_path):
    """The spec the backend runs is the same whether defaults are left out or typed in."""
    pairs = []
    for alg in table_algorithms(provider):
        minimal = required_parameters(alg, files, str(tmp_path))
        full = dict(minimal)
        for p in alg.table:
            if p.name not in full and p.default is not None:
                full[p.name] = declared_default(p)
        left = capture_spec(alg, minimal)
        typed = capture_spec(alg, full)
        pairs.append((alg.name(), left, typed))
    script = (
        "import json, sys\n"
        "from urbansig.jobs import get_job\n"
        "from urbansig.protocol import JobSpec\n"
        "from urbansig.runtime import apply_defaults\n"
        "out = []\n"
        "for name, left, typed in json.load(sys.stdin):\n"
        "    filled = []\n"
        "    for spec in (left, typed):\n"
        "        job_spec = JobSpec.from_dict(spec)\n"
        "        apply_defaults(get_job(job_spec.task), job_spec)\n"
        "        filled.append([job_spec.inputs, job_spec.params, job_spec.outputs])\n"
        "    out.append([name, filled[0] == filled[1], filled])\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [os.environ["URBANSIG_BACKEND_PYTHON"], "-c", script],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(_backend_folder())},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name, same, filled in json.loads(done.stdout):
        assert same, (name, filled)


def _backend_folder():
    from urban_signatures.plugin import parameter_tables

    return parameter_tables.PACKAGE.parent
