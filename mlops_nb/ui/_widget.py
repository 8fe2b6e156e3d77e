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
    """Build the whole view as a ``VBox`` holding a header and a ``Tab``.

    With one section there is no tab bar; with ``view.navigation == "side"`` the
    sections are reached from a list on the left (:func:`side_navigation`).
    """
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
    if view.navigation == "side":
        box = w.VBox([header, side_navigation(view, pages)])
        box.add_class("mlops-nb-widget")
        return box
    tabs = w.Tab(children=pages)
    for i, tab in enumerate(view.tabs):
        tabs.set_title(i, tab.title)
    box = w.VBox([header, tabs])
    box.add_class("mlops-nb-widget")
    return box


def side_navigation(view: View, pages: list[Any]) -> Any:
    """Return sections reached from a list of their whole names, on the left.

    A tab bar cuts long names ("Intend", "Trainin") once a document has many
    sections; here each name is a button as wide as the longest name, and the
    chosen section fills the rest of the width. The returned ``HBox`` has
    ``buttons`` (one per section, in order), ``content`` and ``show(title)``.
    """
    import ipywidgets as w

    titles = [tab.title for tab in view.tabs]
    # "ch" is the width of a digit, at least an average letter in the UI font
    width = f"{max(len(t) for t in titles) + 4}ch"
    buttons = [
        w.Button(
            description=t,
            tooltip=t,
            layout=w.Layout(width=width, min_width=width, margin="1px 0"),
        )
        for t in titles
    ]
    nav = w.VBox(buttons, layout=w.Layout(flex="0 0 auto", margin="0 12px 0 0"))
    nav.add_class("mnb-side-nav")
    content = w.Box(
        [pages[0]], layout=w.Layout(flex="1 1 auto", min_width="0", width="100%")
    )

    def show(title: str) -> None:
        i = titles.index(title)
        content.children = (pages[i],)
        for j, button in enumerate(buttons):
            button.button_style = "info" if j == i else ""

    for button in buttons:
        button.on_click(lambda b: show(b.description))
    box = w.HBox([nav, content], layout=w.Layout(align_items="flex-start"))
    box.buttons, box.content, box.show = buttons, content, show
    show(titles[0])
    return box
