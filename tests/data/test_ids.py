"""Ids are not features: inferred from names and from values, flagged by check().

The name rule is :func:`mlops_nb.data._schema.looks_like_id`; the value rule is a
column holding a different integer or string on every row.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.data import infer_schema
from mlops_nb.data._schema import looks_like_id

_counter = itertools.count()

ID_NAMES = [
    "id", "ID", "Id", "row_id", "rid", "RID", "cid", "uid", "userid", "UserID",
    "customerId", "customer_id", "customer-id", "Customer ID", "c_custkey",
    "o_orderkey", "uuid", "index", "key", "idx", "pk", "order.id", "id_card",
    "PatientID", "txn_uuid", "record id",
]  # fmt: skip
NOT_ID_NAMES = [
    "paid", "PAID", "valid", "is_valid", "isValid", "fluid", "squid", "humid", "acid",
    "rapid", "solid", "liquid", "vivid", "hybrid", "android", "kid", "aid", "bid",
    "did", "mid", "lid", "monkey", "keyboard", "turkey", "hours_per_week", "amount",
    "balance", "width", "ideal", "identity_score", "video", "idle_time", "void",
]  # fmt: skip


@pytest.mark.parametrize("name", ID_NAMES)
def test_id_names_are_recognised(name):
    assert looks_like_id(name)


@pytest.mark.parametrize("name", NOT_ID_NAMES)
def test_words_ending_in_id_or_key_are_not_ids(name):
    assert not looks_like_id(name)


_entity = st.sampled_from(["user", "customer", "order", "account", "row", "session"])
_word = st.text("abcdefghjklmnopqrstuvwxyz", min_size=2, max_size=6)


@st.composite
def id_names(draw):
    """An id token joined to words in any of the ways people write names."""
    token = draw(st.sampled_from(["id", "key", "uuid", "index", "idx", "pk"]))
    style = draw(st.sampled_from(["snake", "kebab", "space", "dot", "camel", "glued"]))
    if style == "glued":
        words = [draw(_entity) + token]
    else:
        words = [draw(_word | _entity), token]
        if draw(st.booleans()):
            words.reverse()
    if style == "camel":
        name = words[0] + "".join(w.title() for w in words[1:])
    elif style == "glued":
        name = words[0]
    else:
        sep = {"snake": "_", "kebab": "-", "space": " ", "dot": "."}[style]
        name = sep.join(words)
    case = draw(st.sampled_from([str, str.upper, str.lower]))
    return name if style == "camel" else case(name)


@given(name=id_names())
@settings(max_examples=200, deadline=None)
def test_generated_id_names_are_recognised(name):
    assert looks_like_id(name)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "size": rng.integers(0, 5, size=n),
            "colour": rng.choice(["red", "blue"], size=n),
            "y": (x + rng.normal(scale=0.5, size=n) > 0).astype(int),
        }
    )


def _unique_values(rng, n: int, kind: str):
    if kind == "int":  # unique, not contiguous
        return rng.choice(10 * n + 7, size=n, replace=False) + 1000
    if kind == "row number":
        return rng.permutation(n) + int(rng.integers(0, 2))
    return np.array([f"K{v:07d}" for v in rng.choice(10**6, size=n, replace=False)])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=id_names() | st.sampled_from(ID_NAMES),
    kind=st.sampled_from(["int", "row number", "str"]),
    n=st.integers(20, 300),
    seed=st.integers(0, 10**6),
)
def test_undeclared_ids_are_inferred_and_not_features(project, name, kind, n, seed):
    frame = _frame(n, seed)
    rng = np.random.default_rng(seed)
    frame.insert(int(rng.integers(0, 4)), name, _unique_values(rng, n, kind))
    if frame.columns.duplicated().any():
        return
    asset = project.data(f"a{next(_counter)}", frame, target="y")
    assert asset.schema.kind(name) == "id"
    assert name not in asset.schema.features
    assert asset.check().by_check("unique per row") == []


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(["balance", "amount", "score", "visits", "duration"]),
    n=st.integers(20, 300),
    seed=st.integers(0, 10**6),
)
def test_unique_integer_features_are_flagged_by_check(project, name, n, seed):
    """A column unique on every row that is not an id by name stays a feature (it
    may be a real measurement), and check() warns about it."""
    frame = _frame(n, seed)
    rng = np.random.default_rng(seed)
    frame[name] = _unique_values(rng, n, "int")
    asset = project.data(f"b{next(_counter)}", frame, target="y")
    assert asset.schema.kind(name) == "numeric"
    found = asset.check().by_check("unique per row")
    assert [(f["column"], f["severity"]) for f in found] == [(name, "warning")]


@pytest.mark.parametrize("start", [0, 1])
@pytest.mark.parametrize("name", ["row", "n", "line", "Unnamed: 0"])
def test_row_numbers_are_ids_whatever_their_name(project, name, start):
    rng = np.random.default_rng(start)
    frame = _frame(120, start)
    frame[name] = rng.permutation(120) + start
    frame["year"] = np.arange(120) + 1950  # unique and contiguous, not row numbers
    asset = project.data("r", frame, target="y")
    assert asset.schema.kind(name) == "id"
    assert asset.schema.kind("year") == "numeric"
    found = asset.check().by_check("unique per row")
    assert [f["column"] for f in found] == ["year"]


def test_declared_unique_categorical_is_flagged_and_floats_are_not(project):
    n = 200
    rng = np.random.default_rng(1)
    frame = _frame(n, 1).assign(
        code=[f"c{i}" for i in rng.permutation(n)],
        ratio=rng.normal(size=n),  # floats: all different, a measurement
    )
    asset = project.data("c", frame, target="y", kinds={"code": "categorical"})
    found = asset.check().by_check("unique per row")
    assert [f["column"] for f in found] == ["code"]
    # clean data: no finding
    clean = project.data("clean", _frame(n, 2), target="y")
    assert clean.check().by_check("unique per row") == []


def test_role_columns_are_never_inferred_as_ids():
    n = 50
    frame = pd.DataFrame(
        {
            "user_id": np.arange(n),  # as a target: a regression on row numbers
            "label": [f"L{i}" for i in range(n)],
            "x": np.linspace(0, 1, n),
        }
    )
    schema = infer_schema(frame, target="user_id", sensitive="label")
    assert schema.kind("user_id") == "numeric"
    assert schema.task == "regression"
    assert schema.kind("label") != "id"


def test_training_leaves_an_inferred_id_out(project):
    """The case a user hit: an undeclared unique integer `rid` became a feature."""
    n = 300
    rng = np.random.default_rng(3)
    frame = _frame(n, 3)
    frame.insert(0, "rid", rng.choice(10**6, size=n, replace=False))
    frame.insert(1, "code", [f"u{v}" for v in rng.choice(10**6, size=n, replace=False)])
    asset = project.data("rows", frame, target="y")
    train, _ = asset.split(test=0.25, seed=0, stratify="y")
    model = project.train(
        "clf", train, estimator="lightgbm", params={"n_estimators": 10}
    )
    assert "rid" not in model.features
    assert "code" not in model.features
    assert set(model.features) == {"x", "size", "colour"}
