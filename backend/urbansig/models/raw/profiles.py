"""Per-user profiles from fixed-step sequences: home/work estimates, hand-crafted mobility
features, and a small held-out classifier of user labels (scikit-learn, imported inside).
"""

from __future__ import annotations

import numpy as np

from urbansig.models.raw import MARKOV_CELL_M
from urbansig.models.raw.baselines import GridCells
from urbansig.models.raw.sequences import Resampled, time_features

NIGHT_HOURS = (22, 6)  # local time, wraps midnight
WORK_HOURS = (9, 17)  # local time, Monday to Friday


def _mode_position(
    seq: Resampled, grid: GridCells, select: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per user: the mean position of the selected steps in their most frequent cell, and the
    share of selected steps in that cell (NaN where a user has no selected step)."""
    n_users = len(seq.user_ids)
    hx, hy, share = (np.full(n_users, np.nan) for _ in range(3))
    if not select.any():
        return hx, hy, share
    users, cells = seq.user[select], grid.cell(seq.x[select], seq.y[select])
    pairs, inverse, counts = np.unique(
        np.stack([users, cells], 1), axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    order = np.lexsort((-counts, pairs[:, 0]))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pairs[order[1:], 0] != pairs[order[:-1], 0]
    best = order[first]  # pair index of each user's top cell
    best_users = pairs[best, 0]
    in_best = np.zeros(len(pairs), dtype=bool)
    in_best[best] = True
    hit = in_best[inverse]
    totals = np.bincount(users, minlength=n_users)
    sx = np.bincount(users[hit], weights=seq.x[select][hit], minlength=n_users)
    sy = np.bincount(users[hit], weights=seq.y[select][hit], minlength=n_users)
    top = np.bincount(users[hit], minlength=n_users)
    hx[best_users] = sx[best_users] / top[best_users]
    hy[best_users] = sy[best_users] / top[best_users]
    share[best_users] = top[best_users] / totals[best_users]
    return hx, hy, share


def home_work(
    seq: Resampled, utc_offset_s: int = 0, cell_m: float = MARKOV_CELL_M
) -> dict[str, np.ndarray]:
    """Home (most frequent night-time place) and work (most frequent weekday-daytime place).

    Returns home_x, home_y, work_x, work_y (CRS of ``seq``; NaN when unknown) and the shares
    of night / weekday-daytime steps spent there (home_share, work_share).
    """
    grid = GridCells(float(np.min(seq.x)), float(np.min(seq.y)), cell_m)
    local = seq.time + seq.step_s // 2 + int(utc_offset_s)
    hour = (local % 86_400) // 3600
    _, dow = time_features(seq.time, seq.step_s, utc_offset_s)
    observed = ~seq.gap
    night = observed & ((hour >= NIGHT_HOURS[0]) | (hour < NIGHT_HOURS[1]))
    work = observed & (dow < 5) & (hour >= WORK_HOURS[0]) & (hour < WORK_HOURS[1])
    home_x, home_y, home_share = _mode_position(seq, grid, night)
    work_x, work_y, work_share = _mode_position(seq, grid, work)
    return {
        "home_x": home_x,
        "home_y": home_y,
        "work_x": work_x,
        "work_y": work_y,
        "home_share": home_share,
        "work_share": work_share,
    }


def handcrafted_features(
    seq: Resampled, utc_offset_s: int = 0, cell_m: float = MARKOV_CELL_M
) -> tuple[np.ndarray, list[str]]:
    """The baseline's features per user: home-work distance and regularity of daily places."""
    hw = home_work(seq, utc_offset_s, cell_m)
    n_users = len(seq.user_ids)
    obs = ~seq.gap
    users, x, y = seq.user[obs], seq.x[obs], seq.y[obs]
    count = np.maximum(np.bincount(users, minlength=n_users), 1)
    mx = np.bincount(users, weights=x, minlength=n_users) / count
    my = np.bincount(users, weights=y, minlength=n_users) / count
    gyration = np.sqrt(
        np.bincount(users, weights=(x - mx[users]) ** 2 + (y - my[users]) ** 2, minlength=n_users)
        / count
    )
    grid = GridCells(float(np.min(seq.x)), float(np.min(seq.y)), cell_m)
    distinct = np.bincount(np.unique(np.stack([users, grid.cell(x, y)], 1), axis=0)[:, 0],
                           minlength=n_users)  # fmt: skip
    home_x = np.where(np.isnan(hw["home_x"]), mx, hw["home_x"])
    home_y = np.where(np.isnan(hw["home_y"]), my, hw["home_y"])
    work_x = np.where(np.isnan(hw["work_x"]), home_x, hw["work_x"])
    work_y = np.where(np.isnan(hw["work_y"]), home_y, hw["work_y"])
    features = np.stack(
        [
            np.hypot(work_x - home_x, work_y - home_y) / 1000.0,
            np.nan_to_num(hw["home_share"]),
            np.nan_to_num(hw["work_share"]),
            gyration / 1000.0,
            distinct / count,
        ],
        1,
    )
    names = ["home_work_km", "home_share", "work_share", "gyration_km", "distinct_cells_per_step"]
    return features, names


def classify_users(
    features: np.ndarray, labels: np.ndarray, seed: int = 0, folds: int = 5
) -> dict[str, float] | None:
    """Held-out accuracy and balanced accuracy (the mean of per-label recalls: 0.5 for a
    majority-class guess) of a standardised logistic regression whose inverse regularisation C
    is chosen by an inner 3-fold CV on the training part of each outer fold (stratified k-fold,
    same folds for any features given the same labels and seed; None if too few labels)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2 or counts.min() < 2:
        return None
    k = int(min(folds, counts.min()))
    smallest_train = int(counts.min() - -(-counts.min() // k))  # rarest label, training part
    if smallest_train >= 3:
        model = LogisticRegressionCV(
            Cs=np.logspace(-3, 2, 11), cv=3, scoring="accuracy", l1_ratios=(0.0,),
            use_legacy_attributes=False, max_iter=3000,
        )  # fmt: skip
    else:  # too few labels for an inner split: the default C
        model = LogisticRegression(max_iter=3000)
    classifier = make_pipeline(StandardScaler(), model)
    scores = cross_validate(
        classifier,
        np.asarray(features, dtype=float),
        labels,
        cv=StratifiedKFold(k, shuffle=True, random_state=seed),
        scoring=("accuracy", "balanced_accuracy"),
    )
    accuracy, balanced = scores["test_accuracy"], scores["test_balanced_accuracy"]
    return {
        "accuracy_mean": float(accuracy.mean()),
        "accuracy_std": float(accuracy.std()),
        "balanced_accuracy_mean": float(balanced.mean()),
        "balanced_accuracy_std": float(balanced.std()),
        "folds": k,
    }
