"""Issue 15 item 2: the drift monitor decides at the model's threshold and says so.

Realized performance, CBPE's estimated confusion and the value of each chunk count
the decisions ``P(positive) >= the model's threshold``; moving the threshold (planted
between two scores, far from 0.5) moves those decisions exactly as the model's own
``predict`` moves, and the review names the threshold and where it came from.
"""

from __future__ import annotations

import numpy as np
import pytest
from _drift_helpers import scenario_frames

import mlops_nb as mnb


def _planted(scores: np.ndarray) -> float:
    s = np.unique(scores[(scores > 0.2) & (scores < 0.4)])
    i = int(np.argmax(np.diff(s)))
    return float((s[i] + s[i + 1]) / 2)


def _accuracy_by_chunk(decided, y, sizes):
    out, start = [], 0
    for n in sizes:
        out.append(float((decided[start : start + n] == y[start : start + n]).mean()))
        start += n
    return out


@pytest.mark.parametrize("canvas_positive", [1, 0])
def test_the_review_decides_at_the_models_threshold(
    drift_project, model, test_split, canvas_positive
):
    drift_project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=canvas_positive,
    )
    _, _, ana = scenario_frames()
    ana = ana.iloc[:6000]
    mon = model.monitor(reference=test_split, chunk=3000)
    mon.observe(ana.drop(columns="y"))
    mon.add_targets(ana[["id", "y"]])
    y = ana["y"].to_numpy()
    p = model.predict_proba(ana.drop(columns="y"))[:, 1]

    before = mon.review().payload
    assert before["decision"]["source"] == "default"

    t = _planted(p)
    model.set_threshold(t, reason="planted between two scores")
    review = mon.review()
    payload = review.payload
    decided = model.predict(ana.drop(columns="y"))
    assert decided.tolist() == (p >= t).astype(int).tolist()
    assert (decided != (p >= 0.5)).any()  # the planted rows flip

    # on the canvas's positive class: P(1) >= t, or P(0) >= 1 - t
    expected_t = t if canvas_positive == 1 else 1 - t
    assert payload["decision"]["threshold"] == pytest.approx(expected_t)
    assert payload["decision"]["source"] == "set"
    sizes = payload["chunks"]["sizes"]
    real = payload["performance"]["realized_all"]["accuracy"]
    assert real == pytest.approx(_accuracy_by_chunk(decided, y, sizes))
    assert real != pytest.approx(before["performance"]["realized_all"]["accuracy"])

    # CBPE estimates the confusion of these same decisions: its predicted
    # positives are the rows decided positive
    conf = payload["performance"]["confusion"]
    start = 0
    for c, n in enumerate(sizes):
        acted = int(decided[start : start + n].sum())
        assert conf["tp"][c] + conf["fp"][c] == pytest.approx(acted, abs=1)
        start += n

    # and every view says which threshold it used
    text = review._repr_mimebundle_()["text/html"]
    assert "the model&#x27;s threshold, set by tester" in text or (
        "the model's threshold, set by tester" in text
    )
    assert f"{expected_t:.4g}" in text
    assert "decides at" in mon._repr_mimebundle_()["text/html"]


def test_a_monitor_option_overrides_and_says_so(drift_project, model, test_split):
    _, _, ana = scenario_frames()
    mon = model.monitor(reference=test_split, chunk=3000, decision_threshold=0.3)
    mon.observe(ana.drop(columns="y").iloc[:3000])
    with mnb.config_context(user="tester"):
        model.set_threshold(0.7, reason="x")
    decision = mon.review().payload["decision"]
    assert decision["threshold"] == 0.3
    assert decision["source"] == "monitor option"
