"""The drift review renders three ways; the widget lets you choose a cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _drift_helpers import drift_copy, scenario_frames

import mlops_nb as mnb
from mlops_nb.drift import DriftReview, univariate_drift
from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def review(request, tmp_path_factory, team_store) -> Iterator[DriftReview]:
    """One review for the module (computing it takes seconds)."""
    with drift_copy(request, tmp_path_factory.mktemp("review")) as drift_project:
        yield _review(drift_project)


def _review(drift_project: mnb.Project) -> DriftReview:
    model, test_split = drift_project.model("m"), drift_project.asset("sc-test")
    drift_project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    _, _, ana = scenario_frames(
        drift={"features": ["x1", "region"], "start": 2 / 3, "shift": 0.5}
    )
    mon = model.monitor(reference=test_split, chunk=3000)
    mon.observe(ana.drop(columns="y"))
    mon.add_targets(ana[["id", "y"]].iloc[:6000])
    return mon.review()


def test_static_html_shows_the_review(review):
    with mnb.config_context(display="html"):
        bundle = review._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    for text in (
        "DriftReview",
        "Recommendation: INVESTIGATE",
        "Drift heatmap",
        "Distributions",
        "Performance",
        "Multivariate",
        "Fairness over time",
        "Business value",
        "Alerts",
        "[9000:11999]",
        "unverified: label-free estimate assumes no concept drift",
        "CBPE",
        "healthy",
    ):
        assert text in html, text
    assert "Could not render" not in html
    from mlops_nb.ui._html import plotly_js

    body = html.replace(plotly_js(), "")
    print(f"review HTML without plotly.js: {len(body):,} bytes")
    assert len(body) < 400_000


def test_review_content(review):
    assert review.chunks == ["[0:2999]", "[3000:5999]", "[6000:8999]", "[9000:11999]"]
    assert review.status[:2] == ["healthy", "healthy"]
    table = review.chunk_table()
    assert table["labelled"].tolist() == [3000, 3000, 0, 0]
    assert "value at risk (EUR)" in table.columns
    alerts = review.alerts()
    drifted = set(alerts.query("kind == 'data drift'")["what"])
    assert {"x1", "region"} <= drifted
    assert set(alerts.query("kind == 'data drift'")["chunk"]) <= {
        "[6000:8999]",
        "[9000:11999]",
    }
    frame = review.to_frame()
    assert {
        "column",
        "chunk",
        "statistic",
        "value",
        "upper",
        "crossed",
        "alert",
    } <= set(frame.columns)
    # an alert is a crossing of a statistic the monitor alerts on, nothing else:
    # the drifted chunks cross other statistics' thresholds too (shown, no alert)
    watched = frame["statistic"].isin(review.payload["univariate"]["alert_on"])
    assert frame["alert"].any()
    assert (frame["alert"] == (frame["crossed"] & watched)).all()
    assert (frame["crossed"] & ~watched).any()
    assert set(frame["statistic"]) == {
        "jensen_shannon",
        "kolmogorov_smirnov",
        "wasserstein",
        "psi",
        "hellinger",
        "chi2",
        "l_infinity",
    }


def test_widget_lets_you_choose_column_and_chunk(review):
    box = review.widget()
    before = box.distribution.children[0].outputs
    box.column_choice.value = "x4"
    box.chunk_choice.value = 0
    after = box.distribution.children[0].outputs
    assert after != before
    title = after[0]["data"]["application/vnd.plotly.v1+json"]["layout"]["title"][
        "text"
    ]
    assert title.startswith("x4: reference vs chunk [0:2999]")
    with mnb.config_context(display="widget"):
        assert "text/html" in review._repr_mimebundle_()


def test_plots_and_their_errors(review):
    for kind in ("heatmap", "performance", "fairness", "value"):
        assert review.plot(kind).layout.title.text
    assert review.plot("distribution", column="region", chunk="[9000:11999]").data
    with pytest.raises(ValidationError, match="Did you mean 'x1'"):
        review.plot("distribution", column="X1")
    with pytest.raises(ValidationError, match="no chunk"):
        review.plot("distribution", column="x1", chunk="2031")


def test_heatmap_of_20_columns_by_10_chunks_has_a_cell_per_column_and_chunk():
    """Its time is a budget in benchmarks/bench_drift.py (the heatmap timed alone)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        rng.normal(size=(20_000, 20)), columns=[f"c{i}" for i in range(20)]
    )
    table = univariate_drift(ref, ref + 0.01, n_chunks=10)
    fig = table.plot()
    assert len(fig.data[0].z) == 20
    assert len(fig.data[0].z[0]) == 10
    assert "DriftTable" in table._html()
