import pytest
import torch

from urbansig.models.serialization import load_model, save_model
from urbansig.protocol import BadInput
from urbansig.report import Report


def test_model_file_round_trip(tmp_path):
    path = tmp_path / "m.pt"
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    save_model(path, "demo", {"k": 3, "services": ["a", "b"]}, state)
    config, loaded = load_model(path, "demo")
    assert config["k"] == 3 and config["services"] == ["a", "b"] and config["method"] == "demo"
    assert torch.equal(loaded["w"], state["w"])


def test_model_file_errors(tmp_path):
    path = tmp_path / "m.pt"
    save_model(path, "demo", {}, {"w": torch.zeros(1)})
    with pytest.raises(BadInput, match="holds a 'demo' model"):
        load_model(path, "other")
    with pytest.raises(BadInput, match="does not exist"):
        load_model(tmp_path / "none.pt", "demo")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(BadInput, match="MODEL: .* not an Urban Signatures model"):
        load_model(junk, "demo")


def test_report_writes_page_and_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    page = (
        Report("Test <report>")
        .section("Metrics")
        .table([{"model": "mlp", "r2": 0.91234567}], caption="scores")
        .figure(fig, "curve", "a line")
        .save(tmp_path / "r.html")
    )
    text = page.read_text()
    assert "Test &lt;report&gt;" in text and "0.9123" in text and "r_files/curve.png" in text
    assert (tmp_path / "r_files" / "curve.png").stat().st_size > 1000
