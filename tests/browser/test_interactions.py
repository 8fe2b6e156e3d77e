"""Interactions in a real JupyterLab: the canvas form saves, the threshold slider
prices.

Run alone with ``pytest tests/browser -q``; screenshots go to ``/tmp/mlops_nb_shots``.
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

import mlops_nb as mnb

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """\
import mlops_nb as mnb
proj = mnb.Project.open({project!r})
ref = proj.data("acs", mnb.datasets.employment("reference").sample(3000, random_state=0),
                target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id")
train, test = ref.split(test=0.3, seed=0, stratify="employed")""",  # noqa: E501 - notebook cell source, kept verbatim
    """\
proj.canvas(process="Outreach for a job-training programme", value_level="optimize",
            outcomes={{"tp": 120, "fp": -15, "fn": -60, "tn": 0}}, positive_class=0)""",
    """\
model = proj.train("employment", train, params={{"n_estimators": 30}})
model.evaluate(test)""",
    f"print({SENTINEL!r})",
]


def test_canvas_form_saves_and_slider_reprices(lab_page, jupyterlab, shots):
    page = lab_page
    project = jupyterlab.root / "proj-interact"
    sources = [c.format(project=str(project)) for c in CELLS]
    write_code_notebook(jupyterlab.root / "interact.ipynb", sources)
    open_and_run_all(page, jupyterlab, "interact.ipynb")
    cells = code_cells(page)

    # the canvas form: edit the process, save, a new version is stored
    canvas = cells.nth(1).locator(".jupyter-widget-tab").first
    scroll_to_top(canvas)
    canvas.locator(".lm-TabBar-tab", has_text="Edit").click()
    process = canvas.locator(".widget-text input:visible").first
    process.fill("Outreach, second draft")
    canvas.locator(".widget-button:visible", has_text="Save new version").click()
    canvas.locator(".widget-html:visible", has_text="saved as version 2").wait_for(
        timeout=15_000
    )
    shots(page, "interact-01-canvas-saved")
    stored = mnb.Project.open(project).canvas()
    assert (stored.version, stored.process) == (2, "Outreach, second draft")

    # the evaluation's Value tab: moving the slider changes the money value shown
    ev = cells.nth(2).locator(".mlops-nb-widget")
    scroll_to_top(ev)
    ev.locator(".lm-TabBar-tab", has_text="Value").click()
    slider_box = ev.locator(".widget-vbox", has=page.locator(".widget-slider")).last
    money = slider_box.locator(
        ".widget-html", has_text="per 1,000 cases at threshold"
    ).first
    money.wait_for()
    before = money.inner_text()
    handle = ev.locator(".widget-slider .noUi-handle:visible").first
    handle.focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[money.element_handle(), before],
        timeout=10_000,
    )
    after = money.inner_text()
    t_before = float(re.search(r"threshold ([0-9.]+)", before).group(1))
    t_after = float(re.search(r"threshold ([0-9.]+)", after).group(1))
    assert t_after > t_before
    assert after != before
    shots(page, "interact-02-threshold-slider")

    assert_no_kernel_errors(page)
    assert_clean_console(page)


CELLS_2 = [
    """\
import mlops_nb as mnb
proj = mnb.Project.open({project!r})
ref = proj.data("acs", mnb.datasets.employment("reference").sample(4000, random_state=0),
                target="employed", sensitive=["SEX", "RAC1P"], time="year", id="id")
train, test = ref.split(test=0.3, seed=0, stratify="employed")
model = proj.train("employment", train, params={{"n_estimators": 30}})""",  # noqa: E501 - notebook cell source, kept verbatim
    "model",
    """\
mon = model.monitor(reference=test, chunk="year")
mon.observe(mnb.datasets.employment("analysis").sample(6000, random_state=0))
mon""",
    """\
row = test.frame[test.frame["AGEP"] < 60].iloc[[0]]
what_if = model.explain(row).what_if()
what_if""",
    f"print({SENTINEL!r})",
]


def test_model_monitor_widgets_and_what_if(lab_page, jupyterlab, shots):
    page = lab_page
    project = jupyterlab.root / "proj-whatif"
    sources = [c.format(project=str(project)) for c in CELLS_2]
    write_code_notebook(jupyterlab.root / "whatif.ipynb", sources)
    open_and_run_all(page, jupyterlab, "whatif.ipynb")
    cells = code_cells(page)

    # Model and Monitor render as live widget views with their tabs
    for i, kind in ((1, "Model"), (2, "Monitor")):
        view = cells.nth(i).locator(".jupyter-widget-tab, .mlops-nb-widget").first
        view.wait_for(timeout=30_000)
        assert kind in (
            cells.nth(i).locator(".jp-Cell-outputArea").text_content() or ""
        )
        assert cells.nth(i).locator(".lm-TabBar-tab").count() >= 2, kind
    shots(page, "interact-03-model-monitor")

    # the what-if view: moving the AGEP control changes the prediction shown
    what_if = cells.nth(3).locator(".jp-Cell-outputArea")
    scroll_to_top(what_if)
    summary = what_if.locator(".widget-html", has_text="started at").first
    summary.wait_for(timeout=30_000)
    before = summary.inner_text()
    age = (
        what_if.locator(".widget-slider", has_text="AGEP").locator(".noUi-handle").first
    )
    age.focus()
    for _ in range(10):
        page.keyboard.press("PageUp")  # big steps: decades of age
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[summary.element_handle(), before],
        timeout=15_000,
    )
    after = summary.inner_text()
    assert re.search(r"[+-]\d\.\d{4}", after)
    assert after != before
    shots(page, "interact-04-what-if")
    assert_no_kernel_errors(page)
    assert_clean_console(page)
