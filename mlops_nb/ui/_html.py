"""Static, self-contained HTML from a :class:`View`.

Only simple tags are used (``div span table tr td b i pre code ul li``) with inline
styles, because sanitisers such as nbconvert's and GitHub's escape the rest. User
strings are escaped. plotly.js is embedded (never loaded from a CDN) at most once per
kernel and mode; each figure waits for ``window.Plotly`` before drawing, so figure
order on the page does not matter.
"""

from __future__ import annotations

import html
import json
import math
import uuid
from typing import Any

from mlops_nb.ui._blocks import Figure, Flow, KeyValues, Table, Text, View

_TONES = {
    "info": ("#1f4e79", "#eaf2fb"),
    "ok": ("#1e6b34", "#e8f5ec"),
    "warning": ("#7a5200", "#fff6e0"),
    "error": ("#8a1c1c", "#fdecec"),
    "muted": ("#555555", "#f3f3f3"),
}
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "color:#222;background:#fff;border:1px solid #d0d7de;border-radius:6px;"
    "padding:10px 12px;margin:4px 0;max-width:1100px"
)
_TD = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top"

_plotly_sent: set[str] = set()


def esc(value: Any) -> str:
    """Escape any value for HTML text."""
    return html.escape(format_value(value))


def format_value(value: Any) -> str:
    """Format a cell value for people: thousands separators, 4 significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return format_value(int(value))
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return format_value(value.item())
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value)


def plotly_js_once(key: str) -> str:
    """Return a ``<script>`` with plotly.js the first time ``key`` asks, then ``""``."""
    if key in _plotly_sent:
        return ""
    _plotly_sent.add(key)
    return plotly_js()


def plotly_js() -> str:
    """Return a ``<script>`` element holding the whole plotly.js bundle (offline)."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def figure_html(fig: Any, height: int | None = None) -> str:
    """Render a figure as a div plus a script drawing it once plotly.js is present."""
    div_id = f"mnb-fig-{uuid.uuid4().hex[:12]}"
    spec = fig.to_json().replace("</", "<\\/")
    h = height or fig.layout.height or 360
    return (
        f'<div id="{div_id}" style="width:100%;height:{int(h)}px"></div>'
        '<script type="text/javascript">(function(){'
        f'var el=document.getElementById("{div_id}");var spec={spec};'
        "function plot(){window.Plotly.newPlot(el,spec.data,spec.layout,"
        "{responsive:true,displaylogo:false});}"
        # a hidden chart (the saved view next to a live widget) is drawn once shown
        "function draw(){if(!el){return;}if(!window.Plotly){setTimeout(draw,50);"
        "return;}if(el.offsetParent===null&&window.IntersectionObserver){"
        "var io=new IntersectionObserver(function(es){if(es.some(function(e){"
        "return e.isIntersecting;})){io.disconnect();plot();}});io.observe(el);"
        "return;}plot();}draw();})();</script>"
    )


def table_html(block: Table) -> str:
    """Render a DataFrame as a plain HTML table (header in bold, long tables cut)."""
    frame = block.frame
    shown = frame.head(block.max_rows)
    cols = [c for c in shown.columns if c != block.tone_column]
    head = "".join(f'<td style="{_TD}"><b>{esc(c)}</b></td>' for c in cols)
    rows = []
    for _, row in shown.iterrows():
        style = ""
        if block.tone_column is not None:
            fg, bg = _TONES.get(str(row[block.tone_column]), _TONES["muted"])
            style = f' style="background:{bg};color:{fg}"'
        cells = "".join(
            f'<td style="{_TD}">'
            f"{html.escape(str(row[c])) if c in block.plain_columns else esc(row[c])}"
            "</td>"
            for c in cols
        )
        rows.append(f"<tr{style}>{cells}</tr>")
    more = ""
    if len(frame) > block.max_rows:
        more = (
            f'<div style="color:#666">… {len(frame) - block.max_rows:,} more rows</div>'
        )
    caption = (
        f'<div style="color:#444;margin:6px 0 2px"><b>{esc(block.caption)}</b></div>'
    )
    return (
        (caption if block.caption else "")
        + '<div style="overflow-x:auto;max-width:100%">'
        + '<table style="border-collapse:collapse;margin:2px 0">'
        + f"<tr>{head}</tr>"
        + "".join(rows)
        + "</table></div>"
        + more
    )


def keyvalues_html(block: KeyValues) -> str:
    """Labelled values as a two-column table."""
    rows = "".join(
        f'<tr><td style="{_TD};color:#555">{esc(k)}</td>'
        f'<td style="{_TD}"><b>{esc(v)}</b></td></tr>'
        for k, v in block.items
    )
    return f'<table style="border-collapse:collapse;margin:2px 0">{rows}</table>'


def text_html(block: Text) -> str:
    """Render a paragraph coloured by its tone."""
    fg, bg = _TONES[block.tone]
    return (
        f'<div style="color:{fg};background:{bg};padding:4px 8px;border-radius:4px;'
        f'margin:4px 0">{esc(block.text)}</div>'
    )


def flow_html(block: Flow) -> str:
    """Lineage edges as rows of ``parent → operation → child`` boxes."""
    box = (
        "display:inline-block;border:1px solid #8aa;border-radius:4px;"
        "padding:1px 6px;background:#f6fafa"
    )
    rows = [
        f'<div style="margin:3px 0"><span style="{box}">{esc(parent)}</span>'
        f' <span style="color:#666">→ {esc(op)} →</span> '
        f'<span style="{box}">{esc(child)}</span></div>'
        for parent, op, child in block.edges
    ]
    if not rows:
        rows = [
            f'<div><span style="{box}">{esc(n)}</span> (no parents)</div>'
            for n in block.nodes
        ]
    return "".join(rows)


def block_html(block: Any) -> str:
    """Render one block."""
    if isinstance(block, Table):
        return table_html(block)
    if isinstance(block, KeyValues):
        return keyvalues_html(block)
    if isinstance(block, Text):
        return text_html(block)
    if isinstance(block, Flow):
        return flow_html(block)
    if isinstance(block, Figure):
        caption = (
            f'<div style="color:#444"><b>{esc(block.caption)}</b></div>'
            if block.caption
            else ""
        )
        return caption + figure_html(block.figure)
    msg = f"unknown block type {type(block).__name__}"
    raise TypeError(msg)


def header_html(view: View) -> str:
    """Render the title line with badges and the summary."""
    badges = "".join(
        f'<span style="color:{_TONES[t][0]};background:{_TONES[t][1]};'
        f'border-radius:10px;padding:1px 8px;margin-left:6px;font-size:12px">'
        f"{esc(b)}</span>"
        for b, t in view.badges
    )
    return (
        f'<div><span style="color:#666">{esc(view.kind)}</span> '
        f'<b style="font-size:15px">{esc(view.title)}</b>{badges}</div>'
        f'<div style="color:#333;margin:2px 0 6px">{esc(view.summary)}</div>'
    )


def view_html(view: View, *, plotly_key: str | None = "html") -> str:
    """Render the whole view: header, then each tab as a titled section.

    Parameters
    ----------
    view : View
        What to render.
    plotly_key : str or None
        Embed plotly.js unless already sent for this key in this kernel; ``None``
        always embeds it (for standalone files).
    """
    sections = []
    for tab in view.tabs:
        body = "".join(block_html(b) for b in tab.blocks)
        sections.append(
            f'<div style="margin-top:8px"><div style="border-bottom:2px solid #1f4e79;'
            f'color:#1f4e79;font-weight:bold;margin-bottom:4px">{esc(tab.title)}</div>'
            f"{body}</div>"
        )
    js = ""
    if view.figures():
        js = plotly_js() if plotly_key is None else plotly_js_once(plotly_key)
    return (
        f'<div class="mlops-nb" style="{_BOX}">{js}{header_html(view)}'
        f"{''.join(sections)}{summary_script(view)}</div>"
    )


def summary_script(view: View) -> str:
    """Return a machine-readable summary (kind, title, summary, badges) for reports.

    Reports collect it. It is a ``<script type="application/json">``: browsers do
    not run it and sanitisers drop it; :mod:`mlops_nb._report` reads it to write the
    JSON next to a report.
    """
    data = {
        "kind": view.kind,
        "title": view.title,
        "summary": view.summary,
        "badges": [[text, tone] for text, tone in view.badges],
    }
    payload = json.dumps(data, default=str).replace("</", "<\\/")
    return f'<script type="application/json" class="mnb-summary">{payload}</script>'


def error_html(what: str, err: BaseException) -> str:
    """Render the small box shown instead of a view that failed to render."""
    fg, bg = _TONES["error"]
    return (
        f'<div style="{_BOX};color:{fg};background:{bg}">Could not render {esc(what)}: '
        f"{esc(type(err).__name__)}: {esc(err)} "
        "(the full traceback is in the log).</div>"
    )


def page_html(title: str, body: str) -> str:
    """Wrap ``body`` in a complete HTML document."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )
