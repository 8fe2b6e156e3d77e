"""After ``server.stop()`` the Server's views and its live widget say "stopped"."""

from __future__ import annotations

import pytest

import mlops_nb as mnb
from mlops_nb.deploy import serve


@pytest.fixture
def stopped_with_widgets(dep):
    with mnb.config_context(user="tester"):
        server = serve(dep.lgbm, port=0, record=False)
    boxes = [server.widget(), server.widget()]  # two displays of one server
    assert server.running
    for box in boxes:
        assert "running" in box.header_html.value
        assert not box.send_button.disabled
    boxes[0].send_button.click()
    assert "HTTP 200" in boxes[0].answer.value
    server.stop()  # from code, not the widget's Stop button
    return server, boxes


def test_live_widgets_follow_stop(stopped_with_widgets):
    _, boxes = stopped_with_widgets
    for box in boxes:
        assert "stopped" in box.header_html.value
        assert "running" not in box.header_html.value
        assert "stopped" in box.status_html.value
        assert box.send_button.disabled
        assert box.stop_button.disabled
        assert "server.stop()" in box.answer.value
        assert "HTTP 0" not in box.answer.value


def test_predict_after_stop_explains_instead_of_http_0(stopped_with_widgets):
    server, boxes = stopped_with_widgets
    box = boxes[0]
    box.send_button.disabled = False  # a front end that missed the update
    box.send_button.click()
    assert "HTTP 0" not in box.answer.value
    assert "Connection refused" not in box.answer.value
    assert "stopped" in box.answer.value
    assert "model.serve" in box.answer.value
    # a widget made after stop() starts stopped too
    late = server.widget()
    assert late.send_button.disabled
    assert "stopped" in late.header_html.value


def test_static_view_says_stopped_and_why(stopped_with_widgets):
    server, _ = stopped_with_widgets
    view = server._view()
    assert view.badges == [("stopped", "muted")]
    assert view.summary.endswith("stopped")
    html = server._repr_html_()
    assert "server.stop()" in html
    assert ">running<" not in html
