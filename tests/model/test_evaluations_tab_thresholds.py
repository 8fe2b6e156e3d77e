"""Issue 15 item 2: the Model view's Evaluations tab says at which threshold each stored
evaluation decided, and which of them decided at the threshold in force now.

Sequences of ``set_threshold`` calls, each followed by an evaluation, are generated
(including a return to an earlier value); every row must name its own threshold and
only the rows at today's threshold may read "current".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb.ui._blocks import Table, Text


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {"x": x, "z": rng.normal(size=n), "y": (x + rng.normal(size=n) > 0).astype(int)}
    )


def _sequences() -> list[list[float]]:
    rng = np.random.default_rng(15)
    out = [[0.13, 0.8, 0.13]]  # back to an earlier value: its rows are current again
    for n in (1, 2, 3):
        out.append([round(float(t), 4) for t in rng.uniform(0.05, 0.95, size=n)])
    return out


def _evaluations_tab(model):
    tab = next(t for t in model._view().tabs if t.title == "Evaluations")
    table = next(b for b in tab.blocks if isinstance(b, Table))
    notes = [b.text for b in tab.blocks if isinstance(b, Text)]
    return table.frame, notes


@pytest.mark.parametrize("thresholds", _sequences())
def test_each_evaluation_names_its_threshold_and_the_current_one(tmp_path, thresholds):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        asset = proj.data("d", _frame(), target="y")
        train, test = asset.split(test=0.3, seed=0, stratify="y")
        model = proj.train("m", train, estimator="logistic")
        model.evaluate(test)  # at the default threshold (no canvas)
        for t in thresholds:
            model.set_threshold(t, reason="generated")
            model.evaluate(test)
    frame, notes = _evaluations_tab(model)
    cells = frame["decisions"].tolist()
    distinct = list(dict.fromkeys(thresholds))  # one stored evaluation per threshold
    assert len(cells) == len(distinct) + 1
    assert cells[0] == "decided at 0.5 (default), earlier"
    last = thresholds[-1]
    for t, cell in zip(distinct, cells[1:], strict=True):
        mark = "current" if t == last else "earlier"
        assert cell == f"decided at {t:.4g} (set), {mark}"
    earlier = sum(c.endswith("earlier") for c in cells)
    assert earlier == len(distinct)
    assert notes == [
        f"{earlier} of {len(cells)} evaluations decided at an earlier threshold; "
        f"evaluate again to see the decisions of P(1) >= {last:.4g} "
        "(the model's threshold, set by tester)."
    ]
    # the static view shows the same words
    html = model._repr_mimebundle_()["text/html"]
    assert f"decided at {last:.4g} (set), current" in html


def test_all_current_says_nothing_more(tmp_path):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        asset = proj.data("d", _frame(seed=3), target="y")
        train, test = asset.split(test=0.3, seed=0, stratify="y")
        model = proj.train("m", train, estimator="logistic")
        model.set_threshold(0.42, reason="chosen")
        model.evaluate(test)
        model.evaluate(train)
    frame, notes = _evaluations_tab(model)
    assert frame["decisions"].tolist() == ["decided at 0.42 (set), current"] * 2
    assert notes == []
