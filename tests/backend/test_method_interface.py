"""Every method implements the one interface: fit with events, transform, save, load."""

from __future__ import annotations

import inspect

import pytest

from urbansig.models.base import Method
from urbansig.models.contrastive_clustering import TrafficClusterer
from urbansig.models.flows.method import FlowEmbedder
from urbansig.models.musecl import MuseCL
from urbansig.models.predictor import IndicatorPredictor
from urbansig.models.raw.method import RawModel
from urbansig.models.spatial_kmeans import SpatialKMeans

METHODS = (TrafficClusterer, SpatialKMeans, MuseCL, FlowEmbedder, RawModel, IndicatorPredictor)


def _shape(function) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_the_signatures_are_the_interface_s(method) -> None:
    assert issubclass(method, Method)
    assert isinstance(method.method, str) and isinstance(method.version, int)
    for name in ("fit", "transform", "save", "load"):
        assert _shape(getattr(method, name)) == _shape(getattr(Method, name)), name


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_the_constructor_takes_settings_device_seed(method) -> None:
    names = [p for p in inspect.signature(method.__init__).parameters][1:]
    assert names[0] in ("settings", "config") and "device" in names


def test_file_kinds_are_distinct() -> None:
    assert len({m.method for m in METHODS}) == len(METHODS)


@pytest.mark.parametrize(
    "package",
    ["contrastive_clustering", "spatial_kmeans", "musecl", "flows", "raw", "predictor"],
)
def test_models_import_with_torch_and_numpy_alone(package: str) -> None:
    """models/ reads no files: pandas, geopandas and scikit-learn come in only when used."""
    import pkgutil
    import subprocess
    import sys
    from pathlib import Path

    import urbansig.models

    root = Path(urbansig.models.__file__).parent / package
    modules = [f"urbansig.models.{package}.{m.name}" for m in pkgutil.iter_modules([str(root)])]
    code = (
        f"import sys, {', '.join(modules)}; "
        "print([m for m in ('pandas', 'geopandas', 'sklearn') if m in sys.modules])"
    )
    backend = Path(__file__).resolve().parents[2] / "backend"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(backend), "PATH": ""},
    )  # fmt: skip
    assert out.stdout.strip() == "[]", package
