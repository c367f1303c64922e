"""The algorithms' help: a Help button on the README section of each algorithm, plain text
for qgis_process (no HTML, every parameter with its default), HTML in the dialog, and
MuseCL's switches as checkboxes that reach the job spec as booleans."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
)

from .test_algorithms import SpecCaptured, captured, run_alg  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]
TAG = re.compile(r"</?[A-Za-z][^>]*>")


def algorithms(provider):
    return [alg for alg in provider.algorithms() if alg.group() != "Chains"]


def readme_anchors() -> set[str]:
    """The anchors GitHub gives README.md's headings (written out here on purpose, not the
    plugin's function: lower case, only letters, digits, '-', '_' and spaces kept, spaces
    as '-'; a repeated heading gets -1, -2 ...)."""
    anchors: set[str] = set()
    fenced = False
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"#{1,6} (.+)", line)
        if match:
            slug = "".join(
                c for c in match.group(1).strip().lower() if c.isalnum() or c in "-_ "
            ).replace(" ", "-")
            anchor, n = slug, 0
            while anchor in anchors:
                n += 1
                anchor = f"{slug}-{n}"
            anchors.add(anchor)
    return anchors


def homepage() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    return metadata.get("general", "homepage").rstrip("/")


def test_every_algorithm_has_a_help_url_to_its_readme_section(provider):
    anchors = readme_anchors()
    site = homepage()
    assert site.startswith("https://")
    seen = set()
    for alg in algorithms(provider):
        url = alg.helpUrl()
        page, _, anchor = url.partition("#")
        assert page == site, (alg.name(), url)
        assert anchor in anchors, f"{alg.name()}: README.md has no heading for #{anchor}"
        seen.add(anchor)
    assert len(seen) == len(algorithms(provider))  # one section each


def _defaults_as_qgis_process_takes_them(definition) -> str | None:
    """The default of a QGIS parameter as typed on the qgis_process command line."""
    default = definition.defaultValue()
    if default is None or default == "" or definition.isDestination():
        return None
    if isinstance(definition, QgsProcessingParameterBoolean):
        return "true" if default else "false"
    if isinstance(definition, QgsProcessingParameterEnum):
        return f"{default} = {definition.options()[int(default)]}"
    return str(default)


@pytest.fixture()
def plain(monkeypatch):
    """shortHelpString as under qgis_process (QgsApplication.platform() == 'qgis_process')."""
    from urban_signatures.plugin.algorithms import base

    monkeypatch.setattr(base, "in_qgis_process", lambda: True)


def test_plain_text_help_lists_every_parameter_with_its_default(provider, plain):
    for alg in algorithms(provider):
        text = alg.shortHelpString()
        assert not TAG.search(text), (alg.name(), TAG.search(text))
        assert "Parameters\n----------" in text and alg.helpUrl() in text
        for line in text.splitlines():
            assert len(line) <= 88 or line.startswith("More: ") or " " not in line.strip(), line
        flat = re.sub(r"\n +", " ", text)  # undo the wrapping of each entry
        entries = [line for line in flat.splitlines() if line.startswith("- ")]
        for definition in alg.parameterDefinitions():
            table = bool(getattr(alg, "table", ())) or definition.name() in ("DEVICE", "SEED")
            key = (
                f"- {definition.description()} [{definition.name()}]"
                if table
                else f"- {definition.name()}"
            )
            found = [e for e in entries if e == key or e.startswith((key + ":", key + " ("))]
            assert found or definition.isDestination(), (alg.name(), key)
            default = _defaults_as_qgis_process_takes_them(definition)
            if default is not None and definition.name() != "VENV_DIR":
                assert found[0].endswith(f"(default: {default})"), (alg.name(), found[0])


def test_dialog_help_is_html_on_one_line_with_the_dialog_defaults(provider):
    for alg in algorithms(provider):
        text = alg.shortHelpString()
        assert "<h3>Parameters</h3>" in text, alg.name()
        assert "\n" not in text, alg.name()  # the dialog makes a paragraph of every line
    musecl = provider.algorithm("embedregionsmusecl").shortHelpString()
    assert "[FINETUNE_HEADS]</b>" in musecl and "(default: unchecked)" in musecl
    assert "[ENCODER_SIZE]</b>" in musecl and "(default: small)" in musecl


def test_method_algorithms_explain_their_methods(provider, plain):
    terms = {
        "clustertraffictiles": ("NT-Xent", "Instance-level head", "Cluster-level head"),
        "embedregionsmusecl": ("Triplet loss", "Skip-gram", "Attentive fusion", "InfoNCE"),
        "embedregionsflows": ("Mobility objective", "Reconstruction"),
        "pooltrajectoriesraw": ("Pre-training", "User embedding", "Region pooling"),
        "predictindicator": ("Splits", "Scores", "Baselines"),
    }
    for alg_id, expected in terms.items():
        text = provider.algorithm(alg_id).shortHelpString()
        section = text.split("How it works\n------------\n", 1)[1].split("\n\n", 1)[0]
        for term in expected:
            assert f"- {term}: " in section, (alg_id, term)


def test_qgis_process_prints_the_plain_text(tmp_path):
    """The real qgis_process: its platform name switches the help to plain text."""
    binary = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if binary is None:
        pytest.skip("qgis_process is not installed")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "urban_signatures").symlink_to(REPO, target_is_directory=True)
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(runtime),
        "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "profile"),
        "QGIS_PLUGINPATH": str(plugins),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120)

    assert run("plugins", "enable", "urban_signatures").returncode == 0
    done = run("help", "urbansig:embedregionsmusecl")
    assert done.returncode == 0, done.stderr
    description = done.stdout.split("Description\n----------------\n", 1)[1]
    description = description.split("\n----------------\nArguments", 1)[0]
    assert not TAG.search(description), TAG.search(description)
    assert "- Fine-tune encoder projections in fusion [FINETUNE_HEADS]" in description
    assert "(default: false)" in description and "#embed-regions-musecl" in description


def test_musecl_switches_are_checkboxes(provider):
    alg = provider.algorithm("embedregionsmusecl")
    for name, default in (
        ("FINETUNE_HEADS", False),
        ("PROJECTION_HEAD", True),
        ("MODALITY_MAPS", True),
    ):
        definition = alg.parameterDefinition(name)
        assert isinstance(definition, QgsProcessingParameterBoolean), name
        assert definition.defaultValue() is default, name


def test_a_checked_switch_reaches_the_job_spec_as_a_bool(provider, captured, tmp_path):  # noqa: F811
    regions = _polygons(tmp_path)
    with pytest.raises(SpecCaptured):
        run_alg(
            provider,
            "embedregionsmusecl",
            {
                "REGIONS": regions,
                "OD": str(_od(tmp_path)),
                "FINETUNE_HEADS": True,
                "PROJECTION_HEAD": "false",  # as qgis_process passes it
                "OUTPUT": str(tmp_path / "emb.gpkg"),
            },
        )
    params = captured[0]["params"]
    assert params["finetune_heads"] is True
    assert params["projection_head"] is False
    assert params["modality_maps"] is True  # left out: its default


def _polygons(tmp_path) -> str:
    from osgeo import ogr, osr

    path = str(tmp_path / "regions.gpkg")
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = dataset.CreateLayer(
        "regions", osr.SpatialReference(osr.SRS_WKT_WGS84_LAT_LONG), ogr.wkbPolygon
    )
    layer.CreateField(ogr.FieldDefn("region_id", ogr.OFTString))
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("region_id", "a")
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON((0 0,1 0,1 1,0 1,0 0))"))
    layer.CreateFeature(feature)
    dataset = None
    return path


def _od(tmp_path) -> Path:
    path = tmp_path / "od.csv"
    path.write_text("origin,destination,count\na,a,1\n", encoding="utf-8")
    return path
