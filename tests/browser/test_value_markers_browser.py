"""The value curve's two threshold labels never overlap and stay inside the chart,
measured on the figure plotly draws in a real browser (issue 15's leftover: labels ran
into each other when the model's threshold sat near the best).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _frame(n: int = 700, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n),
            "y": (x + rng.normal(scale=1.2, size=n) > 0.2).astype(int),
        }
    )


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


def test_threshold_labels_never_overlap_and_stay_in_the_chart(
    project, browser, tmp_path
):
    project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    asset = project.data("d", _frame(), target="y")
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = project.train("m", train, estimator="logistic")
    best = model.evaluate(test).best_threshold
    # the model's threshold just below, just above, near, far from the best, and
    # at both ends of the axis
    offsets = (-0.004, 0.004, 0.03, -0.03, 0.12, 0.45)
    thresholds = [min(max(best + d, 0.01), 0.99) for d in offsets] + [0.02, 0.97]
    page = browser.new_context(viewport={"width": 900, "height": 600}).new_page()
    for t in thresholds:
        model.set_threshold(t, reason="label placement")
        fig = model.evaluate(test).plot("value")
        path = tmp_path / f"value-{t:.4f}.html"
        fig.write_html(path, include_plotlyjs=True, full_html=True)
        page.goto(path.as_uri())
        page.wait_for_selector("g.annotation")
        boxes = page.locator("g.annotation").evaluate_all(
            "gs => gs.map(g => { const r = g.getBoundingClientRect();"
            " return {text: g.textContent, left: r.left, right: r.right,"
            " top: r.top, bottom: r.bottom}; })"
        )
        plot = page.locator("g.cartesianlayer rect, .nsewdrag").first.evaluate(
            "r => { const b = r.getBoundingClientRect();"
            " return {left: b.left, right: b.right, top: b.top, bottom: b.bottom}; }"
        )
        texts = sorted(b["text"] for b in boxes)
        assert texts == sorted([f"best {best:.4f}", f"model (set) {t:.4f}"]), texts
        a, b = boxes
        assert not _overlap(a, b), (t, best, boxes)
        for box in boxes:  # inside the plotting area: not over the axis labels
            assert plot["left"] - 1 <= box["left"], (t, box, plot)
            assert box["right"] <= plot["right"] + 1, (t, box, plot)
    page.context.close()
