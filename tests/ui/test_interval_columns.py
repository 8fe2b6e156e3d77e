"""Estimates with intervals wrap as a unit instead of widening a table past its room."""

from __future__ import annotations

import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.ui import Table
from mlops_nb.ui._html import table_html

_num = st.floats(0, 1, allow_nan=False).map(lambda x: f"{x:.3f}")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_num, _num, _num), min_size=1, max_size=6))
def test_interval_cells_break_before_the_interval_never_inside(rows):
    frame = pd.DataFrame(
        {
            "group": [f"g{i}" for i in range(len(rows))],
            "selection rate": [f"{e} [{lo}, {hi}]" for e, lo, hi in rows],
        }
    )
    html = table_html(Table(frame))
    cells = re.findall(r'<td style="([^"]*)">([^<]*\[[^<]*)</td>', html)
    assert len(cells) == len(rows)
    for style, text in cells:
        assert "white-space:normal" in style
        assert ", " not in text  # the interval stays whole
        assert ",\u00a0" in text
    # a plain label column still keeps to one line
    assert re.search(r'white-space:nowrap">g0</td>', html)


def test_text_that_only_looks_bracketed_is_left_alone():
    frame = pd.DataFrame({"note": ["see [1], [2]", "plain"]})
    html = table_html(Table(frame))
    assert "see [1], [2]" in html


def test_a_group_too_small_for_an_interval_shows_no_nan():
    from mlops_nb.human._fairness import _fmt

    assert (
        _fmt({"tpr": 0.0, "tpr low": float("nan"), "tpr high": float("nan")}, "tpr")
        == "0.000"
    )
    assert _fmt({"tpr": float("nan")}, "tpr") == "—"
    assert (
        _fmt({"tpr": 0.5, "tpr low": 0.4, "tpr high": 0.6}, "tpr")
        == "0.500 [0.400, 0.600]"
    )
