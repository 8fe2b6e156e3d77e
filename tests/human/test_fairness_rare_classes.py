"""Fairness when a compared group's labels hold one class only.

A group without positive labels has no TPR (and without negatives no FPR); the
review must say so and what equalized odds then compares, instead of dropping the
rate in silence. Generated: 2-4 groups, the first one or every group lacking a class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def frame(n_groups: int, seed: int, lacking: str, everyone: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 1200
    x = rng.normal(size=(n, 2))
    group = np.array([f"g{i}" for i in range(n_groups)])[rng.integers(0, n_groups, n)]
    y = (x[:, 0] + rng.normal(0, 0.7, n) > 0).astype(int)
    test = np.arange(n) >= 600
    hit = test & ((group == "g0") | everyone)
    y[hit] = 0 if lacking == "positive" else 1
    return pd.DataFrame(x, columns=["a", "b"]).assign(id=np.arange(n), group=group, y=y)


CASES = [
    (k, lacking, everyone)
    for k, lacking, everyone in (
        (2, "positive", False),
        (3, "negative", False),
        (4, "positive", True),
        (3, "negative", True),
    )
]


@pytest.mark.parametrize(("n_groups", "lacking", "everyone"), CASES)
def test_group_without_a_class_is_named(project, n_groups, lacking, everyone):
    f = frame(n_groups, n_groups, lacking, everyone)
    proj = project
    train = proj.data("tr", f.iloc[:600], target="y", id="id", sensitive="group")
    test = proj.data("te", f.iloc[600:], target="y", id="id", sensitive="group")
    model = proj.train("m", train, params={"n_estimators": 5})
    rep = model.fairness(test, n_boot=20)
    rate = "TPR" if lacking == "positive" else "FPR"
    [note] = [n for n in rep.notes if f"no {lacking} label" in n]
    assert note.startswith("group: ")
    assert "g0" in note
    assert rate in note
    if everyone:
        assert "no compared group" in note
    assert "note(s)" in repr(rep)
    assert "Note: group:" in rep._html()
