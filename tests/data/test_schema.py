"""Schema inference and overrides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.data import Schema, infer_schema
from mlops_nb.errors import SchemaError


def test_kinds_are_inferred():
    n = 60
    frame = pd.DataFrame({
        "customer_id": np.arange(n),
        "code": [f"K{i:04d}" for i in range(n)],
        "amount": np.linspace(0, 1, n),
        "flag": [True, False] * (n // 2),
        "day": pd.date_range("2024-01-01", periods=n),
        "day_text": [f"2024-02-{(i % 28) + 1:02d}" for i in range(n)],
        "plan": ["basic", "pro", "team"] * (n // 3),
        "comment": ["the service was fine but the app crashed twice today"] * n,
    })  # fmt: skip
    kinds = {c.name: c.kind for c in infer_schema(frame).columns}
    assert kinds == {
        "customer_id": "id", "code": "id", "amount": "numeric", "flag": "boolean",
        "day": "datetime", "day_text": "datetime", "plan": "categorical",
        "comment": "text",
    }  # fmt: skip


def test_overrides_and_round_trip():
    frame = pd.DataFrame({"zip": [1010, 2020, 3030] * 10, "y": [0.5, 1.5, 2.5] * 10})
    schema = infer_schema(frame, target="y", kinds={"zip": "categorical"})
    assert schema.kind("zip") == "categorical"
    assert schema.task == "multiclass"
    assert Schema.from_dict(schema.to_dict()) == schema


def test_task_inference():
    frame = pd.DataFrame(
        {"a": np.arange(100), "y": np.linspace(0, 1, 100), "b": [0, 1] * 50}
    )
    assert infer_schema(frame, target="y").task == "regression"
    assert infer_schema(frame, target="b").task == "binary"


def test_diff():
    a = infer_schema(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}))
    b = infer_schema(pd.DataFrame({"x": [1.5, 2.0], "z": [1, 2]}))
    d = b.diff(a)
    assert d["added"] == ["z"]
    assert d["removed"] == ["y"]
    assert d["retyped"] == [("x", "numeric/int64", "numeric/float64")]


def test_target_in_two_roles():
    with pytest.raises(SchemaError, match="already has the role 'target'"):
        infer_schema(pd.DataFrame({"x": [1, 2]}), target="x", time="x")
