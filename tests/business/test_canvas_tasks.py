"""The value canvas prices regression and multiclass models too (issue 13.11)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.business import ValueCanvas, current_canvas, save_canvas

BASE = {"process": "Pricing", "value_level": "optimize"}


def test_a_regression_canvas_needs_no_binary_outcomes(project):
    c = save_canvas(project, **BASE, cost_per_unit_error=2.5)
    assert c.outcomes == {}
    assert c.cost_per_unit_error == 2.5
    assert c.regression_value([10, 20, np.nan], [12, 17, 5]) == pytest.approx(-12.5)
    assert "per unit of absolute error" in c.to_html()
    assert "per unit of error" in repr(c)
    assert current_canvas(project).to_dict() == c.to_dict()
    with pytest.raises(errors.ValidationError, match="no outcomes"):
        c.best_threshold([1, 0], [0.4, 0.6])
    assert c.break_even is None
    form = c.editor()
    assert form.values().get("outcomes") is None  # editing keeps it non-binary


def test_a_multiclass_canvas_prices_each_class(project):
    table = {"low": {"right": 5, "wrong": -1}, 3: {"right": 20, "wrong": -30}}
    c = save_canvas(project, **BASE, class_values=table)
    assert set(c.class_values) == {"low", "3"}  # classes compared as text
    value = c.class_value(["low", "low", 3, 3], ["low", 3, 3, "low"])
    assert value == pytest.approx(5 - 1 + 20 - 30)
    with pytest.raises(errors.ValidationError, match="no row for class"):
        c.class_value(["mid"], ["low"])
    html = c.to_html()
    assert "right" in html
    assert "wrong" in html


@pytest.mark.parametrize(
    ("fields", "field", "pattern"),
    [
        ({}, "outcomes", "cost_per_unit_error"),
        ({"cost_per_unit_error": -1}, "cost_per_unit_error", ">= 0"),
        ({"cost_per_unit_error": "2"}, "cost_per_unit_error", ">= 0"),
        ({"cost_per_unit_error": math.nan}, "cost_per_unit_error", ">= 0"),
        ({"class_values": {}}, "class_values", "non-empty"),
        ({"class_values": {"a": 3}}, "class_values['a']", "right"),
        ({"class_values": {"a": {"right": 1}}}, "class_values['a']", "right"),
        (
            {"class_values": {"a": {"right": 1, "wrong": math.inf}}},
            "class_values['a']",
            "finite",
        ),
    ],
)
def test_bad_prices_are_clear_errors(project, fields, field, pattern):
    with pytest.raises(errors.ValidationError, match=pattern) as info:
        save_canvas(project, **BASE, **fields)
    assert field in info.value.failure_cases["field"].tolist()
    assert current_canvas(project) is None


def test_a_binary_canvas_is_stored_as_before(project):
    outcomes = {"tp": 100, "fp": -20, "fn": -50, "tn": 0}
    c = save_canvas(project, **BASE, outcomes=outcomes)
    assert set(c.to_dict()) == {
        "process",
        "value_level",
        "kpis",
        "outcomes",
        "currency",
        "stakeholders",
        "risks",
        "success",
        "positive_class",
    }
    assert save_canvas(project, **BASE, outcomes=outcomes).version == c.version


@settings(max_examples=25, deadline=None)
@given(
    cost=st.floats(0, 1e4, allow_nan=False),
    pairs=st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=30
    ),
)
def test_regression_value_is_minus_cost_times_absolute_error(cost, pairs):
    c = ValueCanvas(**BASE, cost_per_unit_error=cost)
    t, p = np.array(pairs).T
    assert c.regression_value(t, p) == pytest.approx(-cost * np.abs(t - p).sum())


@settings(max_examples=25, deadline=None)
@given(
    cells=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1),
    values=st.lists(
        st.tuples(st.integers(-100, 100), st.integers(-100, 100)),
        min_size=4,
        max_size=4,
    ),
)
def test_class_value_adds_right_and_wrong_per_case(cells, values):
    table = {f"c{i}": {"right": r, "wrong": w} for i, (r, w) in enumerate(values)}
    c = ValueCanvas(**BASE, class_values=table)
    t, p = (np.array([f"c{i}" for i in col]) for col in zip(*cells, strict=True))
    expected = sum(
        table[a]["right"] if a == b else table[a]["wrong"]
        for a, b in zip(t, p, strict=True)
    )
    assert c.class_value(t, p) == pytest.approx(expected)


def _frame(task: str, seed: int, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    if task == "regression":
        y = 3 * x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=n)
    else:
        y = np.array(["a", "b", "c"])[np.digitize(x[:, 0] + x[:, 1], [-0.7, 0.7])]
    return pd.DataFrame(x, columns=["x1", "x2", "x3"]).assign(y=y)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_evaluation_prices_regression_and_multiclass(project, task):
    with mnb.config_context(user="tester"):
        data = project.data("d", _frame(task, 1), target="y")
        train, test = data.split(test=0.3, seed=0)
        model = project.train("m", train, params={"n_estimators": 30})
        if task == "regression":
            canvas = project.canvas(**BASE, cost_per_unit_error=4.0)
        else:
            canvas = project.canvas(
                **BASE,
                class_values={
                    "a": {"right": 10, "wrong": -10},
                    "b": {"right": 1, "wrong": -2},
                    "c": {"right": 30, "wrong": -40},
                },
            )
    ev = model.evaluate(test)
    v = ev.value
    y = test.frame["y"].to_numpy()
    pred = model.predict(test)
    if task == "regression":
        expected = -4.0 * np.abs(y - pred).sum()
        assert v["per_1000"] == pytest.approx(-4.0 * ev.metrics["mae"] * 1000)
    else:
        expected = canvas.class_value(y, pred)
        assert sum(r["cases"] for r in v["per_class"]) == len(y)
    assert v["value"] == pytest.approx(expected)
    assert v["canvas_version"] == canvas.version
    assert "per 1,000 cases" in repr(ev)
    assert "priced by" in ev.to_html()
