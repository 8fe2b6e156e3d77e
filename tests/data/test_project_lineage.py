"""The project's lineage shows data, models, exports and monitors (issue 15, item 8).

It used to list data edges only and say "1 models".
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlops_nb as mnb
from mlops_nb.data._lineage import plural, project_lineage
from mlops_nb.ui import Flow


def _frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """2 data versions of one asset, a split, a model, its ONNX export, a monitor."""
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("lin") / "proj")
        proj.data("loans", _frame(0), target="y", id="id")
        v2 = proj.data("loans", _frame(1), target="y", id="id")
        train, test = v2.split(test=0.5, seed=0, stratify="y")
        model = proj.train("clf", train, params={"n_estimators": 10}, seed=0)
        model.export_onnx(check=test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a small reference: warned, not wrong
            model.monitor(reference=test)
        return proj, model, train, test


def _flow(proj) -> Flow:
    (tab,) = [t for t in proj._view().tabs if t.title == "Lineage"]
    (flow,) = [b for b in tab.blocks if isinstance(b, Flow)]
    return flow


def test_lineage_holds_data_models_exports_and_monitors(built):
    proj, _, train, test = built
    edges = set(_flow(proj).edges)
    assert {
        ("data loans v2", "split", f"data {train.label}"),
        ("data loans v2", "split", f"data {test.label}"),
        (f"data {train.label}", "trained", "model clf v1"),
        ("model clf v1", "exported to ONNX", "ONNX export clf v1"),
        ("model clf v1", "monitored", "monitor clf v1"),
        (f"data {test.label}", "reference", "monitor clf v1"),
    } <= edges
    # every kind of node shows, in the static view and in the live one
    html = proj._html()
    for node in ("model clf v1", "ONNX export clf v1", "monitor clf v1"):
        assert node in html
    live = proj.widget()
    assert "monitor clf v1" in _widget_text(live)


def _widget_text(widget) -> str:
    parts = [getattr(widget, "value", "") or ""]
    parts += [_widget_text(c) for c in getattr(widget, "children", ())]
    return " ".join(p for p in parts if isinstance(p, str))


def test_models_are_counted_in_words(built, tmp_path):
    import shutil

    proj, _, train, _ = built
    shutil.copytree(proj.path, tmp_path / "copy")
    copy = mnb.Project.open(tmp_path / "copy")
    assert "1 model (1 version)" in copy._view().summary
    with mnb.config_context(user="tester"):
        copy.train("clf", train, params={"n_estimators": 5}, seed=1)
        assert "1 model (2 versions)" in copy._view().summary
        copy.train("other", train, params={"n_estimators": 5}, seed=0)
    text = copy._text()
    assert "2 models (3 versions)" in text
    # no count in the view reads "1 models", "1 versions" or "1 assets"
    for html in (copy._html(), text):
        assert not re.search(r"\b1 (models|versions|assets)\b", html)


def test_an_empty_project_has_no_lineage_yet(tmp_path):
    proj = mnb.Project.open(tmp_path / "empty")
    assert project_lineage(proj) == []
    assert "0 assets, 0 versions" in proj._view().summary


@given(st.integers(0, 10**6))
def test_plural_agrees_with_the_count(n):
    text = plural(n, "model")
    assert text.endswith("model" if n == 1 else "models")
    assert int(text.split()[0].replace(",", "")) == n
