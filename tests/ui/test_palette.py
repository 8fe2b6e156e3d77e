"""One palette for every chart (issue 15, item 6): the Shapes charts ignored it."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.ui._html import tidy_figure
from mlops_nb.ui._palette import PALETTE, in_palette, parse_color

hexes = st.integers(0, 0xFFFFFF).map(lambda v: f"#{v:06x}")


def _trace_colours(spec: dict) -> list[str]:
    """Every trace and shape colour of a rendered figure (not scales or chrome)."""
    from mlops_nb.ui._palette import _colours

    out: list[str] = []
    _colours([*spec["data"], *spec["layout"].get("shapes", [])], out)
    return out


def _check(fig) -> dict:
    spec = json.loads(tidy_figure(fig))
    assert spec["layout"]["colorway"] == list(PALETTE)
    bad = [c for c in _trace_colours(spec) if not in_palette(c)]
    assert not bad, f"{fig.layout.title.text!r}: colours outside the palette {bad}"
    return spec


@settings(max_examples=60, deadline=None)
@given(
    st.lists(hexes, min_size=1, max_size=6, unique=True),
    st.floats(0.05, 0.95),
    hexes,
)
def test_any_colours_come_out_in_the_palette_and_stay_apart(colours, alpha, line):
    fig = go.Figure()
    for i, c in enumerate(colours):
        fig.add_bar(x=["a", "b"], y=[i, i + 1], marker_color=c, name=c)
    r, g, b = parse_color(colours[0])[0]
    fig.add_scatter(
        x=[0, 1], y=[0, 1], fill="tozeroy", fillcolor=f"rgba({r},{g},{b},{alpha})"
    )
    fig.add_hline(y=1, line_color=line)
    spec = _check(fig)
    out = [t["marker"]["color"] for t in spec["data"][: len(colours)]]
    # as many colours as were given: two series never share a colour
    distinct_in = {parse_color(c)[0] for c in colours}
    assert len(set(out)) == len(distinct_in)
    # transparency is kept
    fill = parse_color(spec["data"][len(colours)]["fillcolor"])
    assert fill[1] == pytest.approx(alpha, abs=1e-6)
    # a palette colour stays itself
    for c, o in zip(colours, out, strict=True):
        if c in PALETTE:
            assert o == c


def test_traces_without_a_colour_take_the_palette():
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 2]))  # plotly's default: #636efa
    assert _check(fig)["layout"]["colorway"][0] == PALETTE[0]


def _figures(view) -> list:
    return view.figures()


def test_every_chart_of_real_objects_uses_the_palette(project, tiny_asset):
    train, test = tiny_asset.split(test=0.3, seed=0, stratify="y")
    model = project.train("clf", train, params={"n_estimators": 10}, seed=0)
    project.train("clf", train, params={"n_estimators": 5}, seed=1)
    project.canvas(
        process="Offer", value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0}, positive_class=1,
    )  # fmt: skip
    objects = {
        "data asset": tiny_asset,
        "evaluation": model.evaluate(test),
        "explanation (importance and shapes)": model.explain(test),
        "comparison": project.compare("clf", test),
    }
    seen = 0
    for what, obj in objects.items():
        figures = _figures(obj._view())
        for fig in figures:
            _check(fig)
        seen += len(figures)
        assert figures or what == "data asset", what
    shapes = [
        f
        for f in _figures(objects["explanation (importance and shapes)"]._view())
        if "effect on" in (f.layout.title.text or "")
    ]
    assert shapes, "the explanation has shape charts"
    for fig in shapes:  # the raw figure already draws in the palette
        for trace in fig.data:
            colour = getattr(trace, "marker", None) and trace.marker.color
            colour = colour or (getattr(trace, "line", None) and trace.line.color)
            assert in_palette(colour)
    assert seen >= 4
