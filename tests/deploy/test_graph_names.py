"""Any column name maps to a valid, unique, stable ONNX graph input name (13.1)."""

from __future__ import annotations

import re

import pytest
from column_name_strategies import column_names as names_strategy
from column_name_strategies import one_name
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.deploy._names import (
    MAX_LEN,
    RESERVED,
    column_names,
    graph_input_names,
    is_valid,
)
from mlops_nb.errors import SchemaError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@settings(max_examples=400, deadline=None)
@given(names_strategy(min_size=1, max_size=12))
def test_mapping_is_valid_unique_invertible_and_ordered(names):
    mapping = graph_input_names(names)
    assert list(mapping) == names  # one entry per column, in order
    graph = list(mapping.values())
    assert len(set(graph)) == len(graph)  # unique, also for a-b / a_b twins
    for name in graph:
        assert IDENTIFIER.match(name), name
        assert len(name) <= MAX_LEN
        assert name not in RESERVED
    schema = {
        "inputs": [{"name": c, "onnx_name": g} for c, g in mapping.items()],
    }
    assert column_names(schema) == {g: c for c, g in mapping.items()}  # round trip


@settings(max_examples=300, deadline=None)
@given(names_strategy(min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_mapping_is_stable(names, rnd):
    """A column's graph name depends on the column, not on its neighbours or order."""
    mapping = graph_input_names(names)
    assert graph_input_names(list(names)) == mapping  # same input, same names
    shuffled = list(names)
    rnd.shuffle(shuffled)
    again = graph_input_names(shuffled)
    assert {c: again[c] for c in names} == mapping
    subset = shuffled[: max(1, len(shuffled) // 2)]
    assert {c: graph_input_names(subset)[c] for c in subset} == {
        c: mapping[c] for c in subset
    }


@settings(max_examples=300, deadline=None)
@given(one_name)
def test_valid_names_keep_themselves(name):
    mapping = graph_input_names([name])
    assert (mapping[name] == name) == is_valid(name)


def test_the_reported_case_and_colliding_twins():
    mapping = graph_input_names(["hours-per-week", "hours_per_week", "a-b", "a_b"])
    assert mapping["hours_per_week"] == "hours_per_week"
    assert mapping["a_b"] == "a_b"
    assert mapping["hours-per-week"].startswith("hours_per_week_")
    assert mapping["a-b"].startswith("a_b_")
    assert graph_input_names(["label"])["label"] != "label"  # an output's name


@pytest.mark.parametrize(
    ("names", "problem"),
    [(["a", ""], "non-empty"), (["a", 3], "non-empty"), (["a", "b", "a"], "repeated")],
)
def test_bad_name_lists_are_named(names, problem):
    with pytest.raises(SchemaError, match=problem):
        graph_input_names(names)
