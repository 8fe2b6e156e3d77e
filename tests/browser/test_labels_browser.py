"""Labels, not codes, in a real JupyterLab: the fairness widget names groups in words.

The shipped employment data brings its data dictionary; the live fairness view shows
"female" and "White alone" where the data says ``2`` and ``1``, with the code on hover
(``title="SEX = 2"``), and the what-if drop-downs list labels in code order.

Run alone with ``pytest tests/browser/test_labels_browser.py -q``; screenshots go to
``/tmp/mlops_nb_shots``.
"""

from __future__ import annotations

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
import mlops_nb as mnb
proj = mnb.Project.open({project!r})
ref = proj.data("acs", mnb.datasets.employment("reference").sample(3000, random_state=0),
                target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id")
train, test = ref.split(test=0.3, seed=0, stratify="employed")
model = proj.train("employment", train, params={{"n_estimators": 30}})""",  # noqa: E501 - notebook cell source, kept verbatim
    "model.fairness(test)",
    """\
what_if = model.explain(test.frame.iloc[[0]]).what_if()
what_if""",
    f"print({SENTINEL!r})",
]


def test_fairness_widget_shows_labels_with_the_code_on_hover(
    lab_page, jupyterlab, shots
):
    page = lab_page
    project = jupyterlab.root / "proj-labels"
    sources = [c.format(project=str(project)) for c in CELLS]
    write_code_notebook(jupyterlab.root / "labels.ipynb", sources)
    open_and_run_all(page, jupyterlab, "labels.ipynb")
    cells = code_cells(page)

    fair = cells.nth(1).locator(".mlops-nb-widget").first
    fair.wait_for(timeout=30_000)
    scroll_to_top(fair)
    fair.locator(".lm-TabBar-tab", has_text="By SEX").first.click()
    female = fair.locator('span[title="SEX = 2"]:visible', has_text="female").first
    female.wait_for(timeout=15_000)
    assert female.inner_text() == "female"
    male = fair.locator('span[title="SEX = 1"]:visible').first
    assert male.inner_text() == "male"
    female.hover()  # the browser's own tooltip is not drawn in screenshots: the
    # title attribute is what it shows
    assert female.get_attribute("title") == "SEX = 2"
    table_text = fair.locator("table:visible").first.inner_text()
    assert "female" in table_text
    assert "SEX=2" not in table_text
    shots(page, "labels-01-fairness-by-sex")

    fair.locator(".lm-TabBar-tab", has_text="By SEX x RAC1P").first.click()
    mixed = fair.locator('span[title="SEX = 2, RAC1P = 1"]:visible').first
    mixed.wait_for(timeout=15_000)
    assert mixed.inner_text() == "female, White alone"
    shots(page, "labels-02-fairness-intersections")
    # the chart's rotated group labels are whole: inside the chart's own drawing
    chart = fair.locator(".js-plotly-plot:visible").first
    chart.locator(".xtick text").first.wait_for(timeout=15_000)
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    cut = chart.evaluate(
        "e => { const box = e.querySelector('.main-svg').getBoundingClientRect();"
        " return [...e.querySelectorAll('.xtick text')].map(t => {"
        " const r = t.getBoundingClientRect();"
        " return [t.textContent, r.bottom - box.bottom, box.left - r.left,"
        " r.right - box.right]; })"
        ".filter(([, below, left, right]) => below > 1 || left > 1 || right > 1); }"
    )
    assert not cut, cut
    shots(chart, "labels-04-intersection-chart")

    # the what-if drop-downs show labels, in code order
    what_if = cells.nth(2).locator(".jp-Cell-outputArea")
    scroll_to_top(what_if)
    mar = what_if.locator(".widget-dropdown", has_text="MAR").locator("select").first
    mar.wait_for(timeout=30_000)
    # ipywidgets shows option spaces as no-break spaces
    options = [o.replace("\xa0", " ") for o in mar.locator("option").all_inner_texts()]
    assert options == [
        "Married",
        "Widowed",
        "Divorced",
        "Separated",
        "Never married or under 15",
    ]
    shots(page, "labels-03-what-if")

    assert_no_kernel_errors(page)
    assert_clean_console(page)
