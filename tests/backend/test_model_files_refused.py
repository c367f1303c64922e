"""Model files that are not (whole) Urban Signatures models: each refused with a message
naming the parameter and saying why, never torch's advice to load unsafely, and never
running pickled code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput

PARAMETER = "TRAINED_MODEL"


def _refused(path: Path, method: str = "demo") -> str:
    with pytest.raises(BadInput) as info:
        load_model(path, method, PARAMETER)
    message = str(info.value)
    assert message.startswith(f"{PARAMETER}: {path}")
    assert "weights_only" not in message and "likely succeed" not in message
    assert "pop from empty list" not in message
    return message


@pytest.fixture()
def real(tmp_path: Path) -> Path:
    return save_model(tmp_path / "real.pt", "demo", {"k": 3}, {"w": torch.ones(64, 64)})


def test_random_bytes(tmp_path: Path):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096))
    assert "not an Urban Signatures model file (not a PyTorch file" in _refused(path)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    assert "is empty (0 bytes)" in _refused(path)


@pytest.mark.parametrize("keep", [0.5, 0.99, 100])
def test_truncated_model_file(real: Path, tmp_path: Path, keep: float):
    data = real.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(keep if keep > 1 else len(data) * keep)])
    assert "damaged or incomplete" in _refused(path)


class _Payload:
    """Creates a marker folder when unpickled (if it ever were)."""

    marker = ""

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.mark.parametrize("wrap", ["pickle", "torch"])
def test_malicious_pickle_refused_and_not_run(tmp_path: Path, wrap: str):
    marker = tmp_path / "ran"
    payload = _Payload()
    payload.marker = str(marker)
    path = tmp_path / "evil.pt"
    if wrap == "torch":
        torch.save({"format": payload, "state": {}}, path)
    else:
        path.write_bytes(pickle.dumps({"format": payload}))
    message = _refused(path)
    assert "not an Urban Signatures model file" in message
    if wrap == "torch":
        assert "Python objects other than tensors" in message and "run code" in message
    assert not marker.exists()


def test_model_of_another_method(real: Path):
    message = _refused(real, "predictindicator")
    assert "holds a 'demo' model, not 'predictindicator'" in message


def test_other_pytorch_files(tmp_path: Path):
    weights = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(2)}, weights)
    assert "a PyTorch file but not an Urban Signatures model file" in _refused(weights)
    damaged = tmp_path / "damaged.pt"
    torch.save({"format": "urbansig-model-1", "config": "{oops", "state": {}}, damaged)
    assert "damaged Urban Signatures model file" in _refused(damaged)
