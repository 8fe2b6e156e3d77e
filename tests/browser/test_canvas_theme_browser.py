"""The value canvas in a real JupyterLab, in both themes (issue 15, items 8 and 9).

- The canvas card follows JupyterLab's theme: its cells take the theme's layout
  colour and their text reads on it (dark cells and light text in the dark theme).
- The Edit form's error message wraps with a normal line height, not the 28px line
  box ipywidgets gives its HTML widget.

Run alone with ``pytest tests/browser/test_canvas_theme_browser.py -q``; screenshots
go to ``/tmp/mlops_nb_shots`` (``canvas-theme-*.png``).
"""

from __future__ import annotations

import pytest
from test_jupyterlab import (
    SENTINEL,
    _luminance,
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
proj.canvas(process="Outreach for a job-training programme", value_level="optimize",
            outcomes={{"tp": 120, "fp": -15, "fn": -60, "tn": 0}}, positive_class=0,
            kpis=["placements per month"], stakeholders=["programme office"],
            risks=["people left out of the programme"])""",
    f"print({SENTINEL!r})",
]

#: The first non-transparent background from an element up.
_BACKGROUND = (
    "e => { for (let n = e; n; n = n.parentElement) {"
    " const c = getComputedStyle(n).backgroundColor;"
    " if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }"
    " return 'rgb(255, 255, 255)'; }"
)
#: Line boxes of an element's text: how many, and their mean distance in pixels.
_LINES = (
    "e => { const r = document.createRange(); r.selectNodeContents(e);"
    " const tops = [...new Set([...r.getClientRects()].map(b => Math.round(b.top)))]"
    ".sort((a, b) => a - b);"
    " const gaps = tops.slice(1).map((t, i) => t - tops[i]);"
    " return [tops.length, gaps.length ? gaps.reduce((a, b) => a + b) / gaps.length"
    " : 0]; }"
)


def _set_theme(page, jupyterlab, name: str, theme: str) -> bool:
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
    return dark


# dark first: the theme is a saved setting, so the light run leaves it as it was
@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_canvas_card_follows_the_theme_and_its_error_wraps_tightly(
    lab_page, jupyterlab, shots, theme
):
    page = lab_page
    tag = theme.split()[-1].lower()
    name = f"canvas-theme-{tag}.ipynb"
    project = jupyterlab.root / f"proj-canvas-{tag}"
    write_code_notebook(
        jupyterlab.root / name, [c.format(project=str(project)) for c in CELLS]
    )
    dark = _set_theme(page, jupyterlab, name, theme)
    open_and_run_all(page, jupyterlab, name)
    canvas = code_cells(page).nth(0).locator(".mlops-nb-widget").first
    canvas.wait_for(timeout=30_000)
    scroll_to_top(canvas)

    # the card: every cell's background and text follow the theme
    card = canvas.locator(".widget-html:visible", has_text="Stakeholders").first
    cells = card.locator("td", has_text="Stakeholders")
    assert cells.count() >= 1
    for title in ("Business process", "Record", "KPIs", "Stakeholders", "Risks"):
        cell = card.locator("td", has_text=title).last
        bg = _luminance(cell.evaluate(_BACKGROUND))
        text = cell.locator("div").nth(1)
        fg = _luminance(text.evaluate("e => getComputedStyle(e).color"))
        if dark:
            assert bg < 0.4, (title, bg)
            assert fg > 0.6, (title, fg)
        else:
            assert bg > 0.6, (title, bg)
            assert fg < 0.4, (title, fg)
    # the matrix's heading cells too ("actually positive", on the card's colour)
    head = card.locator("td", has_text="actually positive").last
    head_bg = _luminance(head.evaluate(_BACKGROUND))
    assert (head_bg < 0.4) if dark else (head_bg > 0.6), head_bg
    shots(canvas, f"canvas-theme-{tag}-01-card")

    # the Edit form: a wrapped error with normal line spacing
    canvas.locator(".lm-TabBar-tab", has_text="Edit").click()
    button = canvas.locator(".widget-button:visible", has_text="Save new version")
    canvas.locator(".widget-text input:visible").first.fill("   ")
    button.click()
    status = canvas.locator(".mnb-canvas-status:visible", has_text="not saved").first
    status.wait_for(timeout=15_000)
    content = status.locator(".widget-html-content")
    lines, spacing = content.evaluate(_LINES)
    assert lines >= 2, lines  # long enough to wrap in the form
    size = float(content.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert spacing <= 1.6 * size, (spacing, size)  # not ipywidgets' 28px
    assert status.evaluate("s => s.scrollWidth <= s.clientWidth + 1")
    note = canvas.locator(".mnb-canvas-text:visible .widget-html-content").first
    lines, spacing = note.evaluate(_LINES)
    assert lines >= 2, lines  # the outcomes' explanation wraps at 1280 px too
    assert spacing <= 1.6 * size, ("outcomes text", spacing, size)
    scroll_to_top(button)
    shots(canvas, f"canvas-theme-{tag}-02-error")
    assert_no_kernel_errors(page)
