import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from urbansig import evaluation


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    p = y + rng.normal(scale=0.5, size=200)
    m = evaluation.regression_metrics(y, p)
    assert m["r2"] == pytest.approx(r2_score(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p))


def test_cluster_accuracy_is_permutation_invariant():
    truth = np.array([0, 0, 1, 1, 2, 2])
    assert evaluation.cluster_accuracy(truth, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert evaluation.cluster_accuracy(truth, np.array([0, 0, 0, 1, 2, 2])) == pytest.approx(5 / 6)
    agreement = evaluation.clustering_agreement(truth, np.array([1, 1, 2, 2, 0, 0]))
    assert agreement == {"ari": 1.0, "nmi": pytest.approx(1.0), "acc": 1.0}


def test_spatial_coherence():
    labels = np.array([0, 0, 1, 1])
    chain = [[1], [0, 2], [1, 3], [2]]
    assert evaluation.spatial_coherence(labels, chain) == pytest.approx(4 / 6)
    assert evaluation.expected_coherence(labels) == pytest.approx(0.5)


def test_distances():
    # one degree of latitude is about 111.2 km
    assert evaluation.haversine_km(0, 0, 1, 0) == pytest.approx(111.19, abs=0.05)
    assert evaluation.euclidean_km(np.array([[0, 0]]), np.array([[3000, 4000]]))[0] == 5.0
