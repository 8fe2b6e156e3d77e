"""The canvas reads like every other object: a header line, a form that fits.

Issue 15, item 8: the canvas had no header line; the edit form cut "Save new versi…"
and its error message.
"""

from __future__ import annotations

import html
import tempfile

import ipywidgets as w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.business import ValueCanvas, save_canvas
from mlops_nb.business._canvas import VALUE_LEVELS
from mlops_nb.ui._html import header_html

processes = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())
money = st.integers(-500, 500)
canvases = st.builds(
    lambda process, level, tp, fp, fn, tn: ValueCanvas(
        process=process.strip(),
        value_level=level,
        outcomes={"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    ),
    processes,
    st.sampled_from(sorted(VALUE_LEVELS)),
    money,
    money,
    money,
    money,
)


@settings(max_examples=25, deadline=None)
@given(canvases)
def test_static_view_starts_with_the_header_line(canvas):
    view = canvas._view()
    page = canvas._html()
    head = header_html(view)
    assert head in page
    assert page.index(head) < page.index("Business process &amp; value level")
    # the same pieces other objects show: kind, title, level badge, summary
    for piece in ("ValueCanvas", view.title, canvas.value_level, view.summary):
        assert html.escape(str(piece)) in head


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(canvases)
def test_live_view_shows_the_header_once_and_keeps_it_current(canvas):
    with tempfile.TemporaryDirectory() as tmp, mnb.config_context(user="tester"):
        project = mnb.Project.open(f"{tmp}/proj")
        saved = save_canvas(project, **canvas.to_dict())
        box = saved.widget()
        header, tab = box.children
        assert header.value == header_html(saved._view())
        assert "ValueCanvas" not in tab.children[0].value  # not repeated in the tab
        editor = box.editor
        editor.fields["note"].value = "next"
        editor.fields["success"].value = "a different success criterion"
        editor.save_button.click()
        assert editor.status.value == "saved as version 2"
        assert header.value == header_html(project.canvas()._view())
        assert "v2" in header.value


def test_save_button_is_as_wide_as_its_words(project):
    editor = save_canvas(
        project, process="p", value_level="optimize",
        outcomes={"tp": 1, "fp": 0, "fn": 0, "tn": 0},
    ).editor()  # fmt: skip
    button = editor.save_button
    assert button.description == "Save new version"
    # ipywidgets' default width (148px) cuts the label; auto sizes to the words
    assert button.layout.width == "auto"
    assert button.layout.min_width == "max-content"
    assert button.layout.flex == "0 0 auto"


BAD = {
    "process": ("   ", "process: is empty"),
    "currency": ("", "currency: must be a short currency name"),
    "success": ("x" * 5000, "success: is longer than"),
}


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sets(st.sampled_from(sorted(BAD)), min_size=1))
def test_the_whole_error_message_is_shown_and_wraps(project, bad):
    editor = save_canvas(
        project, process="p", value_level="optimize",
        outcomes={"tp": 1, "fp": 0, "fn": 0, "tn": 0},
    ).editor()  # fmt: skip
    for name in bad:
        editor.fields[name].value = BAD[name][0]
    editor.save_button.click()
    status = editor.status
    # an HTML widget wraps its text; a Label is one line cut with an ellipsis
    assert isinstance(status, w.HTML)
    assert not isinstance(status, w.Label)
    assert status.layout.width == "auto"
    assert status.layout.flex == "1 1 auto"
    text = html.unescape(status.value)
    assert text.startswith(f"not saved: value canvas: {len(bad)} problem")
    for name in bad:
        assert BAD[name][1] in text
    assert project.canvas().version == 1  # nothing was saved
