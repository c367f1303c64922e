"""FlowEmbedder: deterministic per seed, saved and loaded exactly, new regions aligned by id."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def small_city(seed: int = 0, n: int = 12):
    from urbansig.models.flows import FlowData

    rng = np.random.default_rng(seed)
    od = rng.poisson(rng.gamma(1.0, 3.0, size=(n, n))).astype(float)
    views = {"poi": rng.poisson(5.0, size=(n, 4)).astype(float)}
    return FlowData(np.arange(100, 100 + n), od, views)


def settings(**over):
    from urbansig.models.flows import FlowSettings

    return FlowSettings(**{"epochs": 20, "dim": 8, "width": 16, **over})


def test_same_seed_same_embedding_other_seed_differs():
    from urbansig.models.flows import FlowEmbedder

    data = small_city()
    a = FlowEmbedder(settings(), "cpu", seed=0).fit(data).transform(data)
    b = FlowEmbedder(settings(), "cpu", seed=0).fit(data).transform(data)
    c = FlowEmbedder(settings(), "cpu", seed=1).fit(data).transform(data)
    assert a.shape == (12, 8 + 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:, :8], c[:, :8])


def test_training_lowers_the_self_supervised_loss():
    from urbansig.models.flows import FlowEmbedder

    model = FlowEmbedder(settings(epochs=60), "cpu").fit(small_city())
    assert model.history.train_loss[-1] < 0.8 * model.history.train_loss[0]


def test_saved_model_reproduces_and_embeds_a_subset_by_id(tmp_path):
    from urbansig.models.flows import FlowData, FlowEmbedder

    data = small_city()
    model = FlowEmbedder(settings(), "cpu").fit(data)
    path = model.save(tmp_path / "flows.pt")
    loaded = FlowEmbedder.load(path)
    np.testing.assert_allclose(loaded.transform(data), model.transform(data), atol=1e-6)
    keep = np.array([5, 2, 9])
    subset = FlowData(
        data.region_ids[keep], data.od[:, keep][:, :, keep], {"poi": data.views["poi"][keep]}
    )
    assert loaded.transform(subset).shape == (3, 10)


def test_other_views_than_trained_is_a_clear_error():
    from urbansig.models.flows import FlowData, FlowEmbedder
    from urbansig.protocol import BadInput

    data = small_city()
    model = FlowEmbedder(settings(), "cpu").fit(data)
    other = FlowData(data.region_ids, data.od, {"landuse": data.views["poi"]})
    with pytest.raises(BadInput, match="VIEWS"):
        model.transform(other)
    with pytest.raises(BadInput, match="OD"):
        FlowData(data.region_ids, data.od[:, :5, :5])
