"""Finding, checking and (re-)creating the backend environment."""

import os
import time
from pathlib import Path

import pytest


@pytest.fixture()
def backend_env():
    from urban_signatures.plugin import backend_env

    return backend_env


def test_interpreter_precedence(backend_env, monkeypatch, tmp_path):
    from_env = tmp_path / "env-python"
    from_setting = tmp_path / "setting-python"
    for path in (from_env, from_setting):
        path.write_text("")
    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", str(from_env))
    assert backend_env.backend_python(str(from_setting)) == from_env
    monkeypatch.delenv("URBANSIG_BACKEND_PYTHON")
    assert backend_env.backend_python(str(from_setting)) == from_setting
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.raises(backend_env.BackendEnvError, match="not set up"):
        backend_env.backend_python(None)
    assert backend_env.default_venv_dir() == tmp_path / "data" / "urban_signatures" / "venv"


def test_torch_builds(backend_env, tmp_path):
    cpu = backend_env.torch_install_args("cpu", None, None)
    assert cpu[-1].endswith("+cpu") and backend_env.CPU_TORCH_INDEX in cpu
    assert backend_env.torch_install_args("cuda", None, None) == ["torch==2.13.0"]
    assert backend_env.torch_install_args("cpu", None, tmp_path)[-1] == "torch==2.13.0"
    assert backend_env.requirements_digest("cpu") != backend_env.requirements_digest("cuda")
    with pytest.raises(backend_env.BackendEnvError, match="TORCH must be one of"):
        backend_env.setup_environment(tmp_path / "venv", "rocm")


def test_rerun_on_an_up_to_date_environment_is_a_quick_no_op(backend_env):
    python = Path(os.environ["URBANSIG_BACKEND_PYTHON"])
    venv = python.parents[1]
    if not (venv / backend_env.MARKER).exists():
        pytest.fail(f"{venv} was not made by the setup (make setup makes it)")
    flavour = __import__("json").loads((venv / backend_env.MARKER).read_text())["flavour"]
    messages, fractions = [], []
    started = time.monotonic()
    result = backend_env.setup_environment(
        venv, flavour, log=messages.append, progress=fractions.append
    )
    assert result == backend_env.venv_python(venv.resolve())
    assert any("up to date" in m for m in messages) and fractions[-1] == 1.0
    assert time.monotonic() - started < 60


def test_backend_info_is_cached_on_disk(backend_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    backend_env._info_cache.clear()
    python = Path(os.environ["URBANSIG_BACKEND_PYTHON"])
    info = backend_env.backend_info(python)
    assert info["missing"] == [] and info["torch"].startswith("2.")
    cached = list((tmp_path / "urban_signatures").glob("backend-info-*.json"))
    assert len(cached) == 1
    backend_env._info_cache.clear()
    started = time.monotonic()
    assert backend_env.backend_info(python) == info
    assert time.monotonic() - started < 0.5  # no interpreter started


def test_the_environment_folder_is_new_empty_or_ours(backend_env, tmp_path):
    check = backend_env.check_venv_dir
    check(tmp_path / "absent" / "venv")
    (tmp_path / "empty").mkdir()
    check(tmp_path / "empty")
    for name in (backend_env.MARKER, backend_env.SETUP_LOG):  # finished, or started
        (tmp_path / name).parent.joinpath("ours-" + name).mkdir()
        (tmp_path / f"ours-{name}" / name).write_text("{}")
        check(tmp_path / f"ours-{name}")
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.txt").write_text("mine")
    with pytest.raises(backend_env.BackendEnvError, match="--venv: .* is not empty"):
        check(tmp_path / "documents")
    with pytest.raises(backend_env.BackendEnvError, match="LABEL: .* is a file"):
        check(tmp_path / "documents" / "thesis.txt", "LABEL")


def test_setup_refuses_a_foreign_folder_before_touching_it(backend_env, tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("mine")
    with pytest.raises(backend_env.BackendEnvError, match="Environment folder"):
        backend_env.setup_environment(folder, "cpu", venv_label="Environment folder")
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]


def test_the_algorithm_takes_a_new_folder_and_refuses_others(provider, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingParameterFolderDestination
    from urban_signatures.plugin import backend_env

    alg = provider.algorithm("setupbackend")
    parameter = alg.parameterDefinition("VENV_DIR")
    assert isinstance(parameter, QgsProcessingParameterFolderDestination)
    assert parameter.defaultValue() == str(backend_env.default_venv_dir())
    context = QgsProcessingContext()
    assert alg.checkParameterValues({"VENV_DIR": str(tmp_path / "new" / "venv")}, context)[0]
    (tmp_path / "notes.txt").write_text("mine")
    ok, message = alg.checkParameterValues({"VENV_DIR": str(tmp_path)}, context)
    assert not ok and "VENV_DIR" in message and "not empty" in message
    ok, message = alg.checkParameterValues({"VENV_DIR": "TEMPORARY_OUTPUT"}, context)
    assert not ok and "temporary" in message
    venv = Path(os.environ["URBANSIG_BACKEND_PYTHON"]).parents[1]
    assert alg.checkParameterValues({"VENV_DIR": str(venv)}, context)[0]  # ours: updated
