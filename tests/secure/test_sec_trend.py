"""Slow poisoning across versions: an anchored CUSUM on the suspicious-label rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb import errors
from mlops_nb.secure import PoisoningTrend
from mlops_nb.secure._trend import cusum


@pytest.fixture(scope="module")
def population():
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=20_000,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        class_sep=1.5,
        flip_y=0,
        random_state=0,
    )


def versions(project, population, rates, *, n=1000, name="stream"):
    X, y = population
    for v, rate in enumerate(rates):
        rng = np.random.default_rng(v)
        pick = rng.choice(len(y), n, replace=False)
        labels = y[pick].copy()
        ones = np.flatnonzero(labels == 1)
        labels[rng.choice(ones, round(rate * len(ones)), replace=False)] = (
            0  # targeted: 1 -> 0
        )
        frame = pd.DataFrame(X[pick], columns=[f"x{i}" for i in range(8)]).assign(
            y=labels
        )
        project.data(name, frame, target="y")


def test_clean_versions_raise_no_alert(sec_project, population):
    versions(sec_project, population, [0.0] * 8)
    trend = sec_project.poisoning_trend("stream", n_estimators=50)
    assert isinstance(trend, PoisoningTrend)
    assert not trend.alarm
    assert trend.first_alarm is None
    assert "no change point" in repr(trend)


def test_slow_poisoning_raises_a_change_point_alert(sec_project, population):
    rates = [
        0,
        0,
        0,
        0,
        0.02,
        0.04,
        0.06,
        0.08,
    ]  # 2 % more of class 1 flipped per version
    versions(sec_project, population, rates)
    trend = sec_project.poisoning_trend("stream", n_estimators=50)
    assert trend.alarm
    assert 5 <= trend.first_alarm <= 8
    frame = trend.to_frame()
    assert list(frame["version"]) == list(range(1, 9))
    assert "cusum all" in frame
    assert {a["series"] for a in trend.alerts} & {"all", "label 0"}
    html = trend._repr_html_()
    assert "anchored baseline" in html
    assert "alert" in html


def test_cusum_is_anchored_and_validated(sec_project):
    scores, first, mu0, _ = cusum(
        [0.01, 0.012, 0.011, 0.011, 0.03, 0.05],
        [1000] * 6,
        baseline=3,
        k=0.5,
        h=5,
        rel_floor=0.25,
        abs_floor=0.003,
    )
    assert first == 4
    assert scores[:3] == [0, 0, 0]
    assert abs(mu0 - 0.011) < 1e-9
    # a slow rise: against the anchored baseline it accumulates into an alert ...
    slow = [0.01 + 0.001 * t for t in range(20)]
    assert (
        cusum(
            slow, [1000] * 20, baseline=3, k=0.5, h=5, rel_floor=0.25, abs_floor=0.003
        )[1]
        is not None
    )
    # ... while a detector comparing each version with the previous one never alarms
    previous = [
        cusum(
            slow[t - 1 : t + 1],
            [1000] * 2,
            baseline=1,
            k=0.5,
            h=5,
            rel_floor=0.25,
            abs_floor=0.003,
        )[1]
        for t in range(1, 20)
    ]
    assert previous == [None] * 19
    sec_project.data("one", pd.DataFrame({"x": range(10), "y": [0, 1] * 5}), target="y")
    with pytest.raises(errors.ValidationError, match="more versions than the baseline"):
        sec_project.poisoning_trend("one")
    with pytest.raises(errors.NotFoundError):
        sec_project.poisoning_trend("nope")
