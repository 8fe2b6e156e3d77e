"""Issue 15 item 2 in a real JupyterLab: the evaluation's slider starts exactly at the
best threshold and shows there what the "decisions at the best threshold" table
shows; the value curve marks the best and the model's threshold.

Run alone with ``pytest tests/browser/test_threshold_browser.py -q``; screenshots go
to ``/tmp/mlops_nb_shots``.
"""

from __future__ import annotations

import re

import pytest
from test_jupyterlab import (
    SENTINEL,
    assert_clean_console,
    assert_no_kernel_errors,
    code_cells,
    open_and_run_all,
    scroll_to_top,
    write_code_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """\
import numpy as np, pandas as pd
import mlops_nb as mnb
proj = mnb.Project.open({project!r})
rng = np.random.default_rng(0)
x = rng.normal(size=2000)
frame = pd.DataFrame({{"x": x, "z": rng.normal(size=2000),
                      "y": (x + rng.normal(scale=1.2, size=2000) > 0.2).astype(int)}})
proj.canvas(process="Offer a discount", value_level="optimize",
            outcomes={{"tp": 50, "fp": -10, "fn": -20, "tn": 0}}, positive_class=1)
train, test = proj.data("d", frame, target="y").split(test=0.5, seed=0, stratify="y")
model = proj.train("m", train, estimator="logistic")
model.set_threshold(0.5, reason="the committee's rule")""",
    "model.evaluate(test)",
    f"print({SENTINEL!r})",
]

MONEY = r"([-\d,.]+ EUR per 1,000 cases at threshold ([\d.]+))"


def test_slider_at_the_best_matches_the_table_and_the_curve_is_marked(
    lab_page, jupyterlab, shots
):
    page = lab_page
    project = jupyterlab.root / "proj-threshold"
    sources = [c.format(project=str(project)) for c in CELLS]
    write_code_notebook(jupyterlab.root / "threshold.ipynb", sources)
    open_and_run_all(page, jupyterlab, "threshold.ipynb")
    cells = code_cells(page)

    ev = cells.nth(1).locator(".mlops-nb-widget")
    scroll_to_top(ev)
    ev.locator(".lm-TabBar-tab", has_text="Value").click()
    slider_box = ev.locator(".widget-vbox", has=page.locator(".widget-slider")).last
    live = slider_box.locator(".widget-html", has_text="per 1,000 cases at threshold")
    live.first.wait_for(timeout=15_000)
    live_text = live.first.inner_text()
    # the readout names the exact best stop
    readout = slider_box.locator(".widget-readout").first.inner_text()
    shown = re.search(MONEY, live_text)
    assert shown, live_text
    best = shown.group(2)
    assert len(best.split(".")[1]) == 4  # 4 decimals: the exact best, not 0.xx
    assert best in readout
    assert "best" in readout

    # the static part of the same tab: the caption of the best-threshold table
    page_text = ev.locator(".lm-TabPanel-widget:visible, .widget-tab-contents").first
    static = page_text.inner_text()
    assert f"decisions at the best threshold {best}: {shown.group(1)}" in static
    # the same counts in the live table and the static one
    live_cells = slider_box.locator("td").all_inner_texts()
    assert live_cells
    for cell in live_cells:
        assert cell in static

    # the value curve: vertical markers with their labels, drawn by plotly
    chart = ev.locator(".js-plotly-plot:visible").last
    chart.scroll_into_view_if_needed()
    chart.locator(".annotation-text", has_text=f"best {best}").wait_for(timeout=15_000)
    notes = chart.locator(".annotation-text").all_text_contents()
    assert any(n.startswith("model (set) 0.5000") for n in notes), notes
    assert chart.locator(".shapelayer path").count() >= 2
    shots(page, "threshold-01-value-tab")
    slider_box.scroll_into_view_if_needed()
    shots(page, "threshold-02-slider-at-best")

    assert_no_kernel_errors(page)
    assert_clean_console(page)
