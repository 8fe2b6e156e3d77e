"""A promotion says which gates decided, on which data, with the metrics compared."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def challenger(project, split):
    return project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 12}
    )


@pytest.mark.parametrize("min_metrics", [None, {"roc_auc": 0.5}, {"accuracy": 0.5}])
def test_promotion_over_a_champion_names_data_and_metrics(
    lgbm, challenger, split, min_metrics
):
    lgbm.promote("production")
    test = split[1]
    report = challenger.promote(
        "production", data=test, tolerance=1, min_metrics=min_metrics
    )
    key, ours = challenger.evaluate(test).primary()
    theirs = lgbm.evaluate(test).metrics[key]
    view = report._view()
    assert test.label in view.summary
    html = report._repr_html_()
    decided = report._decided()
    assert "not worse than champion" in decided
    assert f"on {test.label}" in decided
    assert f"{key} {ours:.4f} vs champion {lgbm.label} {theirs:.4f}" in decided
    assert decided in html or decided.replace(">", "&gt;") in html
    assert f"Compared on {test.label}" in html
    assert "did not decide this promotion" in html
    rows = {r["gate"]: r for r in report.compared}
    assert rows["not worse than champion"]["value"] == pytest.approx(theirs)
    assert rows["not worse than champion"]["this version"] == pytest.approx(ours)
    for metric, threshold in (min_metrics or {}).items():
        assert rows[f"minimum {metric}"]["data"] == test.label
        assert f"vs threshold {threshold}" in decided


def test_promotion_without_metric_gates_says_nothing_was_compared(lgbm):
    report = lgbm.promote("staging")
    assert report.compared == ()
    assert "Compared on" not in report._repr_html_()
    names = ", ".join(g.gate for g in report.gates)
    expected = (
        f"decided by {names}; no metric was compared"
        if report.gates
        else "no gate applied"
    )
    assert report._decided() == expected


def test_comparison_headers_read_as_words(lgbm, challenger, split):
    comparison = lgbm.project.compare("clf", data=split[1])
    assert "validation roc_auc" in comparison.to_frame().columns  # keys stay
    text = re.sub(r"<[^>]+>", " ", comparison._repr_html_())
    assert "validation ROC AUC" in text
    assert "test ROC AUC" in text
    assert not re.search(
        r"\b(validation|test) (roc_auc|log_loss|balanced_accuracy)", text
    )


def test_comparison_chart_never_cuts_a_bar(lgbm, challenger, split):
    """Bars must start at zero; close metrics are drawn as dots on a zoomed axis."""
    from mlops_nb.ui import Figure

    view = lgbm.project.compare("clf", data=split[1])._view()
    figs = [b.figure for tab in view.tabs for b in tab.blocks if isinstance(b, Figure)]
    assert figs
    for fig in figs:
        lo = fig.layout.yaxis.range[0] if fig.layout.yaxis.range else 0
        for trace in fig.data:
            assert trace.type != "bar" or lo <= 0, "a bar cut off above zero"
