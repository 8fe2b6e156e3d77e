"""Stratified splits with rare classes and missing values; infinite values in check().

Generated frames: thousands of rows of common classes plus rare classes of 1, 2, 3,
5 or a few rows, split with many seeds and test shares.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.data._split import stratified_test_mask

_counter = itertools.count()


def _labels(rng, common: int, rare: list[int], *, as_int: bool) -> np.ndarray:
    counts = {f"c{i}": c for i, c in enumerate([common, common // 3, common // 7])}
    counts.update({f"r{i}": c for i, c in enumerate(rare)})
    labels = np.concatenate([[k] * v for k, v in counts.items()])
    rng.shuffle(labels)
    if as_int:
        codes = {k: i for i, k in enumerate(counts)}
        return np.array([codes[v] for v in labels])
    return labels


@settings(max_examples=150, deadline=None)
@given(
    common=st.integers(1000, 4000),
    rare=st.lists(st.sampled_from([2, 3, 5, 2, 4, 7]), min_size=1, max_size=4),
    test=st.sampled_from([0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.8]),
    seed=st.integers(0, 2**32 - 1),
    as_int=st.booleans(),
)
def test_every_class_with_two_rows_is_on_both_sides(common, rare, test, seed, as_int):
    rng = np.random.default_rng(seed)
    y = pd.Series(_labels(rng, common, rare, as_int=as_int), name="y")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no class has a single row: no warning
        is_test = stratified_test_mask(y, test, np.random.default_rng(seed), what="t")
    for value, n in y.value_counts().items():
        in_test = int(is_test[(y == value).to_numpy()].sum())
        assert 1 <= in_test <= n - 1, (value, n, in_test)
        if n >= 20:  # common classes keep the share
            assert abs(in_test - n * test) <= 1


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rare=st.lists(st.sampled_from([2, 3, 5]), min_size=1, max_size=3),
    seed=st.integers(0, 10**6),
    test=st.sampled_from([0.1, 0.2, 0.3]),
)
def test_asset_split_keeps_rare_classes_on_both_sides(project, rare, seed, test):
    rng = np.random.default_rng(seed)
    y = _labels(rng, 1500, rare, as_int=False)
    frame = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    k = next(_counter)
    asset = project.data(f"rare{k}", frame, target="y")
    train, held = asset.split(test=test, seed=seed, stratify="y")
    assert set(train.frame["y"]) == set(held.frame["y"]) == set(y)
    assert train.n_rows + held.n_rows == len(y)


@pytest.mark.parametrize("share", [0.2, 0.6])  # round(0.6) would send the row to test
def test_single_row_classes_warn_naming_them(project, share):
    rng = np.random.default_rng(0)
    y = _labels(rng, 2000, [1, 1, 3], as_int=False)  # r0, r1: one row each
    frame = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    asset = project.data("single", frame, target="y")
    with pytest.warns(UserWarning, match=r"'r0', 'r1'.*single row") as caught:
        train, held = asset.split(test=share, seed=1, stratify="y")
    assert "'r2'" not in str(caught[0].message)
    assert {"r0", "r1"} <= set(train.frame["y"])
    assert "r2" in set(held.frame["y"])
    assert "r2" in set(train.frame["y"])


@pytest.mark.parametrize("dtype", ["float", "object", "string", "Int64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_missing_stratify_values_are_kept_and_reported(project, dtype, seed):
    rng = np.random.default_rng(seed)
    n = 600
    y = rng.choice([0, 1, 2], size=n, p=[0.6, 0.3, 0.1]).astype(object)
    missing = rng.random(n) < 0.1
    y[missing] = None
    if dtype == "float":
        col = pd.Series(y, dtype="float64")
    elif dtype == "object":
        col = pd.Series([None if v is None else f"class {v}" for v in y], dtype=object)
    elif dtype == "string":
        col = pd.Series([None if v is None else f"k{v}" for v in y], dtype="string")
    else:
        col = pd.Series(y, dtype="Int64")
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": col})
    asset = project.data(f"m{dtype}{seed}", frame, target="y")
    n_missing = int(missing.sum())
    with pytest.warns(UserWarning, match=f"{n_missing:,} of {n:,} rows have no 'y'"):
        train, held = asset.split(test=0.25, seed=seed, stratify="y")
    assert train.n_rows + held.n_rows == n  # nothing dropped
    assert 0 < held.frame["y"].isna().sum() < n_missing
    assert train.frame["y"].isna().sum() + held.frame["y"].isna().sum() == n_missing
    for value in col.dropna().unique():
        assert (held.frame["y"] == value).any()
        assert (train.frame["y"] == value).any()


# -- infinite values in check() -----------------------------------------------------
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(30, 400),
    plant=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.integers(1, 10), min_size=0, max_size=3
    ),
    seed=st.integers(0, 10**6),
)
def test_check_names_columns_with_infinite_values(project, n, plant, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {c: rng.normal(size=n) for c in "abc"} | {"y": rng.integers(0, 2, size=n)}
    )
    frame.loc[rng.random(n) < 0.05, "b"] = np.nan  # missing is not infinite
    for col, count in plant.items():
        rows = rng.choice(n, size=count, replace=False)
        frame.loc[rows, col] = rng.choice([np.inf, -np.inf], size=count)
    asset = project.data(f"inf{next(_counter)}", frame, target="y")
    report = asset.check()
    found = {f["column"]: f for f in report.by_check("infinite values")}
    assert set(found) == set(plant)
    for col, count in plant.items():
        assert found[col]["severity"] == "error"
        assert found[col]["value"] == count
        assert f"{count:,} of {n:,}" in found[col]["message"]
    if plant:
        assert not report.ok
