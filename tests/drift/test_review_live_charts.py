"""The live drift review shows each distribution chart once (issue 15, item 6)."""

from __future__ import annotations

import json

import pytest
from _drift_helpers import drift_copy, scenario_frames

import mlops_nb as mnb

PLOTLY = "application/vnd.plotly.v1+json"


def _figures(widget) -> list[str]:
    """Every plotly figure under ``widget``, as canonical JSON, in order."""
    import ipywidgets as w

    found = []
    if isinstance(widget, w.Output):
        for out in widget.outputs:
            if PLOTLY in out.get("data", {}):
                found.append(json.dumps(out["data"][PLOTLY], sort_keys=True))
    for child in getattr(widget, "children", ()):
        found += _figures(child)
    return found


@pytest.fixture(scope="module", params=[["x1", "region"], ["x2", "x3"]])
def review(request, tmp_path_factory, team_store):
    """Reviews whose strongest drift sits in different columns."""
    _, _, ana = scenario_frames(
        drift={"features": request.param, "start": 2 / 3, "shift": 0.5}
    )
    with drift_copy(request, tmp_path_factory.mktemp("live")) as proj:
        mon = proj.model("m").monitor(reference=proj.asset("sc-test"), chunk=3000)
        mon.observe(ana.drop(columns="y"))
        yield mon.review()


def _distributions(box):
    tabs = box.children[1]
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    return tabs.children[titles.index("Distributions")]


def test_live_distributions_tab_holds_each_chart_once(review):
    box = review.widget()
    page = _distributions(box)
    figures = _figures(page)
    assert len(figures) == len(set(figures)), "a chart is shown twice"
    # the chooser's chart and every other strongest cell: nothing lost either
    strongest = review._strongest(4)
    assert len(figures) == len(strongest)
    with mnb.config_context(display="html"):
        static = review._view()
    (tab,) = [t for t in static.tabs if t.title == "Distributions"]
    assert len([b for b in tab.blocks if isinstance(b, mnb.ui.Figure)]) == len(
        strongest
    )
