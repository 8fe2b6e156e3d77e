"""Training on tables with rare classes: a one-row class is kept in the fitted part."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest


def _frame(n_classes: int, rare_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 240
    x = rng.normal(size=n)
    labels = [f"class {k}" for k in range(n_classes - 1)]
    y = np.array(labels, dtype=object)[
        np.digitize(x, np.quantile(x, np.linspace(0, 1, n_classes))[1:-1])
    ]
    y[rng.choice(n, size=rare_rows, replace=False)] = "rare one"
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "label": y})


@pytest.mark.parametrize("estimator", ["lightgbm", "logistic"])
@pytest.mark.parametrize(("n_classes", "seed"), [(3, 0), (5, 1), (7, 2)])
def test_a_single_row_class_trains_and_is_named(project, estimator, n_classes, seed):
    frame = _frame(n_classes, 1, seed)
    asset = project.data("d", frame, target="label")
    with pytest.warns(UserWarning, match="rare one"):
        model = project.train(
            "m",
            asset,
            estimator=estimator,
            params={"n_estimators": 5} if estimator == "lightgbm" else None,
        )
    assert "rare one" in [str(c) for c in model.classes]
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), n_classes)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize("seed", range(4))
def test_two_rows_of_a_class_split_quietly(project, seed):
    asset = project.data("d", _frame(4, 2, seed), target="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = project.train(
            "m", asset, estimator="lightgbm", params={"n_estimators": 5}
        )
    assert "rare one" in [str(c) for c in model.classes]


def test_regression_and_binary_do_not_warn(project):
    frame = _frame(3, 0, 0)
    frame["label"] = (frame["x"] > 0).astype(int)
    asset = project.data("d", frame, target="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = project.train("m", asset, estimator="logistic")
    assert [int(c) for c in model.classes] == [0, 1]


def test_labels_held_as_python_objects_train_and_evaluate(project):
    frame = _frame(3, 0, 3)
    labels = np.digitize(frame["x"], [-0.5, 0.5]).tolist()
    frame["label"] = pd.Series(labels, dtype=object)  # a frame built row by row
    asset = project.data("d", frame, target="label")
    model = project.train("m", asset, estimator="lightgbm", params={"n_estimators": 5})
    assert sorted(int(c) for c in model.classes) == [0, 1, 2]
    assert model.evaluate(asset).metrics["accuracy"] > 0.5
