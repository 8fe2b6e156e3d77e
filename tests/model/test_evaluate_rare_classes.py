"""Evaluation when a class is absent from the labels, or unknown to the model.

Generated frames: 3-7 classes (string or integer labels), one of them rare; the
test split lacks it, or holds a class the model never learnt; binary test data of
one class. Evaluation never raises scikit-learn's errors and says what it left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import mlops_nb as mnb
from mlops_nb.model._metrics import classification_metrics, classification_notes


def frame(n_classes: int, n: int, seed: int, ints: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logits = 2 * x @ rng.normal(size=(3, n_classes)) + rng.gumbel(size=(n, n_classes))
    labels = (
        np.arange(n_classes) if ints else np.array([f"k{i}" for i in range(n_classes)])
    )
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(
        id=np.arange(n), y=labels[logits.argmax(axis=1)]
    )


CASES = [(k, seed, bool(seed % 2)) for seed, k in enumerate((3, 4, 5, 7))]


@pytest.mark.parametrize(("n_classes", "seed", "ints"), CASES)
def test_class_absent_from_test_or_unknown_to_the_model(
    tmp_path, n_classes, seed, ints
):
    f = frame(n_classes, 900, seed, ints)
    proj = mnb.Project.open(tmp_path / "p")
    model = proj.train(
        "m",
        proj.data("tr", f.iloc[:600], target="y", id="id"),
        params={"n_estimators": 5},
    )
    classes = list(model.classes)
    absent = classes[-1]
    test = f.iloc[600:]
    test = test[test["y"] != absent]
    ev = model.evaluate(proj.data("te", test, target="y", id="id"))
    [note] = ev.notes
    assert f"No label of class {absent!r}" in note
    assert "roc_auc" in ev.metrics
    assert "log_loss" in ev.metrics
    assert "note(s)" in repr(ev)
    # a class the model never learnt (rows of the absent class relabelled)
    odd = f.iloc[600:].copy()
    odd.loc[odd.index[:3], "y"] = 99 if ints else "never seen"
    ev2 = model.evaluate(proj.data("odd", odd, target="y", id="id"))
    assert any(
        "3 labelled row(s)" in n and repr("99" if ints else "never seen") in n
        for n in ev2.notes
    )
    assert np.isfinite(ev2.metrics["log_loss"])


@pytest.mark.parametrize("n_classes", [3, 6])
def test_all_classes_present_matches_scikit_learn(n_classes):
    f = frame(n_classes, 500, n_classes, False)
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(n_classes), len(f))
    classes = sorted(f["y"].unique())
    out = classification_metrics(f["y"], proba, classes)
    expected = roc_auc_score(f["y"], proba, multi_class="ovr", labels=classes)
    assert out["roc_auc"] == pytest.approx(expected, abs=1e-12)
    assert classification_notes(f["y"], classes) == []


@pytest.mark.parametrize("only", ["no", "yes"])
def test_binary_test_of_one_class(only):
    proba = np.random.default_rng(1).dirichlet([1, 1], 40)
    out = classification_metrics(pd.Series([only] * 40), proba, ["no", "yes"])
    assert "roc_auc" not in out
    assert "pr_auc" not in out
    [note] = classification_notes(pd.Series([only] * 40), ["no", "yes"])
    assert f"Every label is class {only!r}" in note
    assert "ROC AUC" in note
