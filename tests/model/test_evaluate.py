"""Evaluation: metrics equal scikit-learn's, money value from the canvas, the slider."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from _helpers import reopen
from mlops_nb import errors
from mlops_nb.model._evaluate import confusion_grid


def test_metrics_match_scikit_learn(lgbm, split):
    test = split[1]
    ev = lgbm.evaluate(test)
    y = test.frame["y"].to_numpy()
    p = lgbm.predict_proba(test)[:, 1]
    assert ev.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert ev.metrics["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert ev.metrics["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert ev.metrics["accuracy"] == pytest.approx(((p >= 0.5) == y).mean())
    cm = ev.payload["confusion"]["matrix"]
    assert cm == skm.confusion_matrix(y, (p >= 0.5).astype(int)).tolist()
    seg = {r["group"]: r for r in ev.payload["segments"]}
    assert set(seg) == {"A", "B"}
    assert sum(r["rows"] for r in seg.values()) == test.n_rows


def test_without_a_canvas_no_value_is_invented(lgbm, split):
    ev = lgbm.evaluate(split[1])
    assert ev.value is None
    assert "No value canvas in this project" in ev._html()
    with pytest.raises(errors.ValidationError, match="no value canvas"):
        ev.value_at(0.5)


def test_value_grid_matches_brute_force(project, canvas, lgbm, split):
    test = split[1]
    ev = lgbm.evaluate(test)
    y = test.frame["y"].to_numpy() == 1
    p = lgbm.predict_proba(test)[:, 1]
    for t in (0.0, 0.3, 0.5, 0.77, 1.0):
        at = ev.value_at(t)
        acted = p >= at["threshold"]
        tp, fp = int((acted & y).sum()), int((acted & ~y).sum())
        fn, tn = int((~acted & y).sum()), int((~acted & ~y).sum())
        assert (at["tp"], at["fp"], at["fn"], at["tn"]) == (tp, fp, fn, tn)
        assert at["per_1000"] == pytest.approx(
            1000 * (50 * tp - 10 * fp - 20 * fn) / len(y)
        )
    best = ev.value
    assert (
        best["best_value"]
        >= max(50 * a - 10 * b - 20 * c for a, b, c, _ in best["grid"]["counts"]) - 1e-9
    )
    assert best["canvas_version"] == canvas.version
    html = ev._html()
    assert "per 1,000" in html
    assert "EUR" in html


def test_threshold_slider_updates_value_and_confusion(project, canvas, lgbm, split):
    ev = lgbm.evaluate(split[1])
    box = ev.widget()
    box.threshold_slider.value = 0.9
    high = box.value_html.value
    box.threshold_slider.value = 0.1
    low = box.value_html.value
    assert high != low
    assert f"{ev.value_at(0.1)['per_1000']:,.2f}" in low
    assert f"{ev.value_at(0.9)['per_1000']:,.2f}" in high


def test_canvas_positive_class_chooses_the_scored_class(project, lgbm, split):
    project.canvas(process="Reach out", value_level="add_value", positive_class=0,
                   outcomes={"tp": 10, "fp": -1, "fn": -5, "tn": 0})  # fmt: skip
    ev = lgbm.evaluate(split[1])
    y0 = split[1].frame["y"].to_numpy() == 0
    at = ev.value_at(0.5)
    assert at["tp"] + at["fn"] == int(y0.sum())  # positives are the y == 0 rows


def test_confusion_grid_handles_ties():
    scores = np.array([0.2, 0.5, 0.5, 0.9])
    positive = np.array([False, True, False, True])
    grid = confusion_grid(positive, scores, np.array([0.0, 0.5, 0.51, 1.0]))
    assert grid.tolist() == [[2, 2, 0, 0], [2, 1, 0, 1], [1, 0, 1, 2], [0, 0, 2, 2]]


def test_evaluation_is_stored_and_errors(project, lgbm, split, tiny_frame):
    first = lgbm.evaluate(split[1])
    again = reopen(project).model("clf", version=1).evaluations()
    assert [e.metrics for e in again] == [first.metrics]
    unlabelled = project.data("nolabel", tiny_frame.drop(columns=["y"]))
    with pytest.raises(errors.SchemaError, match="evaluation needs labels"):
        lgbm.evaluate(unlabelled)
    with pytest.raises(errors.SchemaError, match="Did you mean 'color'"):
        lgbm.evaluate(split[1], segment="colour")
    assert lgbm.evaluate(split[1], segment="color").payload["segment"] == "color"
    for kind in ("roc", "pr", "calibration"):
        assert len(first.plot(kind).data) >= 1
    with pytest.raises(errors.ValidationError, match="no such chart"):
        first.plot("value")


def test_regression_evaluation(project, tiny_frame):
    reg = project.data(
        "reg",
        tiny_frame.assign(amount=tiny_frame["x1"] * 2 + 1).drop(columns=["y"]),
        target="amount",
    )
    m = project.train("amount", reg, estimator="linear")
    ev = m.evaluate(reg)
    assert ev.metrics["r2"] > 0.99
    assert ev.primary()[0] == "rmse"
    assert len(ev.plot("residuals").data[0].x) == 400
