"""Consistent objects in a real JupyterLab (issue 15, item 8): the model card's side
navigation shows whole section names, the project lineage shows models, exports and
monitors, the canvas has a header line and a form whose button and error fit.

Run alone with ``pytest tests/browser/test_consistent_objects_browser.py -q``;
screenshots go to ``/tmp/mlops_nb_shots``.
"""

from __future__ import annotations

import pytest
from test_jupyterlab import (
    SENTINEL,
    assert_no_kernel_errors,
    code_cells,
    open_and_run_all,
    scroll_to_top,
    write_code_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """\
import warnings
import mlops_nb as mnb
proj = mnb.Project.open({project!r})
frame = mnb.datasets.employment("reference").sample(1500, random_state=0)
proj.data("acs", frame.iloc[:1000], target="employed", sensitive=["SEX"], id="id")
ref = proj.data("acs", frame, target="employed", sensitive=["SEX"], id="id")
train, test = ref.split(test=0.3, seed=0, stratify="employed")
model = proj.train("employment", train, params={{"n_estimators": 20}})
model.export_onnx(check=test)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mon = model.monitor(reference=test)""",
    "model.card()",
    "proj",
    """\
proj.canvas(process="Outreach for a job-training programme", value_level="optimize",
            outcomes={{"tp": 120, "fp": -15, "fn": -60, "tn": 0}}, positive_class=0)""",
    f"print({SENTINEL!r})",
]


def test_card_navigation_lineage_and_canvas_header(lab_page, jupyterlab, shots):
    page = lab_page
    project = jupyterlab.root / "proj-consistent"
    sources = [c.format(project=str(project)) for c in CELLS]
    write_code_notebook(jupyterlab.root / "consistent.ipynb", sources)
    open_and_run_all(page, jupyterlab, "consistent.ipynb")
    cells = code_cells(page)

    # the model card: every section name whole in a side list, no tab bar
    card = cells.nth(1).locator(".mlops-nb-widget").first
    card.wait_for(timeout=30_000)
    scroll_to_top(card)
    nav = card.locator(".mnb-side-nav .widget-button")
    names = [nav.nth(i).inner_text().strip() for i in range(nav.count())]
    assert len(names) >= 14
    assert len(set(names)) == len(names)
    assert {"Intended use", "Training data", "Training procedure"} <= set(names)
    assert card.locator(".lm-TabBar-tab").count() == 0
    for i in range(nav.count()):  # no name is cut: the text fits its button
        fits = nav.nth(i).evaluate("b => b.scrollWidth <= b.clientWidth + 1")
        assert fits, names[i]
    nav.filter(has_text="Training procedure").first.click()
    card.locator(".mnb-side-nav .mod-info", has_text="Training procedure").wait_for()
    card.locator(".widget-html:visible", has_text="training time").first.wait_for()
    shots(card, "consistent-01-card-navigation")

    # the project: lineage from data to model, export and monitor; words for counts
    proj = cells.nth(2).locator(".mlops-nb-widget").first
    scroll_to_top(proj)
    proj.locator(".lm-TabBar-tab", has_text="Lineage").click()
    lineage = proj.locator(".widget-html:visible", has_text="trained").first
    lineage.wait_for()
    text = lineage.inner_text()
    for node in ("model employment v1", "ONNX export employment v1", "monitor"):
        assert node in text, node
    assert "1 model (1 version)" in (proj.inner_text() or "")
    shots(proj, "consistent-02-project-lineage")

    # the canvas: a header line like the others, a form whose button is whole
    canvas = cells.nth(3).locator(".mlops-nb-widget").first
    scroll_to_top(canvas)
    header = canvas.locator(".widget-html").first
    assert "ValueCanvas" in header.inner_text()
    assert "v1" in header.inner_text()
    shots(canvas, "consistent-03-canvas-header")
    canvas.locator(".lm-TabBar-tab", has_text="Edit").click()
    button = canvas.locator(".widget-button:visible", has_text="Save new version")
    assert button.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
    canvas.locator(".widget-text input:visible").first.fill("   ")
    button.click()
    status = canvas.locator(".widget-html:visible", has_text="not saved").first
    status.wait_for(timeout=15_000)
    box = status.bounding_box()
    assert box is not None
    assert box["height"] > 30  # wrapped over several lines
    assert status.evaluate("s => s.scrollWidth <= s.clientWidth + 1")
    scroll_to_top(button)
    shots(canvas, "consistent-04-canvas-error")
    assert_no_kernel_errors(page)
