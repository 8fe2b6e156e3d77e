"""A refused promotion reads as sentences and a small table (issue 15, item 8).

It used to print one long line ("2 gate(s) failed — ...; ...") and a table with a
raw ``passed`` flag column; the capstone printed the list of dicts.
"""

from __future__ import annotations

import re

import pytest

from mlops_nb import errors
from mlops_nb.model import register_gate, unregister_gate

COLUMNS = ["gate", "data", "this version", "compared with", "message", "how to proceed"]
#: combinations of refusing gates: (min_metrics, champion in production, custom gate)
CASES = {
    "threshold": ({"roc_auc": 0.999}, False, False),
    "champion": ({}, True, False),
    "threshold+champion": ({"roc_auc": 0.999, "accuracy": 0.999}, True, False),
    "unknown metric+custom": ({"nonsense": 1}, False, True),
    "custom only": ({}, False, True),
}


@pytest.fixture
def weak(project, split):
    f = split[0].frame.assign(x1=0.0)  # no signal left: worse than the champion
    return project.train("clf", project.data("tiny-train", f), estimator="logistic")


@pytest.mark.parametrize("case", list(CASES))
def test_refusal_is_sentences_and_a_readable_table(case, project, lgbm, weak, split):
    min_metrics, champion, custom = CASES[case]
    if champion:
        lgbm.promote("production")
    if custom:
        register_gate("four eyes", lambda m, s, c: (False, "no second reviewer yet"))
    try:
        with pytest.raises(errors.GateError) as info:
            weak.promote("production", data=split[1], min_metrics=min_metrics)
    finally:
        unregister_gate("four eyes")
    err = info.value
    text = str(err)
    table = err.failure_cases
    first = text.splitlines()[0]
    n = len(table)
    assert re.fullmatch(
        rf"model clf v{weak.version} cannot move to production: "
        rf"({n} of \d+ gates|its one gate) refused it( on tiny-test v1)?\. "
        r"Nothing changed\.",
        first,
    ), first
    # each refusing gate once, with its finding; then what to do
    for row in table.itertuples(index=False):
        assert text.count(f"  - {row.gate}: {row.message}") == 1
    assert "\nTo proceed:\n  - " in text
    # no raw structures, flags, codes or microsecond timestamps
    raw = r"\{|\[\{|'passed'|\bTrue\b|\bFalse\b|@\d|\d\d:\d\d:\d\d\.\d"
    assert not re.search(raw, text)
    assert list(table.columns) == COLUMNS
    assert all(isinstance(v, str) and v for v in table.to_numpy().ravel())
    if champion:
        row = table.set_index("gate").loc["not worse than champion"]
        theirs = lgbm.evaluate(split[1]).metrics["roc_auc"]
        ours = weak.evaluate(split[1]).metrics["roc_auc"]
        assert row["data"] == "tiny-test v1"
        assert row["this version"] == f"ROC AUC {ours:.4f}"
        assert row["compared with"] == f"champion clf v1: {theirs:.4f}"
    for metric, threshold in min_metrics.items():
        if metric != "nonsense":
            row = table.set_index("gate").loc[f"minimum {metric}"]
            assert row["compared with"] == f"threshold {threshold}"
            assert f"min_metrics[{metric!r}]" in row["how to proceed"]
    assert project.model("clf", version=weak.version).stage == "candidate"


def test_refusal_without_data_says_how_to_get_it(project, lgbm, weak):
    lgbm.promote("production")
    with pytest.raises(errors.GateError) as info:
        weak.promote("production")  # no evaluation, no data=
    (row,) = info.value.failure_cases.to_dict("records")
    assert row["gate"] == "evaluation data"
    assert row["data"] == "—"
    assert "pass data=" in row["how to proceed"]
    assert " on " not in str(info.value).splitlines()[0]
