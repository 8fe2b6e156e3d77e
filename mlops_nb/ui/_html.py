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
import re
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
# Colours come from JupyterLab's theme variables where they exist (light and dark
# themes both read well), with the light values as fallbacks for reports and GitHub.
FG = "var(--jp-content-font-color1,#222)"
FG_SOFT = "var(--jp-content-font-color2,#444)"
MUTED = "var(--jp-ui-font-color2,#666)"
ACCENT = "var(--jp-brand-color1,#1f4e79)"
LINE = "var(--jp-border-color2,#d0d7de)"
LINE_SOFT = "var(--jp-border-color3,#eee)"
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    f"line-height:1.4;color:{FG};background:var(--jp-layout-color0,#fff);"
    f"border:1px solid {LINE};border-radius:6px;"
    "padding:10px 12px;margin:4px 0;max-width:1100px"
)
# explicit line-height: inside widgets cells otherwise inherit 28px from ipywidgets
_TD = (
    f"padding:2px 8px;border-bottom:1px solid {LINE_SOFT};text-align:left;"
    "vertical-align:top;line-height:1.35"
)
_TH = (
    f"padding:2px 8px;border-bottom:1px solid {LINE};text-align:left;"
    "vertical-align:bottom;line-height:1.25;font-weight:bold;min-width:4em"
)
#: Above this many characters a text column wraps (at least 10em wide).
_WRAP_AT = 40
#: Up to this many characters a text value is never broken (ids, codes, short labels).
_KEEP_WHOLE = 16
#: Words that stay upper case (or take a fixed spelling) in column headers.
_WORDS = {
    "auc": "AUC", "roc": "ROC", "pr": "PR", "tpr": "TPR", "fpr": "FPR", "f1": "F1",
    "mae": "MAE", "rmse": "RMSE", "mse": "MSE", "r2": "R²", "psi": "PSI", "ks": "KS",
    "js": "JS", "id": "id", "onnx": "ONNX", "cpu": "CPU", "ram": "RAM", "p50": "p50",
    "p99": "p99", "kwh": "kWh", "wh": "Wh", "co2": "CO₂", "mb": "MB", "kb": "KB",
    "ms": "ms", "eur": "EUR", "usd": "USD", "pct": "%", "ci": "CI", "sd": "sd",
}  # fmt: skip
#: Lower-case words of statistic names; a header made only of these becomes words.
_KNOWN = frozenset(
    {
        "abs",
        "accuracy",
        "alert",
        "analysis",
        "at",
        "balanced",
        "band",
        "base",
        "batch",
        "brier",
        "chi2",
        "chunk",
        "conf",
        "cost",
        "count",
        "days",
        "delta",
        "demographic",
        "detail",
        "difference",
        "drift",
        "dtype",
        "duration",
        "emissions",
        "end",
        "energy",
        "equalized",
        "error",
        "estimated",
        "feature",
        "features",
        "fn",
        "fp",
        "gain",
        "group",
        "hellinger",
        "importance",
        "interval",
        "kind",
        "latency",
        "level",
        "lift",
        "log",
        "loss",
        "lower",
        "max",
        "mean",
        "median",
        "memory",
        "min",
        "missing",
        "money",
        "mu",
        "n",
        "name",
        "negative",
        "odds",
        "p",
        "parity",
        "peak",
        "per",
        "period",
        "positive",
        "precision",
        "predictions",
        "pvalue",
        "rank",
        "rate",
        "ratio",
        "realized",
        "recall",
        "reference",
        "risk",
        "role",
        "row",
        "rows",
        "sampling",
        "score",
        "selection",
        "share",
        "sigma",
        "single",
        "size",
        "star",
        "start",
        "statistic",
        "status",
        "std",
        "test",
        "threshold",
        "throughput",
        "tn",
        "top",
        "total",
        "tp",
        "train",
        "unique",
        "upper",
        "valid",
        "validation",
        "value",
        "wasserstein",
    }
)
#: Whole names with a label of their own.
_LABELS = {
    "mu_star": "μ*",
    "mu_star_conf": "μ* interval (95 %)",
    "n": "rows",
    "brier": "Brier score",
}
#: Name endings that are units, shown in brackets after the header's words.
_UNITS = {"ms": "ms", "s": "s", "mb": "MB", "kb": "KB", "pct": "%", "wh": "Wh",
          "kwh": "kWh", "eur": "EUR", "usd": "USD"}  # fmt: skip
MISSING = "—"

_plotly_sent: set[str] = set()


class Coded(str):
    """A label that stands for a code: ``Coded("female", "SEX = 2")``.

    It is the label wherever text is wanted (plain-text views, sorting, ``==``);
    :func:`coded_html` and the table renderer show the code on hover. Keep tables
    holding them in ``object`` columns (pandas' string dtype drops the code).
    """

    title: str

    def __new__(cls, text: str, title: str) -> Coded:
        obj = super().__new__(cls, text)
        obj.title = str(title)
        return obj

    def __reduce__(self) -> Any:
        return (Coded, (str(self), self.title))


def coded_html(value: Any) -> str:
    """Return ``<span title="SEX = 2">female</span>`` for a :class:`Coded`.

    Any other value is formatted and escaped as :func:`esc` does.
    """
    if isinstance(value, Coded):
        return (
            f'<span title="{html.escape(value.title)}" '
            f'style="text-decoration:underline dotted {MUTED}">'
            f"{html.escape(str(value))}</span>"
        )
    return esc(value)


def esc(value: Any) -> str:
    """Escape any value for HTML text."""
    return html.escape(format_value(value))


def format_value(value: Any) -> str:
    """Format a value for people: thousands separators, 4 significant digits.

    Missing values (None, NaN, NaT, pandas' NA) are one mark, ``—``; ordinary sizes
    never use scientific notation (only below 1e-6 or beyond 1e15).
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value.is_integer() and abs(value) < 1e15:
            return format_value(int(value))
        text = _fixed(value, _decimals(abs(value)))
        return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return format_value(value.item())
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return MISSING
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value)


def _decimals(magnitude: float) -> int:
    """Decimals that give 4 significant digits at ``magnitude`` (0 to 8)."""
    if magnitude == 0 or not math.isfinite(magnitude):
        return 0
    return max(0, min(8, 3 - math.floor(math.log10(magnitude))))


def _fixed(value: float, decimals: int) -> str:
    if (value != 0 and abs(value) < 1e-6) or abs(value) >= 1e15:
        return f"{value:.3e}"
    return f"{value:,.{decimals}f}"


def header_label(name: Any) -> str:
    """Return a statistic's column name as words: ``roc_auc`` -> ``ROC AUC``.

    Only names made wholly of known words of this field (metrics, statistics,
    units) change, e.g. ``demographic_parity_difference`` -> ``demographic parity
    difference`` and ``latency_p50_ms`` -> ``latency p50 (ms)``; a user's own column
    (``AGEP``, ``hours_per_week``, ``hours-per-week``) is shown exactly as it is. In a
    header of several words (``validation roc_auc``) each snake_case word is read so.
    """
    text = str(name)
    if text in _LABELS:
        return _LABELS[text]
    if " " in text:  # "validation roc_auc": each snake_case word read on its own
        return " ".join(header_label(t) if "_" in t else t for t in text.split(" "))
    parts = text.split("_")
    if not all(p in _KNOWN or p in _WORDS for p in parts):
        return text
    unit = _UNITS.get(parts[-1]) if len(parts) > 1 else None
    if unit:
        parts = parts[:-1]
    words = " ".join(_WORDS.get(p, p) for p in parts)
    return f"{words} ({unit})" if unit else words


# A click on a header sorts the rows by that column (again: the other way). Plain
# inline script, no library: it works offline, in saved reports and in the live view
# (JupyterLab runs it in trusted outputs; an untrusted notebook shows the table as is).
# Numbers sort by ``data-v`` (separators are only display); missing ones go last.
_SORT_ON_CLICK = (
    " onclick=\"var t=this.closest('table'),i=this.cellIndex,"
    "d=this.dataset.dir=this.dataset.dir==='a'?'d':'a',"
    "b=Array.prototype.slice.call(t.rows,1);"
    "b.sort(function(x,y){var p=x.cells[i].dataset.v,q=y.cells[i].dataset.v,r;"
    "if(p!==undefined&amp;&amp;q!==undefined){r=p-q}"
    "else if(p===undefined&amp;&amp;q===undefined){r=x.cells[i].textContent"
    ".localeCompare(y.cells[i].textContent,undefined,{numeric:true})}"
    "else{return p===undefined?1:-1}return d==='a'?r:-r});"
    'b.forEach(function(r){r.parentNode.appendChild(r)})"'
)


def _sort_key(value: Any) -> str:
    """Return a number's sort key as a ``data-v`` attribute (none for text, missing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        import numpy as np

        if not isinstance(value, np.integer | np.floating) or isinstance(
            value, np.bool_
        ):
            return ""
    number = float(value)
    return f' data-v="{number!r}"' if math.isfinite(number) else ""


_INTERVAL = re.compile(r"^\S+ \[[^\]]*\]$")


def _is_interval_text(values: Any) -> bool:
    """Whether a text column holds estimates with intervals, ``0.5 [0.4, 0.6]``."""
    texts = [v for v in values.tolist() if isinstance(v, str)]
    return bool(texts) and all(_INTERVAL.match(t) for t in texts)


def _column_formatter(values: Any) -> Any:
    """One format for a whole column: fixed decimals for floats, so digits align."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(
        values.dtype
    ):
        return format_value
    if pd.api.types.is_integer_dtype(values.dtype):
        return format_value
    finite = np.asarray(values, dtype="float64")
    finite = np.abs(finite[np.isfinite(finite)])
    if finite.size == 0 or np.all(finite == np.round(finite)):
        return format_value
    decimals = _decimals(float(finite.max()))
    nonzero = finite[finite > 0]
    if nonzero.size:  # the smallest value keeps two significant digits
        small = 1 - math.floor(math.log10(float(nonzero.min())))
        decimals = max(decimals, min(8, small))

    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        try:
            number = float(value)
        except (TypeError, ValueError):
            return format_value(value)
        if math.isnan(number):
            return MISSING
        if math.isinf(number):
            return format_value(number)
        return _fixed(number, decimals)

    return fmt


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


def tidy_figure(fig: Any) -> str:
    """Return ``fig`` as plotly JSON laid out to fit its container.

    The width comes from the container, a title gets room above the plot (clear
    of plotly's toolbar), bars start at zero and colours come from the one palette
    (:mod:`mlops_nb.ui._palette`). The figure itself is unchanged.
    """
    from mlops_nb.ui._palette import apply_palette

    spec = apply_palette(json.loads(fig.to_json()))  # one palette for every chart
    layout = spec.setdefault("layout", {})
    layout.pop("width", None)
    layout["autosize"] = True
    title = layout.get("title") or {}
    if isinstance(title, dict) and title.get("text"):
        margin = layout.setdefault("margin", {})
        margin["t"] = max(int(margin.get("t", 0) or 0), 56)
        title.setdefault("y", 0.97)
        title.setdefault("yanchor", "top")
    bars = [t for t in spec.get("data", []) if t.get("type") == "bar"]
    if bars:  # a bar's length is its value: an axis that does not start at 0 lies
        horizontal = all(t.get("orientation") == "h" for t in bars)
        axis = "xaxis" if horizontal else "yaxis"
        for key in [k for k in layout if k.startswith(axis)] or [axis]:
            ax = layout.setdefault(key, {})
            ax.pop("range", None)
            ax["rangemode"] = "tozero"
    return json.dumps(spec)


def figure_html(fig: Any, height: int | None = None) -> str:
    """Render a figure as a div plus a script drawing it once plotly.js is present."""
    div_id = f"mnb-fig-{uuid.uuid4().hex[:12]}"
    spec = script_safe_json(tidy_figure(fig))
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
    """Render a DataFrame as a compact HTML table, the same in widget and report.

    Headers are words (the column's own name on hover); numbers are right-aligned
    and never wrap, with one format per column (fixed decimals, thousands
    separators); long text columns wrap instead of pushing the table sideways; one
    missing mark; long tables are cut at ``max_rows`` with a note.
    """
    import pandas as pd

    frame = block.frame
    shown = frame.head(block.max_rows)
    cols = [c for c in shown.columns if c != block.tone_column]
    styles, formats = {}, {}
    for c in cols:
        values = shown[c]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not (
            pd.api.types.is_bool_dtype(values.dtype)
        )
        if c in block.plain_columns:
            formats[c] = lambda v: (
                coded_html(v)
                if isinstance(v, Coded)
                else MISSING
                if _missing(v)
                else html.escape(str(v))
            )
        else:
            fmt = _column_formatter(values)
            formats[c] = lambda v, fmt=fmt: (
                coded_html(v) if isinstance(v, Coded) else html.escape(fmt(v))
            )
        if numeric:
            styles[c] = ";text-align:right;white-space:nowrap"
        elif _is_interval_text(values):
            # "0.536 [0.492, 0.577]": a narrow room puts the interval under the
            # estimate instead of cutting the table; the interval itself never breaks
            styles[c] = ";text-align:right;white-space:normal"
            formats[c] = lambda v, fmt=formats[c]: fmt(v).replace(", ", ",\u00a0")
        else:
            longest = values.astype("string").str.len().max()
            longest = 0 if longest is pd.NA else int(longest or 0)
            # long text wraps; a label of a few words wraps only when the room is
            # tight (the table takes each column's one-line width while it fits)
            styles[c] = (
                ";white-space:normal;min-width:10em"
                if longest > _WRAP_AT
                else ";white-space:normal;min-width:6em"
                if longest > _KEEP_WHOLE
                else ";white-space:nowrap"
            )
    sortable = len(shown) > 1
    head = "".join(
        f'<td style="{_TH}{";text-align:right" if "right" in styles[c] else ""}'
        # a short header stays on one line; a long one wraps at its spaces
        f"{';white-space:nowrap' if len(header_label(c)) <= 24 else ''}"
        f'{";cursor:pointer" if sortable else ""}"'
        f"{_SORT_ON_CLICK if sortable else ''}"
        f' title="{html.escape(block.titles.get(c) or str(c))}">'
        f"{html.escape(header_label(c))}</td>"
        for c in cols
    )
    rows = []
    for _, row in shown.iterrows():
        style = ""
        if block.tone_column is not None:
            fg, bg = _TONES.get(str(row[block.tone_column]), _TONES["muted"])
            style = f' style="background:{bg};color:{fg}"'
        cells = "".join(
            f'<td style="{_TD}{styles[c]}"{_sort_key(row[c])}>{formats[c](row[c])}</td>'
            for c in cols
        )
        rows.append(f"<tr{style}>{cells}</tr>")
    more = ""
    if len(frame) > block.max_rows:
        more = (
            f'<div style="color:{MUTED}">… {len(frame) - block.max_rows:,} more rows'
            "</div>"
        )
    caption = (
        f'<div style="color:{FG_SOFT};margin:6px 0 2px"><b>{esc(block.caption)}</b>'
        "</div>"
    )
    return (
        (caption if block.caption else "")
        # width 0 + min-width 100%: the table never widens its container (a flex
        # item in widgets would grow to the table and be clipped); it wraps its text
        # columns to the room, and scrolls only if even that is too narrow
        + '<div style="overflow-x:auto;width:0;min-width:100%">'
        + '<table style="border-collapse:collapse;margin:2px 0;'
        + 'font-variant-numeric:tabular-nums">'
        + f"<tr>{head}</tr>"
        + "".join(rows)
        + "</table></div>"
        + more
    )


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not hasattr(value, "__len__") else False
    except (TypeError, ValueError):
        return False


def keyvalues_html(block: KeyValues) -> str:
    """Labelled values as a two-column table."""
    rows = "".join(
        f'<tr><td style="{_TD};color:{MUTED}">{esc(k)}</td>'
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
        f"display:inline-block;border:1px solid {LINE};border-radius:4px;"
        "padding:1px 6px;background:var(--jp-layout-color2,#f6fafa)"
    )
    rows = [
        f'<div style="margin:3px 0"><span style="{box}">{esc(parent)}</span>'
        f' <span style="color:{MUTED}">→ {esc(op)} →</span> '
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
            f'<div style="color:{FG_SOFT}"><b>{esc(block.caption)}</b></div>'
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
        f'<div><span style="color:{MUTED}">{esc(view.kind)}</span> '
        f'<b style="font-size:15px;color:{FG}">{esc(view.title)}</b>{badges}</div>'
        f'<div style="color:{FG_SOFT};margin:2px 0 6px">{esc(view.summary)}</div>'
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
    side = view.navigation == "side" and len(view.tabs) > 1
    anchor = f"mnb-{uuid.uuid4().hex[:8]}-"  # unique per rendering: many on a page
    for i, tab in enumerate(view.tabs):
        body = "".join(block_html(b) for b in tab.blocks)
        at = f' id="{anchor}{i}"' if side else ""
        sections.append(
            f'<div style="margin-top:8px"><div{at} style="border-bottom:2px solid '
            f'{ACCENT};color:{ACCENT};font-weight:bold;margin-bottom:4px">'
            f"{esc(tab.title)}</div>{body}</div>"
        )
    if side:  # a long document: a table of contents with anchors first
        sections.insert(0, toc_html([t.title for t in view.tabs], anchor))
    js = ""
    if view.figures():
        js = plotly_js() if plotly_key is None else plotly_js_once(plotly_key)
    return (
        f'<div class="mlops-nb" style="{_BOX}">{js}{header_html(view)}'
        f"{''.join(sections)}{summary_script(view)}</div>"
    )


def toc_html(titles: list[str], anchor: str) -> str:
    """Return a table of contents linking to sections ``{anchor}0``, ``{anchor}1``..."""
    links = "".join(
        f'<li style="margin:1px 0"><a href="#{anchor}{i}" style="color:{ACCENT}">'
        f"{esc(title)}</a></li>"
        for i, title in enumerate(titles)
    )
    return (
        f'<div class="mnb-toc" style="margin:6px 0;color:{FG_SOFT}"><b>Contents</b>'
        f'<ul style="margin:2px 0 0 0;padding-left:20px;columns:2 16em">{links}</ul>'
        "</div>"
    )


def script_safe_json(payload: str) -> str:
    r"""Return JSON text that cannot end or change the ``<script>`` holding it.

    ``</script``, ``<!--`` and ``<script`` inside a script element end it or switch
    the HTML parser into a state that swallows the rest of the page. In JSON those
    characters only occur inside strings, where ``\u003c`` (and ``>``, ``&``, the
    JavaScript line separators) mean the same characters.
    """
    return (
        payload.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
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
    payload = script_safe_json(json.dumps(data, default=str))
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
