"""JSON inside <script> elements cannot end them or swallow the page (issue 14.9)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb

HOSTILE_NAMES = [
    "<!--<script>",
    "</script><img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "x<!--",
    "</SCRIPT >",
    "a&b<\u2028>",
]
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script", re.S | re.I)


def _script_bodies(html: str) -> list[str]:
    return _SCRIPT.findall(html)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_profile_html_keeps_hostile_column_names_inside_json(project, name):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(size=50), "y": rng.integers(0, 2, 50)})
    asset = project.data("hostile-cols", frame, target="y")
    with mnb.config_context(display="html"):
        html = asset.profile().to_html() + asset.to_html()
    bodies = _script_bodies(html)
    assert bodies
    for body in bodies:
        lowered = body.lower()
        assert "<!--" not in lowered
        assert "<script" not in lowered
    summaries = [
        json.loads(b)
        for b in re.findall(
            r'<script type="application/json" class="mnb-summary">(.*?)</script>',
            html,
            re.S,
        )
    ]
    assert summaries  # still machine-readable, names intact
    # the page's text is whole: each hostile name shows up escaped in the body
    assert "&lt;" in html


def test_figure_script_escapes_markup_in_labels():
    import plotly.graph_objects as go

    from mlops_nb.ui._html import figure_html

    fig = go.Figure(go.Bar(x=["<!--<script>", "</script><b>"], y=[1, 2]))
    html = figure_html(fig)
    body = _script_bodies(html)[0]
    assert "<!--" not in body
    assert "<script" not in body.lower()
    spec = json.loads(re.search(r"var spec=(\{.*\});function plot", body)[1])
    assert spec["data"][0]["x"] == ["<!--<script>", "</script><b>"]
