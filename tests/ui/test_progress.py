"""Progress shows where a person watches and stays quiet in reports."""

from __future__ import annotations

import io

import mlops_nb as mnb
from mlops_nb.ui import _display, _progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_one_updating_line(monkeypatch):
    err = Tty()
    monkeypatch.setattr(_progress.sys, "stderr", err)
    with mnb.config_context(display="text"), _progress.progress(3, "training") as bar:
        for i in range(3):
            bar.step(f"fold {i + 1}")
    out = err.getvalue()
    assert "training: 3/3 fold 3" in out
    assert out.count("\r") == 3
    assert out.endswith("\n")


def test_reports_and_pipes_stay_quiet(monkeypatch):
    err = io.StringIO()  # not a terminal (papermill, CI logs)
    monkeypatch.setattr(_progress.sys, "stderr", err)
    with _progress.progress(2, "x") as bar:
        bar.step()
    with mnb.config_context(display="html"), _progress.progress(2, "x") as bar:
        bar.step()
    assert err.getvalue() == ""


def test_live_kernel_gets_a_bar_that_closes(monkeypatch):
    import ipywidgets as w

    shown, closed = [], []
    monkeypatch.setattr(w.IntProgress, "close", lambda self: closed.append(self))
    monkeypatch.setattr(_display, "in_live_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    with _progress.progress(2, "training m") as bar:
        bar.step("fitted")
        assert isinstance(shown[0], w.IntProgress)
        assert shown[0].value == 1
    assert closed == [shown[0]]
