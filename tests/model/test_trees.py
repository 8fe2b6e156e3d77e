"""Parity of the numpy tree table with LightGBM's own ``Booster.predict``, to the
bit."""

from __future__ import annotations

import struct

import lightgbm as lgb
import numpy as np
import pytest

from _helpers import reopen
from mlops_nb import errors
from mlops_nb.model._trees import SMALL_BATCH, TreeTable


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 3] = np.round(X[:, 3])  # many exact zeros
    X[rng.random((n, 6)) < 0.07] = np.nan  # missing values LightGBM routes by its rules
    signal = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) + np.isnan(X[:, 2])
    return X, signal + rng.normal(scale=0.7, size=n)


def _fit(kind, **params):
    X, s = _data()
    base = {"n_estimators": 40, "verbose": -1, "random_state": 0, **params}
    if kind == "binary":
        return lgb.LGBMClassifier(**base).fit(X, (s > 0).astype(int)).booster_
    if kind == "multiclass":
        return lgb.LGBMClassifier(**base).fit(X, np.digitize(s, [-0.7, 0.7])).booster_
    y = np.abs(s) if kind == "poisson" else s
    return lgb.LGBMRegressor(objective=kind, **base).fit(X, y).booster_


def _table(booster):
    table = TreeTable.from_model_text(booster.model_to_string())
    assert table is not None
    return TreeTable.from_bytes(table.to_bytes(), artifact="t" * 64)  # what a load sees


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("binary", {}),
        ("binary", {"zero_as_missing": True}),
        ("binary", {"use_missing": False}),
        ("binary", {"min_child_samples": 5000}),  # every tree is a single leaf
        ("multiclass", {}),
        ("regression", {}),
        ("huber", {"num_leaves": 63}),
    ],
)
def test_predictions_equal_lightgbm_bit_for_bit(kind, params):
    booster = _fit(kind, **params)
    table = _table(booster)
    X, _ = _data(600, seed=1)
    X[:5] = [0.0, -0.0, 1e-40, -1e-36, np.nan, 3.0]  # zero-threshold edge cases
    ours, theirs = table.predict(X), booster.predict(X)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
    raw = table.raw(X)
    np.testing.assert_array_equal(
        raw[:, 0] if raw.shape[1] == 1 else raw, booster.predict(X, raw_score=True)
    )
    # one row at a time (what serving does) equals the batch
    np.testing.assert_array_equal(table.predict(X[7:8]), theirs[7:8])


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("poisson", {}),  # exp link: not a raw-score objective
        ("regression", {"linear_tree": True}),
        ("binary", {"boosting_type": "rf", "bagging_freq": 1, "bagging_fraction": 0.5}),
    ],
)
def test_models_outside_the_table_stay_with_lightgbm(kind, params):
    assert TreeTable.from_model_text(_fit(kind, **params).model_to_string()) is None


def test_categorical_splits_stay_with_lightgbm():
    X, s = _data()
    X[:, 4] = np.abs(np.nan_to_num(np.round(X[:, 4] * 3)))
    booster = (
        lgb.LGBMClassifier(n_estimators=20, verbose=-1)
        .fit(X, (s + (X[:, 4] == 2) > 0).astype(int), categorical_feature=[4])
        .booster_
    )
    assert "num_cat=0" not in booster.model_to_string().split("Tree=1")[0]
    assert TreeTable.from_model_text(booster.model_to_string()) is None


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("truncate", "runs past the end"),
        ("child out of range", "'left' points outside the table"),
        ("feature out of range", "names a feature the model does not have"),
        ("header", "bad header"),
        ("magic", "magic bytes"),
    ],
)
def test_damaged_tables_are_refused(damage, why):
    table = TreeTable.from_model_text(_fit("binary").model_to_string())
    data = bytearray(table.to_bytes())
    (length,) = struct.unpack_from("<I", data, 8)
    header_end = 12 + length
    n = table.arrays["value"].size
    if damage == "truncate":
        data = data[:-9]
    elif (
        damage == "child out of range"
    ):  # first entry of "left": after feature, threshold
        struct.pack_into("<i", data, header_end + n * 4 + n * 8, n + 5)
    elif damage == "feature out of range":
        struct.pack_into("<i", data, header_end, 99)
    elif damage == "header":
        data[12:14] = b"[["
    else:
        data[:8] = b"NOTTREES"
    with pytest.raises(
        errors.UnsupportedFormatError, match="not a readable tree table"
    ) as e:
        TreeTable.from_bytes(bytes(data), artifact="d" * 64)
    assert why in str(e.value)


def test_a_stored_version_predicts_few_rows_from_the_table(
    project, tiny_asset, monkeypatch
):
    model = project.train(
        "m", tiny_asset, estimator="lightgbm", params={"n_estimators": 25}
    )
    assert "trees" in model.artifacts
    frame = tiny_asset.frame
    calls = []
    real = lgb.Booster.__init__
    monkeypatch.setattr(
        lgb.Booster,
        "__init__",
        lambda self, *a, **k: calls.append(1) or real(self, *a, **k),
    )
    fresh = reopen(project).model("m", version=1)
    few = fresh.predict_proba(frame.head(SMALL_BATCH))
    assert calls == []  # no LightGBM text parsed for a small batch
    many = fresh.predict_proba(frame)  # 400 rows: LightGBM's own predict
    assert len(frame) > SMALL_BATCH
    assert calls == [1]
    np.testing.assert_array_equal(few, many[:SMALL_BATCH])
    np.testing.assert_array_equal(
        fresh.predict(frame.head(3)), model.predict(frame.head(3))
    )


def test_extreme_scores_saturate_like_c_instead_of_raising():
    table = TreeTable.from_model_text(_fit("binary").model_to_string())
    shifted = {
        **table.arrays,
        "value": table.arrays["value"] - 1e4,
    }  # exp(+1e4) overflows
    low = TreeTable(shifted, table.n_features, 1, "binary", table.sigmoid, table.depth)
    X, _ = _data(3, seed=2)
    assert low.predict(X).tolist() == [0.0, 0.0, 0.0]  # 1 / (1 + inf), as in C
