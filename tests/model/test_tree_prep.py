"""The numpy preprocessing of LightGBM versions against scikit-learn's
ColumnTransformer.

A LightGBM version predicts through :class:`TreePrep` (medians and category lists as
JSON numbers) instead of loading its skops ColumnTransformer. These tests hold the two
to the bit on awkward frames, and check the stored versions use it, keep the skops
file as the reference, and refuse a bad ``tree_prep`` file.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _helpers import reopen
from mlops_nb import errors
from mlops_nb.model._prep import (
    Features,
    TreePrep,
    make_preprocessor,
    prepare_X,
)

FEATURES = Features(("a", "b", "n"), ("c", "d"))


def _awkward(n: int, seed: int) -> pd.DataFrame:
    """Numbers with gaps and extremes, categories with gaps, ints and mixed objects."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    a[rng.random(n) < 0.2] = np.nan
    b = rng.integers(-5, 5, size=n).astype("int64")
    c = rng.choice(["x", "y", "z", "a long label"], size=n).astype(object)
    c[rng.random(n) < 0.15] = None
    d = rng.choice([1, 2, 3], size=n)  # a categorical column of integers
    return pd.DataFrame({
        "a": a, "b": b, "n": rng.lognormal(size=n) * 1e6, "c": c, "d": d,
        "other": "ignored",
    })  # fmt: skip


@pytest.fixture
def fitted():
    train = prepare_X(_awkward(500, 0), FEATURES, what="fit")
    prep = make_preprocessor(FEATURES, "tree").fit(train)
    spec = TreePrep.from_fitted(prep, FEATURES)
    assert spec is not None
    return prep, spec


def _sklearn(prep, X):
    return np.asarray(prep.transform(X), dtype=np.float64)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_transform_equals_the_column_transformer_bit_for_bit(fitted, seed):
    prep, spec = fitted
    frame = _awkward(300, seed)
    frame.loc[::7, "c"] = "never seen in training"  # unknown categories -> -1
    frame.loc[::11, "a"] = -0.0
    X = prepare_X(frame, FEATURES, what="t")
    ours, theirs = spec.transform(X), _sklearn(prep, X)
    assert ours.dtype == theirs.dtype == np.float64
    np.testing.assert_array_equal(ours, theirs)
    assert (ours[:, 3] == -1).sum() >= 300 // 7  # the unknown label really was unknown
    assert not np.isnan(ours[:, 0]).any()  # gaps became the median


def test_matrix_from_a_users_frame_equals_prepare_then_transform(fitted):
    prep, spec = fitted
    frame = _awkward(50, 4)
    plain = frame.assign(c=frame["c"].fillna("x"), d=frame["d"].astype(str))
    odd = frame.assign(  # every column needs prepare_X's conversions
        a=frame["a"].astype("Float64"),
        b=frame["b"].astype(bool),
        n=frame["n"].astype(str),
        c=pd.Categorical(frame["c"]),
    )
    flags = frame.assign(d=frame["d"] == 2, b=frame["b"].astype("uint8"))
    small_ints = frame.assign(d=frame["d"].astype("int8"))
    for f in (plain, frame, odd, flags, small_ints, frame.head(1), plain.head(1)):
        X = prepare_X(f, FEATURES, what="t")
        np.testing.assert_array_equal(spec.matrix(f, what="t"), _sklearn(prep, X))


def test_plain_frames_skip_prepare_x(fitted, monkeypatch):
    from mlops_nb.model import _prep

    _, spec = fitted
    calls = []
    real = _prep.prepare_X
    monkeypatch.setattr(
        _prep, "prepare_X", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    frame = _awkward(20, 8)
    spec.matrix(frame.assign(c=frame["c"].fillna("x")), what="t")  # strings, ints
    assert calls == []
    spec.matrix(frame, what="t")  # a None among the strings: prepare_X converts it
    assert calls == [1]


def test_matrix_raises_prepare_xs_errors(fitted):
    _, spec = fitted
    frame = _awkward(10, 5)
    with pytest.raises(
        errors.SchemaError, match=r"m\.predict: missing input column.*'b'"
    ):
        spec.matrix(frame.drop(columns="b"), what="m.predict")
    with pytest.raises(errors.SchemaError, match=r"'a' is not numeric, e\.g\. 'oops'"):
        spec.matrix(frame.assign(a="oops"), what="m.predict")
    plain = frame.assign(c="x", d="1")  # the path that skips prepare_X
    plain.loc[2, "n"] = np.inf
    with pytest.raises(errors.SchemaError, match=r"'n' is infinite in 1 row\(s\)"):
        spec.matrix(plain, what="m.predict")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_numbers_are_a_schema_error(value):
    frame = _awkward(20, 7)
    frame.loc[3, "n"] = value
    with pytest.raises(
        errors.SchemaError, match=r"'n' is infinite in 1 row\(s\) \(e.g. row 3\)"
    ):
        prepare_X(frame, FEATURES, what="m.predict")


def test_json_round_trip_is_exact(fitted):
    _, spec = fitted
    back = TreePrep.from_json(spec.to_json(), artifact="x" * 64)
    assert back == spec
    assert [m.hex() for m in back.medians] == [m.hex() for m in spec.medians]


def test_an_all_missing_training_column_keeps_scikit_learn(fitted):
    """scikit-learn drops a column with no median; TreePrep declines instead of
    guessing."""
    train = prepare_X(_awkward(100, 6).assign(a=np.nan), FEATURES, what="fit")
    prep = make_preprocessor(FEATURES, "tree").fit(train)
    assert TreePrep.from_fitted(prep, FEATURES) is None


@pytest.mark.parametrize(
    "data", [b'{"format": "something else"}', b'{"format": "mlops_nb.tree-prep/1"}']
)
def test_malformed_files_are_refused(data):
    with pytest.raises(errors.UnsupportedFormatError, match="tree preprocessing"):
        TreePrep.from_json(data, artifact="f" * 64)


# -- stored versions ------------------------------------------------------------------


def test_a_lightgbm_version_predicts_without_loading_skops(
    project, tiny_asset, monkeypatch
):
    import skops.io

    model = project.train(
        "m", tiny_asset, estimator="lightgbm", params={"n_estimators": 20}
    )
    assert set(model.artifacts) == {"prep", "booster", "tree_prep", "trees"}
    fresh = reopen(project).model("m", version=1)
    real_loads, calls = skops.io.loads, []
    monkeypatch.setattr(
        skops.io, "loads", lambda *a, **k: calls.append(1) or real_loads(*a, **k)
    )
    frame = tiny_asset.frame
    fast = fresh.predict_proba(frame)
    assert calls == []
    # the skops ColumnTransformer is still there, loaded on first use, and agrees
    pipeline_path = (
        fresh._predictor()
        .objects["booster"]
        .predict(fresh._predictor().objects["prep"].transform(fresh._X(frame, "t")))
    )
    assert calls == [1]
    np.testing.assert_array_equal(fast[:, 1], pipeline_path)


def test_versions_saved_before_the_numpy_forms_still_load(project, tiny_asset):
    model = project.train(
        "m", tiny_asset, estimator="lightgbm", params={"n_estimators": 20}
    )
    expected = model.predict_proba(tiny_asset.frame)
    artifacts = {
        k: v for k, v in model.artifacts.items() if k not in ("tree_prep", "trees")
    }
    with project._store.write() as conn:
        conn.execute(
            "UPDATE model_versions SET artifacts = ? WHERE id = ?",
            (json.dumps(artifacts), model.id),
        )
    old = reopen(project).model("m", version=1)
    assert set(old._predictor().objects) == {"prep", "booster"}
    np.testing.assert_array_equal(old.predict_proba(tiny_asset.frame), expected)


@pytest.mark.embedded_only  # edits a blob file in the folder (S3: tests/team)
def test_a_changed_tree_prep_file_is_caught(project, tiny_asset):
    model = project.train(
        "m", tiny_asset, estimator="lightgbm", params={"n_estimators": 20}
    )
    digest = model.artifacts["tree_prep"]
    path = project.path / "artifacts" / digest[:2] / digest
    spec = json.loads(path.read_bytes())
    spec["medians"] = [m + 1 for m in spec["medians"]]
    path.write_bytes(json.dumps(spec).encode())
    fresh = reopen(project).model("m", version=1)
    with pytest.raises(errors.IntegrityError, match=digest):
        fresh.predict(tiny_asset.frame)
