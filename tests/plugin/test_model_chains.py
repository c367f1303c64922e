"""The shipped .model3 chains: built from plugin/model_chains.py, loadable and valid."""

from pathlib import Path

import pytest
from qgis.core import QgsProcessingModelAlgorithm

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


@pytest.mark.parametrize(
    "name",
    [
        "democity_clusters",
        "h3grid_musecl_predict",
        "trajectories_raw_predict",
        "democity_full_pipeline",
    ],
)
def test_shipped_model_loads_and_validates(provider, name):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODELS / f"{name}.model3"))
    ok, errors = model.validate()
    assert ok, errors
    algorithms = {child.algorithmId() for child in model.childAlgorithms().values()}
    assert all(a.startswith(("urbansig:", "native:")) for a in algorithms)


def test_full_pipeline_uses_all_four_methods(provider):
    model = QgsProcessingModelAlgorithm()
    model.fromFile(str(MODELS / "democity_full_pipeline.model3"))
    algorithms = {child.algorithmId() for child in model.childAlgorithms().values()}
    assert {
        "urbansig:clustertraffictiles",
        "urbansig:embedregionsmusecl",
        "urbansig:pooltrajectoriesraw",
        "urbansig:predictindicator",
    } <= algorithms


def test_shipped_files_match_their_definitions(provider, tmp_path):
    from xml.etree.ElementTree import canonicalize  # Qt writes attributes in any order

    from urban_signatures.plugin.model_chains import write_all

    for written in write_all(tmp_path):
        shipped = MODELS / written.name
        assert canonicalize(shipped.read_text()) == canonicalize(written.read_text()), (
            f"{shipped.name} differs from plugin/model_chains.py: run "
            "'python3 -m plugin.model_chains' and commit the result"
        )


def test_chains_are_in_the_toolbox(provider):
    from qgis.core import QgsApplication

    chains = [a for a in provider.algorithms() if a.group() == "Chains"]
    assert len(chains) == len(list(MODELS.glob("*.model3"))) == 4
    registry = QgsApplication.processingRegistry()
    for chain in chains:
        found = registry.algorithmById(chain.id())
        assert found is not None and found.id().startswith("urbansig:")
        ok, errors = found.create().validate()
        assert ok, errors
    assert "urbansig:Demo city: all four methods" in {c.id() for c in chains}
