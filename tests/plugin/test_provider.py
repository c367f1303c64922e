"""The provider: algorithms, help, settings, canExecute and versionInfo."""

import pytest

EXPECTED = {"createh3grid", "setupbackend", "backenddiagnostics"}


def test_algorithms_are_registered_with_help(provider):
    ids = {alg.name() for alg in provider.algorithms()}
    assert EXPECTED <= ids
    for alg in provider.algorithms():
        assert alg.provider().id() == "urbansig"
        if alg.group() == "Chains":  # the shipped .model3 chains: test_model_chains.py
            continue
        assert alg.displayName() and alg.group() and alg.groupId()
        help_text = alg.shortHelpString()
        for parameter in alg.parameterDefinitions():
            if parameter.name() not in ("DEVICE", "SEED"):
                named = (  # under the dialog's label for table-driven algorithms
                    f"<b>{parameter.description()} [{parameter.name()}]</b>"
                    if getattr(alg, "table", ())
                    else f"<b>{parameter.name()}</b>"
                )
                assert named in help_text or parameter.isDestination(), (
                    alg.name(),
                    parameter.name(),
                )
        assert not alg.icon().isNull()


def test_can_execute_explains_a_missing_backend(provider, monkeypatch, tmp_path):
    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", str(tmp_path / "missing" / "python"))
    ok, message = provider.algorithm("createh3grid").canExecute()
    assert not ok
    assert "URBANSIG_BACKEND_PYTHON" in message and "Set up backend environment" in message
    assert provider.algorithm("setupbackend").canExecute() == (True, "")


def test_can_execute_names_missing_packages(provider, monkeypatch):
    import sys

    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", sys.executable)  # QGIS's Python: no torch
    ok, message = provider.algorithm("createh3grid").canExecute()
    assert not ok and "lacks" in message and "torch" in message


def test_version_info_shows_the_backend(provider, backend_python):
    info = provider.versionInfo()
    assert info.startswith("0.") and "torch" in info


@pytest.fixture()
def backend_python(monkeypatch):
    import os

    python = os.environ.get("URBANSIG_BACKEND_PYTHON")
    if not python:
        pytest.fail(
            "URBANSIG_BACKEND_PYTHON must point at the backend environment (make test sets it)"
        )
    return python


def test_plugin_column_names_come_from_the_backend_without_its_environment():
    """plugin/columns.py reads backend/urbansig/columns.py, which imports nothing else."""
    import ast
    from pathlib import Path

    from urban_signatures.plugin import columns

    source = Path(__file__).resolve().parents[2] / "backend" / "urbansig" / "columns.py"
    tree = ast.parse(source.read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [getattr(n, "module", None) for n in imports] == ["__future__"]
    backend = {
        node.targets[0].id
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    plugin = {k for k in vars(columns) if k.isupper() and not k.startswith("_")}
    assert plugin == backend
    assert columns.CLUSTER == "cluster" and len(columns.CLASS_PALETTE) == 20
