"""One display, one description: the view is built once and sent as one static copy.

In a live kernel an object goes out as its saved static view plus the live widget.
Before, each display built ``_view()`` four times (text, widget, saved view, and the
``_repr_html_`` IPython asks for next) and the widget's output carried a second full
``text/html`` that no front end showed. These tests run a real IPython kernel.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import mlops_nb as mnb
from mlops_nb.ui._display import WIDGET_MIME, Displayable, render_scope

# A Displayable whose views count how often they were built; the kernel prints the
# count after each display.
KERNEL_SETUP = """\
import mlops_nb as mnb
from mlops_nb.ui._blocks import KeyValues, Tab, Table, View
from mlops_nb.ui._display import Displayable
import pandas as pd

class Counted(Displayable):
    built = 0
    def __init__(self, n_tabs):
        self.n_tabs = n_tabs
    def _view(self):
        type(self).built += 1
        tabs = [Tab(f"tab {i}", [KeyValues([("value at risk", 1234.5 + i)]),
                                 Table(pd.DataFrame({"chunk": [i], "n": [5844]}))])
                for i in range(self.n_tabs)]
        return View("Counted", f"c{self.n_tabs}", "a counted view", tabs=tabs)
"""


def _run(kc: Any, code: str) -> list[dict[str, Any]]:
    """Execute ``code``; return its display/execute_result/stream/error messages."""
    msg_id = kc.execute(code)
    got = []
    while True:
        msg = kc.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] in ("display_data", "execute_result", "stream", "error"):
            got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "MLOPS_NB_DISPLAY": "widget", "MLOPS_NB_SAVED_VIEW": "1"}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        assert not [m for m in _run(kc, KERNEL_SETUP) if m["msg_type"] == "error"]
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("n_tabs", [0, 1, 3])
@pytest.mark.parametrize("saved_view", [True, False])
def test_a_live_display_builds_the_view_once_and_sends_one_static_copy(
    kernel, n_tabs, saved_view
):
    msgs = _run(
        kernel,
        f"mnb.set_config(saved_view={saved_view})\n"
        f"Counted.built = 0\nobj = Counted({n_tabs})\nobj",
    )
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert not errors, errors
    outputs = [m["content"]["data"] for m in msgs if "data" in m["content"]]
    widget_outputs = [d for d in outputs if WIDGET_MIME in d]
    assert len(widget_outputs) == 1
    static = [d["text/html"] for d in outputs if "text/html" in d]
    assert len(static) == 1, [sorted(d) for d in outputs]  # one static copy
    assert f"c{n_tabs}" in static[0]
    if saved_view:  # the static copy is the saved view, before the widget
        assert "mnb-saved-view" in static[0]
        assert outputs.index(widget_outputs[0]) == len(outputs) - 1
    count = _run(kernel, "print(Counted.built)")
    assert count[0]["content"]["text"].strip() == "1"


def test_a_changed_object_is_described_afresh_at_its_next_display(kernel):
    _run(kernel, "mnb.set_config(saved_view=True)\nobj = Counted(2)\nobj")
    msgs = _run(kernel, "obj.n_tabs = 4\nobj")
    html = next(
        m["content"]["data"]["text/html"] for m in msgs if "data" in m["content"]
    )
    assert "tab 3" in html
    assert "c4" in html
    # asked for directly afterwards, the static view is still there
    direct = _run(kernel, "print(len(obj._repr_html_() or ''))")
    assert int(direct[0]["content"]["text"]) > 1000


class _Counting(Displayable):
    def __init__(self, label: str) -> None:
        self.label, self.built = label, 0

    def _view(self) -> Any:
        from mlops_nb.ui._blocks import View

        self.built += 1
        return View("Counting", self.label, f"summary of {self.label}")


def test_render_scope_keeps_one_view_per_object_and_forgets_it_afterwards():
    a, b = _Counting("a"), _Counting("b")
    with render_scope():
        for _ in range(3):
            assert a._view().title == "a"
            assert b._view().title == "b"
        with render_scope():  # nested scopes share the outer one's views
            a._text()
            a._html()
    assert (a.built, b.built) == (1, 1)
    a.label = "a2"
    assert a._view().title == "a2"  # outside a scope: built every time
    assert a._view().title == "a2"
    assert a.built == 3


def test_html_and_text_outside_a_kernel_still_render_in_full(tiny_asset):
    with mnb.config_context(display="html"):
        bundle = tiny_asset._repr_mimebundle_()
    assert "400 rows" in bundle["text/html"]
    assert tiny_asset._repr_html_() == bundle["text/html"]
    assert json.dumps(bundle["text/plain"])
