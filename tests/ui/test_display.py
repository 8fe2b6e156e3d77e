"""The rendering contract: one description, three renderings, in each display mode."""

from __future__ import annotations

import re

import pytest

import mlops_nb as mnb
from mlops_nb.ui import _display, _html
from mlops_nb.ui._display import WIDGET_MIME

EXTERNAL = re.compile(
    r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)


@pytest.fixture(autouse=True)
def _fresh_plotly_state(monkeypatch):
    monkeypatch.setattr(_html, "_plotly_sent", set())


def test_text_mode_has_only_plain_text(tiny_asset):
    with mnb.config_context(display="text"):
        bundle = tiny_asset._repr_mimebundle_()
        assert set(bundle) == {"text/plain"}
        assert tiny_asset._repr_html_() is None
    assert bundle["text/plain"].startswith("DataAsset tiny v1: 400 rows x 7 columns")
    assert repr(tiny_asset) == bundle["text/plain"]


def test_html_mode_outside_a_kernel(tiny_asset):
    with mnb.config_context(display="html"):
        bundle = tiny_asset._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "tiny v1" in bundle["text/html"]
    assert "400 rows" in bundle["text/html"]


def test_widget_mode_without_a_kernel_falls_back_to_html(tiny_asset):
    bundle = tiny_asset._repr_mimebundle_()
    assert WIDGET_MIME not in bundle
    assert "text/html" in bundle


def test_widget_mode_in_a_live_kernel_adds_the_widget_view(tiny_asset, monkeypatch):
    sent = []
    monkeypatch.setattr(_display, "in_live_kernel", lambda: True)
    monkeypatch.setattr(_display, "_publish_saved_view", sent.append)
    with mnb.config_context(saved_view=False):
        bundle = tiny_asset._repr_mimebundle_()
        without = tiny_asset._repr_mimebundle_(exclude={"text/html"})
    assert {"text/plain", "text/html", WIDGET_MIME} <= set(bundle)
    assert "model_id" in bundle[WIDGET_MIME]
    only = tiny_asset._repr_mimebundle_(include={"text/plain"})
    assert set(only) == {"text/plain"}
    assert "text/html" not in without
    assert WIDGET_MIME in without
    assert sent == []  # saved views off, or no widget asked for: one output


def test_live_widget_is_preceded_by_its_saved_static_view(tiny_asset, monkeypatch):
    # a reopened notebook has no widget model: the output before the widget holds
    # the static view, which JupyterLab then shows (CSS hides it while live)
    sent = []
    monkeypatch.setattr(_display, "in_live_kernel", lambda: True)
    monkeypatch.setattr(_display, "_publish_saved_view", sent.append)
    bundle = tiny_asset._repr_mimebundle_()
    assert set(bundle) == {"text/plain", WIDGET_MIME}
    assert len(sent) == 1
    assert "tiny v1" in sent[0]
    assert "400 rows" in sent[0]
    html = _display.SAVED_VIEW_CSS
    assert ":has(+ .jp-OutputArea-child .mlops-nb-widget){display:none}" in html
    assert ":not(:has(.mlops-nb-widget)){display:none}" in html
    # the live view itself carries the class the CSS looks for
    assert "mlops-nb-widget" in tiny_asset.widget()._dom_classes


def test_widget_structure(tiny_asset):
    import ipywidgets as w

    box = tiny_asset.widget()
    _header, tabs = box.children
    assert isinstance(tabs, w.Tab)
    assert [tabs.get_title(i) for i in range(len(tabs.children))] == [
        "Overview", "Data", "Schema", "Quality", "Lineage",
    ]  # fmt: skip
    prof = tiny_asset.profile().widget()
    outputs = [
        c
        for c in prof.children[1].children[1].children[0].children
        if isinstance(c, w.Output)
    ]
    assert outputs
    assert "application/vnd.plotly.v1+json" in outputs[0].outputs[0]["data"]


def test_plotly_js_is_embedded_once_per_kernel_and_never_from_a_cdn(tiny_asset):
    with mnb.config_context(display="html"):
        first = tiny_asset.profile()._repr_mimebundle_()["text/html"]
        second = tiny_asset.profile()._repr_mimebundle_()["text/html"]
    assert (
        len(first) > 3_000_000 > 100_000 > len(second)
    )  # plotly.js (~4.8 MB) only once
    assert "window.Plotly.newPlot" in second
    assert not EXTERNAL.search(first)
    standalone = tiny_asset.profile().to_html()
    assert standalone.startswith("<!DOCTYPE html>")
    assert len(standalone) > 3_000_000


def test_user_strings_are_escaped(project, tiny_frame):
    evil = tiny_frame.rename(columns={"x1": "<script>alert(1)</script>"})
    a = project.data("evil", evil, note="<img src=x onerror=alert(2)>")
    html = a._html()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


def test_static_html_holds_key_numbers_within_budget(tiny_asset):
    html = tiny_asset.check()._html()
    assert "0 errors" in html
    assert len(html) < 20_000
    asset_html = tiny_asset._html()
    assert "400" in asset_html
    assert "tiny v1" in asset_html
    assert len(asset_html) < 60_000


def test_rendering_never_raises(tiny_asset, monkeypatch, caplog):
    def boom():
        msg = "kaput"
        raise RuntimeError(msg)

    monkeypatch.setattr(tiny_asset.__class__, "_view", lambda self: boom())
    bundle = tiny_asset._repr_mimebundle_()
    assert "Could not render DataAsset" in bundle["text/html"]
    assert "kaput" in bundle["text/html"]
    assert "could not render" in bundle["text/plain"]
    assert "kaput" in caplog.text


def test_environment_variable_chooses_the_mode(monkeypatch):
    import subprocess
    import sys

    code = "import mlops_nb as m; print(m.get_config()['display'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "MLOPS_NB_DISPLAY": "html"},
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "html"
