"""Issue 15 item 2: measured variants decide at the model version's threshold.

``model.optimize(data)`` prices and scores every variant. A binary model decides its
positive class when P(positive) >= ``model.threshold``, so a variant's accuracy and
money value must be those of decisions at that threshold, not of the most likely class.
The threshold is planted in a wide gap between scores, away from 0.5, so that the two
rules disagree on some rows and float32 rounding in ONNX cannot flip a row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb

OUTCOMES = {"tp": 40, "fp": -15, "fn": -25, "tn": 2}


def _frame(seed: int, n: int = 360) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n),
            "color": rng.choice(["red", "blue", "green"], size=n).astype(object),
            "y": (x + rng.normal(scale=1.2, size=n) > 0.2 * seed).astype(int),
        }
    )


def _planted(scores: np.ndarray, low: bool) -> float:
    """A threshold in the widest gap between scores on one side of 0.5."""
    s = np.unique(scores)
    s = s[(s > 0.05) & (s < 0.45)] if low else s[(s > 0.55) & (s < 0.95)]
    gaps = np.diff(s)
    i = int(np.argmax(gaps))
    assert gaps[i] > 1e-4
    return float((s[i] + s[i + 1]) / 2)


@pytest.fixture(scope="module", params=[0, 1])
def trained(request, tmp_path_factory):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("vthr") / "p")
        proj.canvas(
            process="Call back a customer",
            value_level="optimize",
            outcomes=OUTCOMES,
            positive_class=1,
        )
        asset = proj.data("d", _frame(request.param), target="y")
        train, test = asset.split(test=0.35, seed=request.param, stratify="y")
        model = proj.train("m", train, estimator="logistic")
    return proj, model, test


@pytest.mark.parametrize("low", [True, False])
def test_variant_accuracy_and_value_are_at_the_models_threshold(trained, low):
    proj, model, test = trained
    X = test.frame.drop(columns="y")
    y = test.frame["y"].to_numpy()
    p = model.predict_proba(X)[:, 1]
    t = _planted(p, low)
    with mnb.config_context(user="tester"):
        model.set_threshold(t, reason="planted between two scores")
        variants = model.optimize(
            test, kinds=("graph",), energy=False, memory=False, latency_seconds=0.02
        )
    decided = (p >= t).astype(int)
    argmax = (p >= 0.5).astype(int)
    assert (decided != argmax).any()  # the planted threshold changes decisions
    accuracy = float((decided == y).mean())
    assert accuracy != float((argmax == y).mean())
    act, pos = decided == 1, y == 1
    value = proj.canvas().value_per_1000(
        tp=int((act & pos).sum()),
        fp=int((act & ~pos).sum()),
        fn=int((~act & pos).sum()),
        tn=int((~act & ~pos).sum()),
    )
    measured = [r for r in variants.rows if r["status"] == "measured"]
    assert len(measured) >= 2  # the ONNX reference, graph levels, the native model
    assert {r["kind"] for r in measured} >= {"reference", "native"}
    for r in measured:
        assert r["accuracy"] == pytest.approx(accuracy, abs=1e-12), r["name"]
        assert r["value_per_1000"] == pytest.approx(value, abs=1e-9), r["name"]
    # the table says at which threshold it decided
    assert variants.payload["threshold"] == t
    assert f"{t:.4g}" in variants.payload["decision"]
    assert f"{t:.4g}" in variants.to_html()
