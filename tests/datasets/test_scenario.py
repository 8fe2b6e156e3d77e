from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.datasets import Scenario, scenario
from mlops_nb.errors import ValidationError

N = 10_000


def _positive_rate(s: Scenario, level: str) -> float:
    f = s.frame
    return float(f.loc[f["group"] == level, "y"].mean())


def test_frame_layout_and_roles():
    s = scenario(N, seed=0)
    f = s.frame
    assert list(f.columns) == [
        "id",
        "timestamp",
        "group",
        "region",
        "age",
        "x1",
        "x2",
        "x3",
        "x4",
        "x5",
        "y",
    ]
    assert len(f) == N
    assert f["id"].tolist() == list(range(N))
    assert f["timestamp"].is_monotonic_increasing
    assert f["timestamp"].is_unique
    assert (f["timestamp"].diff().dropna() == pd.Timedelta("1min")).all()
    assert list(f["group"].cat.categories) == ["A", "B"]
    assert f["region"].cat.categories.size == 4
    assert set(f["y"].unique()) == {0, 1}
    assert 0.3 < f["y"].mean() < 0.5
    assert 0.27 < (f["group"] == "B").mean() < 0.33
    assert f["age"].between(18, 80).all()
    assert (f["x5"] > 0).all()
    assert (s.target, s.sensitive, s.time, s.id) == ("y", ("group",), "timestamp", "id")
    assert set(s.features) <= set(f.columns)
    assert "group" not in s.features
    assert s.target not in s.features


def test_clean_scenario_has_no_effects():
    s = scenario(N, seed=0)
    assert s.drifted_features == ()
    assert s.drift_start is None
    assert len(s.flipped) == 0
    assert len(s.poisoned) == 0
    assert s.disadvantaged_group is None
    np.testing.assert_array_equal(s.frame["y"].to_numpy(), s.y_clean)
    assert "clean" in repr(s)


def test_same_seed_same_frame_different_seed_different():
    kwargs = {"drift": {}, "bias": {}, "label_noise": 0.1, "poison": {"outliers": 3}}
    a = scenario(2_000, seed=7, **kwargs)
    b = scenario(2_000, seed=7, **kwargs)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    np.testing.assert_array_equal(a.flipped, b.flipped)
    np.testing.assert_array_equal(a.poisoned, b.poisoned)
    c = scenario(2_000, seed=8, **kwargs)
    assert not a.frame["x1"].equals(c.frame["x1"])
    assert not np.array_equal(a.flipped, c.flipped)


def test_base_problem_is_learnable():
    sklearn = pytest.importorskip("sklearn.linear_model")
    from sklearn.metrics import roc_auc_score

    s = scenario(20_000, seed=3)
    x = pd.get_dummies(s.frame[list(s.features)], dtype=float)
    x["x5"] = np.log(x["x5"])
    y = s.frame["y"]
    model = sklearn.LogisticRegression(max_iter=500).fit(x[:10_000], y[:10_000])
    auc = roc_auc_score(y[10_000:], model.predict_proba(x[10_000:])[:, 1])
    assert 0.75 < auc < 0.9


def test_drift_shifts_numeric_mean_from_start():
    s = scenario(N, seed=1, drift={"features": ["x1", "region"], "start": 0.5})
    assert s.drifted_features == ("x1", "region")
    assert s.drift_start == N // 2
    x1 = s.frame["x1"]
    before, after = x1[: s.drift_start], x1[s.drift_start :]
    assert (after.mean() - before.mean()) / before.std() > 0.8
    # Undrifted columns keep their distribution.
    x2 = s.frame["x2"]
    assert abs(x2[: s.drift_start].mean() - x2[s.drift_start :].mean()) < 0.1


def test_clean_data_has_no_drift():
    s = scenario(N, seed=1)
    half = N // 2
    for col in ("x1", "x2", "x3", "x4", "age"):
        x = s.frame[col]
        assert abs(x[half:].mean() - x[:half].mean()) / x.std() < 0.1, col
    west = s.frame["region"] == "west"
    assert abs(west[half:].mean() - west[:half].mean()) < 0.03


def test_drift_raises_rare_category_share_and_records_it():
    s = scenario(N, seed=2, drift={"features": "region", "start": 0.3, "shift": 1.0})
    start = int(0.3 * N)
    assert s.drift_start == start
    west = s.frame["region"] == "west"
    assert west[:start].mean() < 0.13
    assert west[start:].mean() > 0.45
    change = s.truth["drift"]["changes"]["region"]
    assert change["level"] == "west"
    assert change["share_after"]["west"] == pytest.approx(0.55)


def test_drift_leaves_rows_before_start_untouched():
    clean = scenario(N, seed=4)
    drifted = scenario(N, seed=4, drift={"features": ["x1", "x5", "age", "group"]})
    start = drifted.drift_start
    pd.testing.assert_frame_equal(
        clean.frame.iloc[:start], drifted.frame.iloc[:start], check_exact=True
    )
    assert not clean.frame["x1"].iloc[start:].equals(drifted.frame["x1"].iloc[start:])


def test_concept_drift_changes_labels_not_features():
    clean = scenario(N, seed=5)
    concept = scenario(
        N, seed=5, drift={"features": ["x1"], "shift": 2.0, "kind": "concept"}
    )
    start = concept.drift_start
    pd.testing.assert_frame_equal(
        clean.frame.drop(columns="y"), concept.frame.drop(columns="y"), check_exact=True
    )
    y0, y1 = clean.frame["y"], concept.frame["y"]
    assert (y0[:start] == y1[:start]).all()
    assert (y0[start:] != y1[start:]).mean() > 0.1
    # The sign of x1's effect is reversed after the start.
    x1 = concept.frame["x1"]
    assert np.corrcoef(x1[:start], y1[:start])[0, 1] > 0.2
    assert np.corrcoef(x1[start:], y1[start:])[0, 1] < -0.2


def test_label_noise_flips_are_recorded_exactly():
    clean = scenario(N, seed=6)
    noisy = scenario(N, seed=6, label_noise=0.1)
    pd.testing.assert_frame_equal(
        clean.frame.drop(columns="y"), noisy.frame.drop(columns="y"), check_exact=True
    )
    np.testing.assert_array_equal(noisy.y_clean, clean.frame["y"].to_numpy())
    differ = np.flatnonzero(clean.frame["y"].to_numpy() != noisy.frame["y"].to_numpy())
    np.testing.assert_array_equal(differ, noisy.flipped)
    assert len(noisy.flipped) == 1_000


def test_bias_lowers_group_b_positive_rate():
    clean = scenario(N, seed=0)
    gap_clean = _positive_rate(clean, "A") - _positive_rate(clean, "B")
    assert abs(gap_clean) < 0.04
    biased = scenario(N, seed=0, bias={"group": "B", "strength": 1.0})
    assert biased.disadvantaged_group == ("group", "B")
    assert biased.truth["bias"]["intercept_shift"] == -1.0
    gap = _positive_rate(biased, "A") - _positive_rate(biased, "B")
    assert gap > 0.1
    # Group A is unchanged; B only loses positives.
    a = clean.frame["group"] == "A"
    assert (clean.frame.loc[a, "y"] == biased.frame.loc[a, "y"]).all()
    assert (biased.frame["y"] <= clean.frame["y"]).all()


def test_poison_flips_target_class_and_adds_outliers():
    clean = scenario(N, seed=9, label_noise=0.05)
    s = scenario(
        N,
        seed=9,
        label_noise=0.05,
        poison={"rate": 0.05, "target_class": 1, "outliers": 10},
    )
    details = s.truth["poison"]
    flips, outliers = details["flipped"], details["outliers"]
    np.testing.assert_array_equal(s.poisoned, np.union1d(flips, outliers))
    assert len(outliers) == 10
    assert not set(s.poisoned) & set(s.flipped)
    n_target = int(
        ((clean.frame["y"] == 1) & ~clean.frame["id"].isin(clean.flipped)).sum()
    )
    assert len(flips) == round(0.05 * n_target)
    # Poisoned label flips turn class 1 into class 0.
    assert (clean.frame["y"].to_numpy()[flips] == 1).all()
    assert (s.frame["y"].to_numpy()[flips] == 0).all()
    # Outliers are extreme in every numeric feature x1..x4.
    assert (s.frame.loc[outliers, ["x1", "x2", "x3", "x4"]].abs() >= 6).all().all()
    assert (s.frame.drop(index=outliers)[["x1", "x2", "x4"]].abs() < 6).all().all()
    # Labels differ from clean ones only on recorded rows.
    differ = np.flatnonzero(s.y_clean != s.frame["y"].to_numpy())
    assert set(differ) <= set(s.flipped) | set(s.poisoned)
    assert set(s.flipped) | set(flips) <= set(differ)


def test_split_defaults_to_drift_start():
    s = scenario(1_000, seed=0, drift={"start": 0.6})
    ref, ana = s.split()
    assert len(ref) == 600
    assert ana["id"].iloc[0] == 600
    ref, ana = scenario(1_000).split()
    assert len(ref) == len(ana) == 500
    with pytest.raises(ValidationError, match="at=0"):
        s.split(at=0)


def test_truth_is_a_copy_and_arrays_are_read_only():
    s = scenario(1_000, seed=0, label_noise=0.1)
    with pytest.raises(ValueError, match="read-only"):
        s.flipped[0] = 5
    t = s.truth
    t["flipped"][0] = -5
    t["drift"] = "changed"
    assert s.flipped[0] != -5
    assert s.truth["drift"] is None
    assert "label noise" in repr(s)
    assert "<table>" in s._repr_html_()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, r"n=0: expected a whole number of rows >= 1"),
        ({"n": 2.5}, r"n=2\.5"),
        ({"seed": -1}, r"seed=-1"),
        ({"label_noise": 1.0}, r"label_noise=1\.0: expected a share in \[0, 1\)"),
        ({"label_noise": -0.1}, r"label_noise=-0\.1"),
        ({"drift": {"start": 1.5}}, r"drift\['start'\]=1\.5"),
        (
            {"drift": {"shfit": 1.0}},
            r"unknown key 'shfit'.*'features', 'start', 'shift'.*Did you mean 'shift'",
        ),
        (
            {"drift": {"features": ["regoin"]}},
            r"unknown feature 'regoin'.*'group', 'region'.*Did you mean 'region'",
        ),
        ({"drift": {"features": []}}, r"drift\['features'\]"),
        ({"drift": {"shift": 0}}, r"drift\['shift'\]=0: expected a non-zero"),
        (
            {"drift": {"kind": "concept", "features": ["region"]}},
            r"numeric features only",
        ),
        ({"drift": {"kind": "sudden"}}, r"drift\['kind'\]='sudden'"),
        ({"drift": {"kind": "concept", "features": ["x4"]}}, r"'x4' has no effect"),
        ({"drift": ["x1"]}, r"drift=\['x1'\]: expected a dict"),
        ({"bias": {"group": "C"}}, r"bias\['group'\]='C'.*'A', 'B'"),
        ({"bias": {"strenght": 2}}, r"unknown key 'strenght'.*Did you mean 'strength'"),
        ({"bias": {"strength": -1}}, r"bias\['strength'\]=-1"),
        ({"poison": {"rate": 1}}, r"poison\['rate'\]=1: expected a share in \[0, 1\)"),
        ({"poison": {"target_class": 2}}, r"poison\['target_class'\]=2"),
        ({"poison": {"outliers": -3}}, r"poison\['outliers'\]=-3"),
        (
            {"poison": {"target": 1}},
            r"unknown key 'target'.*'rate', 'target_class', 'outliers'",
        ),
        ({"freq": "sometimes"}, r"not a time"),
    ],
)
def test_bad_input_raises_validation_error(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        scenario(**{"n": 100, **kwargs})


def test_all_problems_reported_together():
    with pytest.raises(ValidationError, match="invalid inputs") as info:
        scenario(0, label_noise=2.0, drift={"features": ["nope"]})
    cases = info.value.failure_cases
    assert set(cases["parameter"]) == {"n", "label_noise", "drift['features']"}
