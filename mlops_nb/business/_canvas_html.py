"""The value canvas as one self-contained HTML card.

A report shows it without a kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_nb.ui._html import ACCENT, FG_SOFT, LINE, MUTED

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlops_nb.business._canvas import ValueCanvas


def money_text(value: float, currency: str = "") -> str:
    """Format ``+1,200 EUR``, ``-15 EUR``, ``+2.50``: signed, whole without decimals."""
    whole = float(value).is_integer() or abs(value) >= 100
    text = f"{value:+,.0f}" if whole else f"{value:+,.2f}"
    text = "0" if value == 0 else text
    return f"{text} {currency}".strip()


# Colours follow JupyterLab's theme variables (light and dark), with the light values
# as fallbacks for reports; coloured cells (outcomes, badges, warnings) carry their own
# background and text colour, so they read the same on either theme.
_CELL = (
    f"border:1px solid {LINE};border-radius:6px;padding:8px 10px;vertical-align:top;"
    "background:var(--jp-layout-color1,#fbfcfd);text-align:left;line-height:1.4"
)
_HEAD = (
    f"color:{ACCENT};font-weight:bold;font-size:12px;text-transform:uppercase;"
    "letter-spacing:.04em;margin-bottom:4px"
)
_MTD = (
    f"border:1px solid {LINE};padding:6px 10px;text-align:center;"
    "background:var(--jp-layout-color0,#fff);line-height:1.3"
)


def _cell(title: str, body: str, colspan: int = 1) -> str:
    from mlops_nb.ui._html import esc

    span = f' colspan="{colspan}"' if colspan > 1 else ""
    return (
        f'<td{span} style="{_CELL}"><div style="{_HEAD}">{esc(title)}</div>{body}</td>'
    )


def _items(items: Iterable[str], empty: str) -> str:
    from mlops_nb.ui._html import esc

    rows = [f'<div style="margin:2px 0">• {esc(i)}</div>' for i in items]
    return "".join(rows) or f'<div style="color:{MUTED}">{esc(empty)}</div>'


def _outcome_td(value: float, currency: str, label: str) -> str:
    from mlops_nb.ui._html import esc

    fg, bg = (
        ("#1e6b34", "#e8f5ec")
        if value > 0
        else ("#8a1c1c", "#fdecec")
        if value < 0
        else ("#555555", "#f3f3f3")
    )
    return (
        f'<td style="{_MTD};background:{bg};color:{fg}"><b style="font-size:15px">'
        f"{esc(money_text(value))}</b> {esc(currency)}"
        f'<div style="font-size:11px;color:{fg}">{esc(label)}</div></td>'
    )


def _other_prices(c: ValueCanvas) -> str:
    """Regression and multiclass prices, when the canvas has no binary outcomes."""
    from mlops_nb.ui._html import esc

    out = ""
    if c.cost_per_unit_error is not None:
        out += (
            f"<div>regression: <b>{esc(money_text(-c.cost_per_unit_error))}</b> "
            f"{esc(c.currency)} per unit of absolute error</div>"
        )
    if c.class_values:
        rows = "".join(
            f'<tr><td style="{_MTD}">{esc(k)}</td>'
            f"{_outcome_td(v['right'], c.currency, 'right')}"
            f"{_outcome_td(v['wrong'], c.currency, 'wrong')}</tr>"
            for k, v in c.class_values.items()
        )
        out += (
            '<table style="border-collapse:collapse;margin:2px 0">'
            f'<tr><td style="{_MTD}"><b>class</b></td><td style="{_MTD}"><b>right'
            f'</b></td><td style="{_MTD}"><b>wrong</b></td></tr>{rows}</table>'
        )
    return out


def canvas_html(canvas: ValueCanvas, *, header: bool = True) -> str:
    """Render the canvas as self-contained HTML (table/tr/td/div/span/b tags only).

    ``header=False`` leaves out the header line (the live view shows it above its
    tabs).
    """
    from mlops_nb.ui._html import esc

    c, o = canvas, canvas.outcomes
    pc = esc(repr(c.positive_class))

    def head(title: str, detail: str) -> str:
        small = f'<div style="font-size:11px;color:{MUTED}">{detail}</div>'
        return f'<td style="{_MTD}"><b>{title}</b>{small}</td>'

    def money(key: str) -> str:
        return _outcome_td(o[key], c.currency, key)

    matrix = _other_prices(c)  # regression and multiclass prices, if any
    if not o:
        return _page(c, matrix, header)
    matrix = (
        '<table style="border-collapse:collapse;margin:2px 0">'
        f'<tr><td style="{_MTD};border:none"></td>'
        f"{head('actually positive', f'target = {pc}')}"
        f"{head('actually negative', f'target ≠ {pc}')}</tr>"
        f"<tr>{head('predicted positive', 'act')}{money('tp')}{money('fp')}</tr>"
        f"<tr>{head('predicted negative', 'do not act')}{money('fn')}{money('tn')}</tr>"
        "</table>"
    )
    be = c.break_even
    if be is None:
        rule = (
            "acting on a positive is worth no more than not acting: check the outcomes"
        )
    elif be <= 0:
        rule = "acting pays whatever the probability: act on everyone"
    elif be >= 1:
        rule = "acting never pays: act on nobody"
    else:
        rule = f"acting pays when P(positive) ≥ {be:.1%} (break-even)"
    matrix += f'<div style="color:{FG_SOFT};margin-top:4px">{esc(rule)}</div>'
    matrix += "".join(
        f'<div style="color:#7a5200;background:#fff6e0;padding:2px 6px">{esc(w)}</div>'
        for w in c._warnings()
    )
    return _page(c, matrix + _other_prices(c), header)


def _page(c: ValueCanvas, matrix: str, header: bool = True) -> str:
    from mlops_nb.ui._html import _BOX, esc

    level = (
        '<span style="color:#1f4e79;background:#eaf2fb;border-radius:10px;'
        'padding:1px 8px">'
        f"<b>{esc(c.value_level)}</b></span> "
        f'<span style="color:{FG_SOFT}">{esc(c.meaning)}</span>'
    )
    record = "".join(
        f'<div><span style="color:{MUTED}">{esc(k)}</span> <b>{esc(v)}</b></div>'
        for k, v in [
            ("version", c.version if c.version is not None else "not saved"),
            ("saved", c.created_at[:19].replace("T", " ")),
            ("by", c.created_by),
            ("note", c.note),
            ("currency", c.currency),
        ]
        if v not in ("", None)
    )
    success = (
        f"<div>{esc(c.success)}</div>"
        if c.success
        else f'<div style="color:{MUTED}">not stated yet</div>'
    )
    process = (
        f'<div style="font-size:15px;margin-bottom:4px"><b>{esc(c.process)}</b></div>'
        f"<div>{level}</div>"
    )
    grid = (
        '<table style="border-collapse:separate;border-spacing:6px;width:100%">'
        f"<tr>{_cell('Business process & value level', process, 2)}"
        f"{_cell('Record', record)}</tr>"
        f"<tr>{_cell('Decision outcomes (value per case)', matrix)}"
        f"{_cell('KPIs', _items(c.kpis, 'none yet'))}"
        f"{_cell('Success criterion', success)}</tr>"
        f"<tr>{_cell('Stakeholders', _items(c.stakeholders, 'none yet'))}"
        f"{_cell('Risks', _items(c.risks, 'none yet'), 2)}</tr>"
        "</table>"
    )
    top = header_line(c) if header else ""
    return f'<div class="mlops-nb" style="{_BOX}">{top}{grid}</div>'


def header_line(c: ValueCanvas) -> str:
    """Return the canvas's header line, the one every object shows above its content.

    Kind, title (version and process), the value level as a badge and the one-line
    summary of the outcome prices, from the canvas's own view.
    """
    from mlops_nb.ui._html import header_html

    return header_html(c._view())
