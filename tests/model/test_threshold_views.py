"""Issue 15 item 2: the evaluation's slider reaches the exact best threshold, shows
there what the static "decisions at the best threshold" table shows, and the value
curve marks the best and the model's threshold in both views.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from mlops_nb.ui._blocks import Table
from mlops_nb.ui._html import table_html

CANVASES = [
    {"tp": 50, "fp": -10, "fn": -20, "tn": 0},
    {"tp": 10, "fp": -40, "fn": 0, "tn": 5},
    {"tp": 7, "fp": -3, "fn": -11, "tn": 1},
]


def _frame(n: int = 700, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n),
            "y": (x + rng.normal(scale=1.2, size=n) > 0.2).astype(int),
        }
    )


def _static_html(ev) -> str:
    return ev._repr_mimebundle_()["text/html"]


def _texts(widget) -> str:
    """Every HTML string and plotly figure inside a widget tree, joined."""
    out = []
    stack = [widget]
    while stack:
        w = stack.pop()
        if isinstance(getattr(w, "value", None), str):
            out.append(w.value)
        for o in getattr(w, "outputs", ()) or ():
            out.append(json.dumps(o.get("data", {}), default=str))
        stack.extend(getattr(w, "children", ()) or ())
    return "\n".join(out)


@pytest.mark.parametrize(("outcomes", "seed"), [(c, i) for i, c in enumerate(CANVASES)])
def test_the_slider_at_the_best_threshold_shows_the_static_table(
    project, outcomes, seed
):
    project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes=outcomes,
        positive_class=1,
    )
    asset = project.data("d", _frame(seed=seed), target="y")
    train, test = asset.split(test=0.5, seed=seed, stratify="y")
    model = project.train("m", train, estimator="logistic")
    ev = model.evaluate(test)
    v = ev.value
    best = v["best_threshold"]
    assert round(best, 2) != best  # the best is off the 0.01 grid

    # exact: the counts at the slider's best stop are the canvas's own optimum
    at = ev.value_at(best)
    assert at["threshold"] == best
    assert {k: at[k] for k in ("tp", "fp", "fn", "tn")} == v["best_confusion"]
    assert at["per_1000"] == pytest.approx(v["best_per_1000"], abs=1e-9)

    box = ev.widget()
    assert box.threshold_slider.value == best  # starts exactly at the best
    shown = box.value_html.value
    money = re.search(r"<b>([-\d,.]+) EUR per 1,000 cases at threshold ([\d.]+)", shown)
    assert money.group(2) == f"{best:.4f}"
    static = _static_html(ev)
    # the same value, and the very same decisions table, in the static view
    assert f"{money.group(1)} EUR per 1,000 cases at threshold {best:.4f}" in static
    best_table = table_html(Table(ev._confusion_table(at)))
    assert best_table in shown
    assert best_table in static
    for outcome in ("tp", "fp", "fn", "tn"):
        assert f"{at[outcome]:,} (" in shown

    # moving the slider off and back returns the same numbers
    box.threshold_slider.value = 0.5
    assert box.value_html.value != shown
    box.threshold_slider.value = best
    assert box.value_html.value == shown


def test_the_value_curve_marks_the_best_and_the_models_threshold(project):
    project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes=CANVASES[0],
        positive_class=1,
    )
    asset = project.data("d", _frame(), target="y")
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = project.train("m", train, estimator="logistic")
    model.set_threshold(0.6, reason="a stricter committee")
    ev = model.evaluate(test)
    best = ev.best_threshold
    fig = ev.plot("value")
    lines = sorted(s.x0 for s in fig.layout.shapes if s.type == "line")
    assert lines == sorted([best, 0.6])
    notes = {a.text for a in fig.layout.annotations}
    assert f"best {best:.4f}" in notes
    assert "model (set) 0.6000" in notes
    # both views carry the marked figure, and name the model's threshold
    for text in (_static_html(ev), _texts(ev.widget())):
        assert f"best {best:.4f}" in text
        assert "model (set) 0.6000" in text
        assert "P(1) &gt;= 0.6" in text or "P(1) >= 0.6" in text
    # the slider has a stop at the model's threshold, named
    labels = [label for label, _ in ev._slider_options()]
    assert f"{best:.4f} (best)" in labels
    assert "0.6000 (model)" in labels


def test_the_confusion_matrix_has_one_layout_in_every_tab(project):
    """Rows 'actual <class>', columns 'decided <class>', money per cell."""
    project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes=CANVASES[0],
        positive_class=1,
    )
    asset = project.data("d", _frame(), target="y")
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = project.train("m", train, estimator="logistic")
    ev = model.evaluate(test)
    tables = [
        ev._confusion_table(),
        ev._confusion_table(ev.value_at(ev.best_threshold)),
        ev._confusion_table(ev.value_at(0.5)),
    ]
    for frame in tables:
        assert list(frame.columns) == ["", "decided 1", "decided 0"]
        assert list(frame[""]) == ["actual 1", "actual 0"]
        assert all("EUR)" in str(c) for c in frame.iloc[:, 1:].to_numpy().ravel())
    # the Confusion tab is the model's decisions: equal to the grid at its threshold
    assert tables[0].equals(ev._confusion_table(ev.value_at(model.threshold)))
    assert "decisions at P(1) &gt;= " in _static_html(ev)
