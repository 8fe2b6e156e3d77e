"""Group rates per chunk: bincount counting equals fairlearn's MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.drift._fairness import fairness_over_time, group_counts, rates


def test_group_rates_per_chunk_equal_fairlearn_metricframe():
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    rng = np.random.default_rng(0)
    n, k = 20_000, 5
    groups = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    codes = np.sort(rng.integers(0, k, n))
    y_true = rng.random(n) < 0.4
    y_pred = rng.random(n) < np.where(groups == "b", 0.3, 0.5)
    gcodes, uniques = pd.factorize(groups, sort=True)
    ours = rates(
        group_counts(gcodes, len(uniques), codes, k, y_pred, y_true, np.ones(n, bool))
    )
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
    }
    for c in range(k):
        rows = codes == c
        mf = MetricFrame(
            metrics=metrics,
            y_true=y_true[rows],
            y_pred=y_pred[rows],
            sensitive_features=groups[rows],
        )
        for name in metrics:
            expected = mf.by_group[name].reindex(list(uniques)).to_numpy()
            np.testing.assert_allclose(ours[name][c], expected, rtol=0, atol=1e-12)


def _stream(n, k, gap_from=None, seed=0):
    rng = np.random.default_rng(seed)
    groups = pd.Series(rng.choice(["A", "B"], n, p=[0.7, 0.3]))
    codes = np.repeat(np.arange(k), n // k)
    p = np.full(n, 0.5)
    if gap_from is not None:
        p[(codes >= gap_from) & (groups == "B").to_numpy()] = 0.3
    decided = rng.random(n) < p
    actual = rng.random(n) < 0.5
    return groups, codes, decided, actual


def test_a_gap_that_opens_is_an_alert_and_a_steady_one_is_not():
    ref = _stream(10_000, 10, seed=1)
    ana = _stream(10_000, 10, gap_from=6, seed=2)
    out = fairness_over_time(
        ref[0],
        ref[1],
        10,
        ref[2],
        ref[3],
        ana[0],
        ana[1],
        10,
        ana[2],
        ana[3],
        np.zeros(10_000, bool),
    )
    sel = out["rates"]["selection_rate"]
    assert sel["alert"][6:] == [True] * 4
    assert not any(sel["alert"][:6])
    assert out["compared"] == ["A", "B"]
    assert all(v is None for v in out["rates"]["tpr"]["disparity"])  # no labels: no TPR
    assert sel["disparity"][7] == pytest.approx(0.2, abs=0.05)
