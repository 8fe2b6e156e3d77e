"""Explanations of data as users bring it: missing values, and which class (issue 13).

Item 5: every estimator is explained through its own preprocessing, so missing numbers
(and missing categories) never reach interpret raw. Item 6: a multiclass explanation
explains the canvas's class, else the most frequent class, says which, and switches.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb import errors

FAST = {
    "lightgbm": {"n_estimators": 20},
    "logistic": {},
    "random_forest": {"n_estimators": 20, "n_jobs": 1},
    "hist_gradient_boosting": {"max_iter": 20},
    "ebm": {"n_jobs": 1, "outer_bags": 1},
}


def frame_with_gaps(seed: int, task: str, n: int = 400) -> pd.DataFrame:
    """Numeric and categorical inputs with a seeded share of missing values each.

    Each column gets its own missing rate (0-60 %), drawn from the seed, so the class
    of frames covers light and heavy gaps, gaps in the strongest input and in
    categories.
    """
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=n), rng.normal(5, 2, size=n), rng.exponential(size=n)
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    signal = x1 + 0.4 * (x2 - 5) + 0.8 * (color == "red")
    if task == "regression":
        y: np.ndarray = signal + rng.normal(scale=0.3, size=n)
    else:
        y = (signal + rng.normal(scale=0.5, size=n) > 0).astype(int)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "color": color, "y": y})
    for col, rate in zip(
        ["x1", "x2", "x3", "color"], rng.uniform(0.05, 0.6, size=4), strict=True
    ):
        frame.loc[rng.random(n) < rate, col] = None
    frame.loc[0, ["x1", "x2"]] = np.nan  # row 0 always misses its strongest inputs
    return frame


CASES = [
    *[(est, "binary", seed) for seed, est in enumerate(FAST)],
    ("lightgbm", "regression", 11),
    ("hist_gradient_boosting", "regression", 12),
    ("ebm", "regression", 13),
]


@pytest.mark.parametrize(("estimator", "task", "seed"), CASES)
def test_every_estimator_explains_rows_with_missing_values(
    project, estimator, task, seed
):
    frame = frame_with_gaps(seed, task)
    assert frame[["x1", "x2", "x3"]].isna().any().all()
    data = project.data("gaps", frame, target="y")
    model = project.train("m", data, estimator=estimator, params=FAST[estimator])

    exp = model.explain(data, sample_rows=150, top=2)
    imp = exp.to_frame()
    assert set(model.features) <= set(imp["feature"])
    assert np.isfinite(imp["importance"].to_numpy(dtype=float)).all()
    missing = exp.payload["missing"]
    assert set(missing) <= {"x1", "x2", "x3"}
    assert missing
    assert all(math.isfinite(m["filled_with"]) for m in missing.values())
    assert "filled with" in exp.to_html()

    rows = frame.iloc[[0, 1, 2, 3]]
    local = model.explain(rows)
    first = local.payload["rows"][0]
    assert set(first["imputed"]) >= {"x1", "x2"}
    for r in local.payload["rows"]:
        values = np.array(list(r["contributions"].values()), dtype=float)
        assert np.isfinite(values).all()
        assert math.isfinite(r["base"])
    truth = (
        model.predict(rows.iloc[[0]])[0]
        if task == "regression"
        else model.predict_proba(rows.iloc[[0]])[0, 1]
    )
    assert first["prediction"] == pytest.approx(truth)  # the row as the model sees it
    if not first["scale"].startswith("log-odds"):  # sampled Shapley values add up
        total = first["base"] + sum(first["contributions"].values())
        assert total == pytest.approx(first["prediction"], abs=1e-9)
    wi = local.what_if(0)  # the missing inputs start where the model fills them
    assert wi.prediction == pytest.approx(first["prediction"], abs=1e-9)
    assert math.isfinite(wi.controls["x1"].value)


def multiclass_frame(seed: int, labels: list) -> tuple[pd.DataFrame, object]:
    """Three classes whose sorted last one is the rarest; returns the commonest."""
    rng = np.random.default_rng(seed)
    n = 900
    shares = np.array([0.3, 0.6, 0.1])[[*rng.permutation(2).tolist(), 2]]
    y = rng.choice(len(labels), size=n, p=shares)
    centers = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.5]])
    X = centers[y] + rng.normal(scale=0.8, size=(n, 2))
    frame = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1]})
    frame["label"] = np.asarray(labels)[y]
    frame.loc[rng.random(n) < 0.1, "x1"] = np.nan
    return frame, labels[int(np.argmax(shares))]


@pytest.mark.parametrize(
    ("seed", "labels"),
    [(0, [3, 5, 9]), (1, ["bronze", "gold", "silver"]), (2, ["a b", "c-d", "z"])],
)
def test_multiclass_explains_the_commonest_class_says_so_and_switches(
    project, seed, labels
):
    frame, commonest = multiclass_frame(seed, sorted(labels))
    rarest = sorted(labels)[-1]
    assert commonest != rarest
    data = project.data("multi", frame, target="label")
    model = project.train("m", data, estimator="lightgbm", params={"n_estimators": 20})

    exp = model.explain(data, sample_rows=120, top=1)
    assert exp.payload["class"] == str(commonest)
    assert "most frequent" in exp.payload["why"]
    assert f"={commonest})" in exp.payload["target"]
    text, html = repr(exp), exp.to_html()
    assert f"class {commonest}" in text
    assert "most frequent" in text
    assert "most frequent" in html
    box = exp.widget()
    assert list(box.class_picker.options) == [str(c) for c in sorted(labels)]
    box.class_picker.value = str(rarest)  # the drop-down switches the view
    assert box.explanation.payload["class"] == str(rarest)
    assert f"={rarest})" in box.explanation.payload["target"]

    local = model.explain(frame.iloc[[0, 1]])
    assert local.payload["class"] == str(commonest)
    k = [str(c) for c in model.classes].index(str(commonest))
    assert local.payload["rows"][0]["prediction"] == pytest.approx(
        model.predict_proba(frame.iloc[[0]])[0, k]
    )
    assert f"class {commonest}" in repr(local)
    lbox = local.widget()
    lbox.class_picker.value = str(rarest)
    assert lbox.explanation.payload["class"] == str(rarest)
    assert lbox.what_if.controls.keys() == {"x1", "x2"}

    chosen = model.explain(data, sample_rows=120, top=1, class_=rarest)
    assert chosen.payload["class"] == str(rarest)
    assert "chosen" in chosen.payload["why"]
    with pytest.raises(errors.ValidationError, match="differ"):
        model.explain(data, class_=rarest, target_class=commonest)

    with mnb.config_context(user="tester"):
        project.canvas(
            process="triage",
            value_level="optimize",
            outcomes={"tp": 1, "fp": -1, "fn": -1, "tn": 0},
            positive_class=rarest,
        )
    canvas_exp = model.explain(data, sample_rows=120, top=1)
    assert canvas_exp.payload["class"] == str(rarest)
    assert "canvas" in canvas_exp.payload["why"]
