"""RAW's honest forecast evaluation: observed truths, the baselines, the paired bootstrap."""

from __future__ import annotations

import numpy as np

from urbansig.models.raw.baselines import last_displacement, routine
from urbansig.models.raw.evaluate import (
    Fixes,
    context_arrays,
    error_rows,
    forecast_cases,
    paired_bootstrap,
)
from urbansig.models.raw.sequences import resample

STEP = 1800
MONDAY = 1553472000  # 2019-03-25 00:00 UTC


def _fixes_and_seq(t, x, user=None):
    t = np.asarray(t, dtype=np.int64)
    user = np.zeros(len(t), np.int64) if user is None else np.asarray(user, np.int64)
    x = np.asarray(x, dtype=float)
    ids = np.array([f"u{i}" for i in range(int(user.max()) + 1)], dtype=object)
    seq = resample(user, t, x, np.zeros(len(t)), ids, STEP, 7200)
    return Fixes(user, t, x, np.zeros(len(t))), seq


def test_nearest_fix_within_the_tolerance_only_and_never_another_users():
    fixes = Fixes(np.array([0, 0, 1]), np.array([100, 1000, 1005]), np.array([1.0, 2, 3]),
                  np.zeros(3))  # fmt: skip
    x, _, found = fixes.nearest(np.array([0, 0, 0, 1]), np.array([990, 560, 5000, 100]), 300)
    assert list(found) == [True, False, False, False]
    assert x[0] == 2.0


def test_truth_is_an_observed_fix_not_a_carried_position():
    # fixes at 0, 30 and 60 min, then silence until 150 min: the steps in between carry
    # the 60 min position (no gap for 120 min), but no truth exists there
    t = np.array([0, 1800, 3600, 9000]) + MONDAY
    fixes, seq = _fixes_and_seq(t, [0.0, 1000.0, 2000.0, 9000.0])
    assert not seq.gap[3] and not seq.fresh[3]  # carried, within the gap limit
    cases = forecast_cases(seq, fixes, context_len=4, horizon=3, tolerance_s=600)
    # origins: the fixes at 0, 30, 60 min (each has a truth within 3 steps); 150 min has none
    assert list(cases.origin) == [0, 1, 2]
    assert cases.truth_ok.tolist() == [[True, True, False], [True, False, False],
                                       [False, False, True]]  # fmt: skip
    np.testing.assert_allclose(cases.truth[2, 2], [9000.0, 0.0])
    x, _, gap, fresh, time = context_arrays(seq, cases)
    assert gap[0, :3].all() and not gap[0, 3] and fresh[2].tolist() == [False, True, True, True]
    assert list(time[0]) == [MONDAY - 3 * STEP, MONDAY - 2 * STEP, MONDAY - STEP, MONDAY]
    assert x[1, -1] == 1000.0


def test_paired_bootstrap_resamples_units_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    units = np.repeat(np.arange(8), 50)
    diff = rng.normal(-0.5, 0.2, 400) + np.repeat(rng.normal(0, 0.05, 8), 50)
    mean, low, high = paired_bootstrap(diff, units)
    assert low < mean < high < 0
    # one unit with many cases: the interval over units is wider than over cases
    _, low1, high1 = paired_bootstrap(diff, np.arange(400))
    assert high - low > high1 - low1
    same = paired_bootstrap(np.zeros(10), np.arange(10))
    assert same == (0.0, 0.0, 0.0)


def test_error_rows_give_means_medians_and_the_reference_difference():
    t = MONDAY + np.arange(10) * STEP
    fixes, seq = _fixes_and_seq(t, np.arange(10) * 1000.0)
    cases = forecast_cases(seq, fixes, 4, 2, 60)
    truth = cases.truth
    rows = error_rows(cases, {"raw": truth, "persistence": truth + 1000.0}, STEP)
    assert [r["horizon_min"] for r in rows] == [30.0, 60.0]
    assert rows[0]["raw_km"] == 0.0 and np.isclose(rows[0]["persistence_median_km"], np.sqrt(2))
    assert rows[0]["raw_minus_persistence_high"] < 0


def test_last_displacement_extrapolates_and_falls_back_to_persistence():
    x, y = np.array([10.0, 10.0]), np.array([0.0, 0.0])
    pred = last_displacement(x, y, np.array([4.0, 4.0]), np.array([0.0, 0.0]),
                             np.array([True, False]), 3)  # fmt: skip
    assert pred[0, :, 0].tolist() == [16.0, 22.0, 28.0]
    assert pred[1, :, 0].tolist() == [10.0, 10.0, 10.0]


def test_routine_is_the_users_usual_place_then_from_earlier_days_only():
    # a user at home (0 m) at night and at work (8 km) 9:00-17:00 on weekdays, for 3 days
    t = MONDAY + np.arange(3 * 48) * STEP
    hour = (t % 86400) / 3600
    x = np.where((hour >= 9) & (hour < 17), 8000.0, 0.0)
    _, seq = _fixes_and_seq(t, x)
    origin = np.array([[0.0, 0.0], [0.0, 0.0]])
    day = np.array([MONDAY // 86400 + 2, MONDAY // 86400])  # Wednesday; Monday (no history)
    target = np.array([[MONDAY + 2 * 86400 + 10 * 3600], [MONDAY + 10 * 3600]])
    pred = routine(seq, np.array([0, 0]), day, target, origin)
    assert pred[0, 0, 0] == 8000.0  # Wednesday 10:00: at work, as on Monday and Tuesday
    assert pred[1, 0, 0] == 0.0  # Monday: no earlier day, so persistence
