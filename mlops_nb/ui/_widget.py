"""The live ipywidgets view of a :class:`View`.

Tabs become an ``ipywidgets.Tab``; tables and values become ``HTML`` widgets built by
the static renderer; figures go into ``Output`` widgets as plotly's own MIME type, so
JupyterLab draws them interactively with the plotly extension.
"""

from __future__ import annotations

import json
from typing import Any

from mlops_nb.ui._blocks import Figure, View
from mlops_nb.ui._html import ACCENT, block_html, esc, header_html, tidy_figure


def figure_output(fig: Any) -> Any:
    """Return an ``Output`` widget that shows ``fig`` through plotly's MIME renderer."""
    import ipywidgets as w

    # the chart fits its container: no scrollbar of its own
    out = w.Output(layout=w.Layout(width="100%", overflow="hidden"))
    out.outputs = (
        {
            "output_type": "display_data",
            "data": {
                "application/vnd.plotly.v1+json": json.loads(tidy_figure(fig)),
                "text/plain": f"<plotly figure: {fig.layout.title.text or 'chart'}>",
            },
            "metadata": {},
        },
    )
    return out


def block_widget(block: Any) -> Any:
    """One block as a widget."""
    import ipywidgets as w

    if isinstance(block, Figure):
        parts = []
        if block.caption:
            parts.append(w.HTML(f"<b>{esc(block.caption)}</b>"))
        parts.append(figure_output(block.figure))
        return w.VBox(parts)
    return w.HTML(block_html(block))


def view_widget(view: View) -> Any:
    """Build the whole view as a ``VBox`` holding a header and a ``Tab``."""
    import ipywidgets as w

    header = w.HTML(header_html(view))
    if not view.tabs:
        box = w.VBox([header])
        box.add_class("mlops-nb-widget")
        return box
    if len(view.tabs) == 1:  # one section needs no tab bar: its title, then blocks
        (tab,) = view.tabs
        title = w.HTML(
            f'<div style="border-bottom:2px solid {ACCENT};color:{ACCENT};'
            f'font-weight:bold;margin:4px 0">{esc(tab.title)}</div>'
        )
        box = w.VBox([header, title, *(block_widget(b) for b in tab.blocks)])
        box.add_class("mlops-nb-widget")
        return box
    pages = [w.VBox([block_widget(b) for b in tab.blocks]) for tab in view.tabs]
    tabs = w.Tab(children=pages)
    for i, tab in enumerate(view.tabs):
        tabs.set_title(i, tab.title)
    box = w.VBox([header, tabs])
    box.add_class("mlops-nb-widget")
    return box
