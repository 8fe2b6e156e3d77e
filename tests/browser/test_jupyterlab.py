"""mlops_nb objects in a real JupyterLab, in headless Chromium.

1. Display mode "widget" (the default): the asset, profile, check report, lineage and
   project render as live ipywidgets (not the HTML fallback), their tabs switch, and
   the profile's distributions are a live plotly chart.
2. Display mode "html": the static views render with their chart drawn by the
   plotly.js our HTML embeds.
3. Reopened: after Run All, save and a reload with a new kernel (no widget models),
   every output shows its static view, tables and the chart, and no widget error.

Both check that the page needed nothing from outside this machine and logged no
JavaScript errors. The notebooks are written at test time. Run alone with
``pytest tests/browser -q``; screenshots are copied to ``/tmp/mlops_nb_shots``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SENTINEL = "MNB-ALL-CELLS-DONE"

SETUP = """\
import mlops_nb as mnb
{config}
frame = mnb.datasets.employment("reference").sample(3000, random_state=0)
proj = mnb.Project.open({project!r})
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"],
                time="year", id="id")
print("display mode:", mnb.get_config()["display"])"""

# one displayed object per code cell, after the setup cell
DISPLAY_CELLS = [
    "ref",
    "ref.profile()",
    "ref.check()",
    'train, test = ref.split(test=0.2, seed=0, stratify="employed")\ntest.lineage()',
    "proj",
]
TABS = [
    ["Overview", "Data", "Schema", "Quality", "Lineage"],  # DataAsset
    ["Statistics", "Distributions"],  # Profile
    ["Findings"],  # CheckReport
    ["Graph"],  # Lineage
    ["Overview", "Assets", "Lineage", "Audit log"],  # Project
]
KINDS = ["DataAsset", "Profile", "Checks", "Lineage", "Project"]

# Console errors that are known and harmless. Each entry needs a reason; none so far.
HARMLESS_CONSOLE: list[tuple[re.Pattern[str], str]] = []


def write_notebook(path: Path, config: str, project: str) -> None:
    """The test notebook: setup, one object per cell, then a sentinel print."""
    setup = SETUP.format(config=config, project=project)
    sources = [setup, *DISPLAY_CELLS, f"print({SENTINEL!r})"]
    write_code_notebook(path, sources)


def write_code_notebook(path: Path, sources: list[str]) -> None:
    """A valid notebook of code cells on the python3 kernel."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in sources],
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    nbformat.write(nb, path)


def open_and_run_all(page: Any, lab: Any, name: str) -> dict[str, float]:
    """Open a notebook, wait for an idle kernel, run all cells, wait for the last."""
    t0 = time.perf_counter()
    page.goto(lab.url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    # not .jp-Notebook-ExecutionIndicator: it says idle before the kernel exists
    page.locator("#jp-main-statusbar").get_by_text("(ipykernel) | Idle").wait_for(
        timeout=90_000
    )
    t1 = time.perf_counter()
    # do not await the command's promise: page.evaluate has no timeout
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )
    done = page.locator(".jp-OutputArea-output", has_text=SENTINEL)
    try:
        done.wait_for(timeout=60_000)
    except Exception as err:
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        pytest.fail(
            f"run-all did not reach the last cell ({err.__class__.__name__}). "
            "Cell outputs:\n" + "\n---\n".join(o[-1500:] for o in outputs)
        )
    t2 = time.perf_counter()
    return {"open_until_idle_s": t1 - t0, "run_all_s": t2 - t1}


def code_cells(page: Any) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell")


def scroll_to_top(locator: Any) -> None:
    """Scroll the notebook so that ``locator`` starts at the top of the view."""
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")


def assert_no_kernel_errors(page: Any) -> None:
    """No traceback in any output (stderr outputs are shown in the message)."""
    stderr = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).all_inner_texts()
    assert not [s for s in stderr if "Traceback" in s or "Error" in s], stderr


def assert_clean_console(page: Any) -> None:
    """No page errors, no console errors (bar justified noise), no remote request."""
    log = page.mnb_log
    assert not log.blocked, (
        "the page asked for non-loopback URLs (aborted): " + ", ".join(log.blocked)
    )
    errors = [
        e for e in log.errors if not any(p.search(e) for p, _ in HARMLESS_CONSOLE)
    ]
    assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)


def test_objects_render_as_live_widgets(lab_page, jupyterlab, shots):
    start = time.perf_counter()
    page = lab_page
    name = "widget_mode.ipynb"
    write_notebook(jupyterlab.root / name, config="", project="proj-widget")
    timings = open_and_run_all(page, jupyterlab, name)

    cells = code_cells(page)
    setup_out = cells.nth(0).locator(".jp-OutputArea-output")
    assert "display mode: widget" in setup_out.inner_text()

    # every object is a live widget view: one per display cell, no static fallback
    widgets = page.locator(".jp-OutputArea .mlops-nb-widget")
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-OutputArea .mlops-nb-widget').length >= n",
        arg=len(DISPLAY_CELLS),
    )
    assert widgets.count() >= len(DISPLAY_CELLS)
    # the saved static views are in the page but hidden while the widgets live
    assert page.locator(".jp-OutputArea .mnb-saved-view").count() >= len(DISPLAY_CELLS)
    assert page.locator(".jp-OutputArea .mlops-nb:visible").count() == 0, (
        "static view shown next to a live widget"
    )
    tabs = page.locator(".jp-OutputArea .jupyter-widget-tab")
    assert tabs.count() == sum(len(t) > 1 for t in TABS)
    for i, (titles, kind) in enumerate(zip(TABS, KINDS, strict=True), start=1):
        w = cells.nth(i).locator(".mlops-nb-widget")
        assert w.count() == 1, f"cell {i}: {w.count()} widget views"
        assert kind in (w.locator(".widget-html").first.text_content() or "")
        labels = w.locator(".jupyter-widget-tab .lm-TabBar-tab").all_text_contents()
        if len(titles) > 1:
            assert [s.strip() for s in labels] == titles, f"cell {i} ({kind})"
        else:  # one section: its title, no tab bar
            assert labels == [], f"cell {i} ({kind}): a tab bar for one section"
            assert titles[0] in (w.text_content() or "")
    shots(page, "widget-01-after-run-all")

    # the asset's Schema tab: the RAC1P row appears only once the tab is chosen
    asset = cells.nth(1).locator(".mlops-nb-widget")
    schema_row = asset.locator("tr:visible", has_text="sensitive").filter(
        has=page.locator("td", has_text=re.compile(r"^\s*RAC1P\s*$"))
    )
    assert schema_row.count() == 0
    scroll_to_top(asset)
    asset.locator(".lm-TabBar-tab", has_text="Data").click()
    asset.locator("td:visible", has_text=re.compile(r"^\s*AGEP\s*$")).first.wait_for()
    shots(page, "widget-02-asset-data-tab")
    asset.locator(".lm-TabBar-tab", has_text="Schema").click()
    schema_row.first.wait_for(state="visible", timeout=10_000)
    current = asset.locator(".lm-TabBar-tab.lm-mod-current")
    assert current.inner_text().strip() == "Schema"
    shots(page, "widget-03-asset-schema-tab")

    # the profile's Distributions tab: a live plotly chart drawn at a real size
    profile = cells.nth(2).locator(".mlops-nb-widget")
    profile.scroll_into_view_if_needed()
    profile.locator(".lm-TabBar-tab", has_text="Distributions").click()
    rendered = profile.locator(".jp-RenderedPlotly")
    rendered.first.wait_for(state="attached")
    img = profile.locator(".jp-RenderedPlotly img.plot-img")  # png placeholder
    if img.count():
        img.first.dispatch_event("mouseenter")
    svg = profile.locator(".jp-RenderedPlotly.js-plotly-plot .main-svg").first
    svg.wait_for(state="visible", timeout=20_000)
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 400, box
    assert box["height"] > 200, box
    assert profile.locator(".js-plotly-plot .barlayer .trace").count() >= 10
    scroll_to_top(profile)
    shots(page, "widget-04-profile-distributions")

    # the check report, lineage and project views
    cells.nth(5).scroll_into_view_if_needed()
    lineage_text = cells.nth(4).locator(".mlops-nb-widget").text_content() or ""
    assert "acs-test v1" in lineage_text
    assert "split" in lineage_text
    shots(page, "widget-05-check-lineage-project")

    assert_no_kernel_errors(page)
    assert_clean_console(page)
    elapsed = time.perf_counter() - start
    print(f"timings: {timings}, test body {elapsed:.1f} s")
    print("browser console:", *page.mnb_log.console, sep="\n  ")


def test_html_mode_renders_static_views_with_plotly(lab_page, jupyterlab, shots):
    start = time.perf_counter()
    page = lab_page
    name = "html_mode.ipynb"
    write_notebook(
        jupyterlab.root / name,
        config='mnb.set_config(display="html")',
        project="proj-html",
    )
    timings = open_and_run_all(page, jupyterlab, name)

    cells = code_cells(page)
    setup_out = cells.nth(0).locator(".jp-OutputArea-output")
    assert "display mode: html" in setup_out.inner_text()

    # one static view per display cell, no widget
    for i, kind in enumerate(KINDS, start=1):
        views = cells.nth(i).locator(".jp-OutputArea-output .mlops-nb")
        assert views.count() == 1, f"cell {i} ({kind}): {views.count()} static views"
        assert kind in (views.text_content() or "")
    assert page.locator(".jp-OutputArea .mlops-nb-widget").count() == 0
    assert page.locator(".jp-OutputArea .jupyter-widgets").count() == 0
    # each tab is a titled section of the static view
    asset_text = cells.nth(1).locator(".mlops-nb").text_content() or ""
    for title in TABS[0]:
        assert title in asset_text
    assert re.search(r"\bRAC1P\b", asset_text)

    # the chart is drawn by the plotly.js embedded in our HTML (once per kernel)
    profile = cells.nth(2).locator(".mlops-nb")
    profile.scroll_into_view_if_needed()
    svg = profile.locator(".main-svg").first
    svg.wait_for(state="visible", timeout=20_000)
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 400, box
    assert box["height"] > 200, box
    assert profile.locator(".barlayer .trace").count() >= 10
    n_plotly_js = page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea script')]"
        ".filter(s => s.textContent.length > 1000000).length"
    )
    assert n_plotly_js == 1, f"plotly.js embedded {n_plotly_js} times"
    assert page.evaluate("() => typeof window.Plotly") == "object"
    scroll_to_top(cells.nth(1).locator(".jp-OutputArea-output"))
    shots(page, "html-01-asset")
    scroll_to_top(profile.locator(".main-svg").first)
    page.mouse.wheel(0, -60)  # show the section title above the chart
    page.wait_for_timeout(200)
    shots(page, "html-02-profile-distributions")

    assert_no_kernel_errors(page)
    assert_clean_console(page)
    elapsed = time.perf_counter() - start
    print(f"timings: {timings}, test body {elapsed:.1f} s")
    print("browser console:", *page.mnb_log.console, sep="\n  ")


def test_reopened_notebook_shows_every_result_without_its_kernel(
    lab_page, jupyterlab, shots
):
    page = lab_page
    name = "reopen.ipynb"
    write_notebook(jupyterlab.root / name, config="", project="proj-reopen")
    open_and_run_all(page, jupyterlab, name)
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-OutputArea .mlops-nb-widget').length >= n",
        arg=len(DISPLAY_CELLS),
    )
    page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:save'); }")
    saved = jupyterlab.root / name
    for _ in range(100):  # the save lands on disk with its outputs
        try:
            nb = nbformat.read(saved, as_version=4)
        except nbformat.reader.NotJSONError:  # caught in the middle of the write
            nb = nbformat.v4.new_notebook()
        if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
            break
        page.wait_for_timeout(200)
    mimes = [
        set(o.get("data", {}))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    ]  # fmt: skip
    assert sum("application/vnd.jupyter.widget-view+json" in m for m in mimes) >= len(
        DISPLAY_CELLS
    )

    # close: the kernel goes (its widget models with it); reopen in a new kernel
    page.goto("about:blank")
    _close_every_session(jupyterlab)
    page.goto(jupyterlab.url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    page.locator("#jp-main-statusbar").get_by_text("(ipykernel) | Idle").wait_for(
        timeout=90_000
    )
    cells = code_cells(page)
    for i, kind in enumerate(KINDS, start=1):
        view = cells.nth(i).locator(".mnb-saved-view .mlops-nb")
        view.first.wait_for(state="visible", timeout=20_000)
        assert kind in (view.first.text_content() or ""), f"cell {i}"
    shown = page.locator(".jp-OutputArea-output:visible", has_text="model not found")
    assert shown.count() == 0, "a widget error is shown instead of the saved view"
    assert page.locator(".jp-OutputArea .mlops-nb-widget").count() == 0

    # key tables: the asset's schema names RAC1P as sensitive; the chart is drawn
    asset = cells.nth(1).locator(".mnb-saved-view .mlops-nb")
    assert asset.locator("td:visible", has_text=re.compile(r"^\s*RAC1P\s*$")).count()
    scroll_to_top(asset)
    shots(page, "reopen-01-asset")
    profile = cells.nth(2).locator(".mnb-saved-view .mlops-nb")
    profile.scroll_into_view_if_needed()
    svg = profile.locator(".main-svg").first
    svg.wait_for(state="visible", timeout=20_000)
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 400, box
    assert profile.locator(".barlayer .trace").count() >= 10
    scroll_to_top(svg)
    page.mouse.wheel(0, -60)
    page.wait_for_timeout(200)
    shots(page, "reopen-02-profile-chart")
    lineage = cells.nth(4).locator(".mnb-saved-view .mlops-nb").text_content() or ""
    assert "acs-test v1" in lineage
    assert_no_kernel_errors(page)
    # the widget manager logs the missing models it no longer draws; nothing else
    others = [
        e for e in page.mnb_log.errors if "model not found" not in e.lower()
        and "could not find model" not in e.lower()
    ]  # fmt: skip
    assert not others, "JavaScript errors in the page:\n" + "\n".join(others)
    assert not page.mnb_log.blocked, page.mnb_log.blocked


def _close_every_session(lab: Any) -> None:
    for session in lab.api("GET", "/api/sessions") or []:
        lab.api("DELETE", f"/api/sessions/{session['id']}")
    for _ in range(100):
        if not lab.api("GET", "/api/kernels"):
            return
        time.sleep(0.2)


THEME_CELLS = [
    """\
import mlops_nb as mnb
import pandas as pd
proj = mnb.Project.open("proj-theme")
frame = mnb.datasets.employment("reference").sample(2000, random_state=0)
ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"],
                time="year", id="id")""",
    "ref.profile()",
    """\
from mlops_nb.ui._blocks import Table, View, Tab
from mlops_nb.ui._display import Displayable
class Wide(Displayable):
    def _view(self):
        frame = pd.DataFrame({
            "variant": ["float32 reference", "int8 dynamic quantization"],
            "roc_auc": [0.90123, 0.8975], "latency_p50_ms": [0.0221, 0.01934],
            "size_mb": [1.2345, 0.3231], "predictions": [5844, 34679],
            "rate": [0.0003231, 0.25], "missing": [None, 1.5],
            "note": ["the reference every variant is measured against, unchanged",
                     "weights stored as 8-bit integers; trees are unaffected " * 2],
        })
        return View("Table", "wide", "a wide table", tabs=[
            Tab("One", [Table(frame)]), Tab("Two", [Table(frame.head(1))])])
Wide()""",
    f"print({SENTINEL!r})",
]


def _luminance(css: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_tables_read_well_in_both_themes(lab_page, jupyterlab, shots, theme):
    page = lab_page
    name = f"theme-{theme.split()[-1].lower()}.ipynb"
    write_code_notebook(jupyterlab.root / name, THEME_CELLS)
    page.goto(jupyterlab.url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    page.evaluate(
        f"() => {{ window.jupyterapp.commands.execute('apputils:change-theme', "
        f"{{theme: {theme!r}}}); }}"
    )
    dark = theme.endswith("Dark")
    page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === {'false' if dark else 'true'!r}"
    )
    open_and_run_all(page, jupyterlab, name)
    cells = code_cells(page)
    table = cells.nth(2).locator(".mlops-nb-widget table").first
    table.wait_for(state="visible")
    heads = table.locator("tr").first.locator("td")
    texts = [t.strip() for t in heads.all_text_contents()]
    # headers are words, the code is on hover; numbers align in one format
    assert "ROC AUC" in texts
    assert "latency p50 (ms)" in texts
    assert heads.nth(texts.index("ROC AUC")).get_attribute("title") == "roc_auc"
    body = table.inner_text()
    assert "5,844" in body
    assert "34,679" in body
    assert "e-0" not in body  # no scientific notation for ordinary sizes
    assert "0.00032\t" in body  # one decimals count per column: 0.00032, 0.25000
    assert "0.25000" in body
    assert "—" in body  # one missing mark
    # one line per numeric cell and header: no inherited 28 px line height
    for locator in (
        heads.nth(texts.index("latency p50 (ms)")),
        table.locator("td", has_text="0.00032").first,
    ):
        # a cell is as tall as its row (the wrapped note sets that): measure the text
        lines = locator.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e);"
            " const tops = [...r.getClientRects()].map(b => Math.round(b.top));"
            " return new Set(tops).size; }"
        )
        assert lines == 1, (locator, lines)
        line_height = locator.evaluate("e => getComputedStyle(e).lineHeight")
        assert line_height == "normal" or float(line_height.rstrip("px")) < 26, (
            locator,
            line_height,
        )
    # the long note wraps inside the view instead of pushing the table sideways
    view = cells.nth(2).locator(".mlops-nb-widget").first
    scroll = table.evaluate(
        "t => t.parentElement.scrollWidth - t.parentElement.clientWidth"
    )
    assert scroll <= 1, f"table scrolls sideways by {scroll} px"
    # ... and nothing is clipped: the whole table lies inside the view
    overflow = table.evaluate(
        "t => t.getBoundingClientRect().right"
        " - t.closest('.mlops-nb-widget').getBoundingClientRect().right"
    )
    assert overflow <= 0, f"table runs {overflow} px past the view"
    # text reads on its background in this theme
    header = view.locator(".widget-html").first.locator("b").first
    fg = _luminance(header.evaluate("e => getComputedStyle(e).color"))
    assert (fg > 0.6) if dark else (fg < 0.4), (theme, fg)
    cell = table.locator("td").first
    bg = cell.evaluate(
        "e => { for (let n = e; n; n = n.parentElement) {"
        " const c = getComputedStyle(n).backgroundColor;"
        " if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }"
        " return 'rgb(255, 255, 255)'; }"
    )
    assert (_luminance(bg) < 0.4) if dark else (_luminance(bg) > 0.6), (theme, bg)
    # sortable in the live view: a header click orders rows by value, again reverses
    predictions = heads.nth(texts.index("predictions"))
    first_row = table.locator("tr").nth(1)
    predictions.click()
    assert first_row.locator("td").first.inner_text().startswith("float32")
    predictions.click()
    assert first_row.locator("td").first.inner_text().startswith("int8")
    scroll_to_top(cells.nth(2))
    shots(page, f"theme-{'dark' if dark else 'light'}-01-table")
    profile = cells.nth(1).locator(".mlops-nb-widget")
    scroll_to_top(profile)
    shots(page, f"theme-{'dark' if dark else 'light'}-02-profile")
    assert_no_kernel_errors(page)
