"""The plugin ZIP (make package) installs as `urban_signatures` and QGIS loads it."""

import configparser
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    if not (REPO / ".git").exists():
        pytest.fail("make package needs a git checkout of the plugin")
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        ["make", "-s", "package", f"DIST={dist}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (zip_path,) = dist.glob("urban_signatures-*.zip")
    return zip_path


def test_zip_layout(package):
    names = zipfile.ZipFile(package).namelist()
    assert {n.split("/")[0] for n in names} == {"urban_signatures"}
    for required in (
        "metadata.txt",
        "__init__.py",
        "plugin/provider.py",
        "backend/urbansig/__main__.py",
        "backend/requirements.txt",
        "resources/icons/urbansig.svg",
        "LICENSE",
        "CHANGELOG.md",
    ):
        assert f"urban_signatures/{required}" in names
    assert not any(
        n.startswith(("urban_signatures/tests/", "urban_signatures/bench/")) for n in names
    )


# plugins.qgis.org refuses a plugin without these; the recommended ones are checked too.
REQUIRED_METADATA = (
    "name",
    "qgisMinimumVersion",
    "description",
    "about",
    "version",
    "author",
    "email",
    "repository",
)
RECOMMENDED_METADATA = ("tracker", "homepage", "tags", "category", "changelog", "icon")


def _zipped(package, name: str) -> str:
    return zipfile.ZipFile(package).read(f"urban_signatures/{name}").decode("utf-8")


def test_zip_metadata_license_and_changelog(package):
    metadata = configparser.ConfigParser()
    metadata.read_string(_zipped(package, "metadata.txt"))
    general = metadata["general"]
    for field in REQUIRED_METADATA + RECOMMENDED_METADATA:
        assert general.get(field, "").strip(), field
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["qgisMaximumVersion"] == "4.99"
    assert general.getboolean("supportsQt6")
    assert general.getboolean("hasProcessingProvider")
    assert "1.6 GB" in general["about"] and "Set up backend" in general["about"]
    assert general["version"] in general["changelog"]
    assert f"urban_signatures/{general['icon']}" in zipfile.ZipFile(package).namelist()
    license_text = _zipped(package, "LICENSE")
    assert "GNU GENERAL PUBLIC LICENSE" in license_text and "Version 2, June 1991" in license_text
    assert "(at your option) any later version" in license_text
    assert f"## {general['version']}" in _zipped(package, "CHANGELOG.md")


def test_qgis_loads_the_installed_zip(package, qgis_env, qgis_binary, tmp_path):
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(package).extractall(plugins)
    env = dict(
        qgis_env, QGIS_PLUGINPATH=str(plugins), QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile")
    )
    binary = qgis_binary
    enable = subprocess.run(
        [binary, "plugins", "enable", "urban_signatures"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enable.returncode == 0, enable.stderr
    listed = subprocess.run([binary, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "urbansig:createh3grid" in listed.stdout
    assert os.path.isdir(plugins / "urban_signatures" / "backend" / "urbansig")
