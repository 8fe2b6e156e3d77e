"""Long documents get a side navigation (issue 15, item 8).

The model card's 14 sections were tabs whose names were cut ("Intend", "Trainin"
twice). The live view now lists every section name whole on the left, the static
HTML starts with a table of contents linking to each section.
"""

from __future__ import annotations

import html
import re

import ipywidgets as w
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from _team_fixtures import open_test_project
from mlops_nb.ui import Tab, Text, View
from mlops_nb.ui._html import view_html
from mlops_nb.ui._widget import view_widget


def _tree(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _tree(child)


def _check_navigation(view: View) -> None:
    titles = [t.title for t in view.tabs]
    box = view_widget(view)
    assert not any(isinstance(x, w.Tab) for x in _tree(box)), "no tab bar"
    nav = box.children[1]
    names = [b.description for b in nav.buttons]
    assert names == titles  # every name whole, once, in order
    # each button is wider than its name: nothing is cut with an ellipsis
    for button in nav.buttons:
        width = int(re.fullmatch(r"(\d+)ch", button.layout.width).group(1))
        assert width >= len(button.description) + 2
        assert button.layout.min_width == button.layout.width
    # choosing a section shows it, and only it
    for i, button in enumerate(nav.buttons):
        button.click()
        shown = nav.content.children[0]
        assert [b.button_style for b in nav.buttons].count("info") == 1
        assert nav.buttons[i].button_style == "info"
        assert shown.children[0].value.count(html.escape(f"marker {i}")) == 1
    # the static HTML: a table of contents, each entry a link to its section
    page = view_html(view, plotly_key=None)
    toc = page[page.index('class="mnb-toc"') : page.index("</ul>")]
    for i, title in enumerate(titles):
        link = re.search(rf'<a href="#(mnb-[0-9a-f]+-{i})"[^>]*>([^<]*)</a>', toc)
        assert link is not None
        assert html.unescape(link.group(2)) == title
        assert page.count(f'id="{link.group(1)}"') == 1


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
            min_size=1,
            max_size=60,
        ),
        min_size=2,
        max_size=16,
        unique=True,
    )
)
def test_any_section_names_show_whole_and_once(titles):
    tabs = [Tab(t, [Text(f"marker {i}")]) for i, t in enumerate(titles)]
    _check_navigation(View("Doc", "d", "s", [], tabs, navigation="side"))


@pytest.fixture(scope="module")
def card(request, tmp_path_factory, team_store):
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=300)
    frame = pd.DataFrame(
        {"x1": x1, "y": (x1 + rng.normal(scale=0.8, size=300) > 0).astype(int)}
    )
    with open_test_project(request, tmp_path_factory.mktemp("card")) as proj:
        with mnb.config_context(user="tester"):
            model = proj.train(
                "m", proj.data("d", frame, target="y"), estimator="logistic"
            )
            card = model.card()
        yield card


def test_model_card_has_a_side_navigation_with_whole_names(card):
    view = card._view()
    assert view.navigation == "side"
    titles = [t.title for t in view.tabs]
    assert len(titles) >= 14
    assert {"Intended use", "Training data", "Training procedure"} <= set(titles)
    box = card.widget()
    nav = box.children[1]
    assert [b.description for b in nav.buttons] == titles
    assert not any(isinstance(x, w.Tab) for x in _tree(box))
    nav.show("Training procedure")
    assert nav.buttons[titles.index("Training procedure")].button_style == "info"
    page = card._html()
    for title in titles:
        assert page.count(f">{html.escape(title)}</a>") == 1
