"""Training: estimators, tasks, lineage, recipe, round trips, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _helpers import open_code, tree_snapshot
from mlops_nb import errors


@pytest.mark.parametrize(
    "estimator",
    ["lightgbm", "logistic", "hist_gradient_boosting", "random_forest", "ebm"],
)
def test_each_named_estimator_trains_and_predicts(project, split, estimator):
    train, test = split
    m = project.train("clf", train, estimator=estimator)
    assert (m.version, m.stage, m.task, m.recipe["estimator"]) == (
        1,
        "candidate",
        "binary",
        estimator,
    )
    proba = m.predict_proba(test)
    assert proba.shape == (test.n_rows, 2)
    assert np.allclose(proba.sum(axis=1), 1)
    assert (
        m.metrics["validation"]["metrics"]["roc_auc"] > 0.75
    )  # y depends on x1: learnable
    assert set(m.predict(test)) <= {0, 1}


def test_recipe_lineage_environment_and_sensitive_left_out(project, lgbm, split):
    r = lgbm.recipe
    assert r["features"] == {
        "numeric": ["x1", "x2"],
        "categorical": ["color"],
    }  # group is sensitive
    assert r["target"] == "y"
    assert r["classes"] == [0, 1]
    assert r["seed"] == 0
    assert r["params"]["n_estimators"] == 30
    assert r["user_params"] == {"n_estimators": 30}
    assert lgbm.lineage["data"] == [
        {"name": "tiny-train", "version": 1, "content_hash": split[0].content_hash}
    ]
    assert lgbm.environment["packages"]["lightgbm"]
    assert lgbm.environment["python"]
    assert lgbm.metrics["validation"]["rows_fitted"] == round(split[0].n_rows * 0.8)
    assert lgbm.flavor == "lightgbm"
    assert set(lgbm.artifacts) == {"prep", "booster", "tree_prep", "trees"}
    log = project.audit_log()
    assert log.iloc[0]["action"] == "train"
    assert log.iloc[0]["object"] == "model:clf@1"
    with_sens = project.train("clf", split[0], estimator="logistic", use_sensitive=True)
    assert "group" in with_sens.recipe["features"]["categorical"]
    assert with_sens.version == 2


def test_multiclass_and_regression_targets(project, tiny_frame):
    f = tiny_frame.assign(tier=pd.cut(tiny_frame["x1"], [-9, -0.5, 0.5, 9],
                                      labels=["lo", "mid", "hi"]).astype(str),
                          amount=tiny_frame["x1"] * 3 + tiny_frame["x2"])  # fmt: skip
    multi = project.data("multi", f.drop(columns=["y", "amount"]), target="tier")
    m = project.train("tier", multi, estimator="lightgbm", params={"n_estimators": 20})
    assert m.task == "multiclass"
    assert m.classes == ["hi", "lo", "mid"]
    assert m.predict_proba(multi).shape == (400, 3)
    assert set(m.predict(multi)) <= {"hi", "lo", "mid"}
    reg = project.data("reg", f.drop(columns=["y", "tier"]), target="amount")
    r = project.train("amount", reg, estimator="linear")
    assert r.task == "regression"
    assert r.metrics["validation"]["metrics"]["r2"] > 0.95
    assert np.corrcoef(r.predict(reg), f["amount"])[0, 1] > 0.97
    with pytest.raises(errors.ValidationError, match="regression model; use predict"):
        r.predict_proba(reg)
    cv = project.train(
        "amount", reg, estimator="lightgbm", cv=3, params={"n_estimators": 20}
    )
    assert cv.metrics["validation"]["scheme"] == "3-fold cross-validation"
    assert "rmse" in cv.metrics["validation"]["std"]


def test_scikit_learn_objects_are_accepted(project, split):
    from sklearn.ensemble import ExtraTreesClassifier

    m = project.train(
        "clf", split[0], estimator=ExtraTreesClassifier(n_estimators=20, random_state=0)
    )
    assert m.recipe["estimator"] == "ExtraTreesClassifier"
    assert m.predict_proba(split[1]).shape[1] == 2


from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402


class HomeMade(ClassifierMixin, BaseEstimator):
    """An estimator type that skops would have to trust to load."""

    def __init__(self, k=1):
        self.k = k

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.5, 0.5], (len(X), 1))


@pytest.mark.embedded_only  # compares snapshots of the folder
def test_training_errors_store_nothing(project, split, tiny_frame):
    before = tree_snapshot(project.path)
    with pytest.raises(errors.UnsupportedFormatError, match="Did you mean 'lightgbm'"):
        project.train("clf", split[0], estimator="lightgmb")
    with pytest.raises(
        errors.UnsupportedFormatError,
        match="does not fit a binary target; use 'logistic'",
    ):
        project.train("clf", split[0], estimator="linear")
    with pytest.raises(
        errors.UnsupportedFormatError, match="cannot save this model safely"
    ):
        project.train("clf", split[0], estimator=HomeMade())
    with pytest.raises(errors.ValidationError, match="must be a DataAsset"):
        project.train("clf", tiny_frame)
    with pytest.raises(errors.RegistryNameError):
        project.train("../clf", split[0])
    with pytest.raises(errors.ValidationError, match="cv=1"):
        project.train("clf", split[0], cv=1)
    after = tree_snapshot(project.path)
    # the refused HomeMade model may leave a blob no row refers to; rows and old blobs
    # are untouched
    assert after["registry.sqlite"] == before["registry.sqlite"]
    no_target = project.data("nt", tiny_frame.drop(columns=["y"]))
    with pytest.raises(errors.SchemaError, match="has no target column"):
        project.train("clf", no_target)


def test_predict_names_missing_and_bad_columns(lgbm, split):
    frame = split[1].frame
    with pytest.raises(errors.SchemaError, match=r"missing input column.*'x2'"):
        lgbm.predict(frame.drop(columns=["x2"]))
    with pytest.raises(errors.SchemaError, match="column 'x1' is not numeric"):
        lgbm.predict(frame.assign(x1="abc"))
    extra = lgbm.predict_proba(
        frame.assign(unused=1, color="never-seen")
    )  # unknown category is fine
    assert extra.shape == (len(frame), 2)


def test_round_trip_in_a_new_process_gives_identical_predictions(
    project, lgbm, split, tmp_path
):
    rows = split[1].frame
    expected = lgbm.predict_proba(rows)
    rows.to_parquet(tmp_path / "rows.parquet")
    code = (
        "import sys, json, pandas as pd, mlops_nb as mnb\n"
        f"p = {open_code(project)}\n"
        "m = p.model('clf', stage='candidate')\n"
        f"rows = pd.read_parquet({str(tmp_path / 'rows.parquet')!r})\n"
        # a few rows first (numpy tree table, nothing parsed), then all (LightGBM)
        "print(json.dumps([m.predict_proba(rows.head(5)).tolist(), "
        "m.predict_proba(rows).tolist()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    few, every = (np.array(x) for x in json.loads(out.stdout))
    assert len(rows) > 64  # the whole batch goes to LightGBM itself
    assert np.array_equal(every, expected)  # bit-identical, not just close
    assert np.array_equal(few, expected[:5])


def test_project_view_lists_models(project, lgbm):
    with mnb.config_context(display="html"):
        html = project._repr_mimebundle_()["text/html"]
    assert "Models" in html
    assert "lightgbm" in html
    assert "1 model (1 version)" in str(project)


def test_model_views(project, lgbm):
    with mnb.config_context(display="html"):
        html = lgbm._repr_mimebundle_()["text/html"]
    for text in (
        "clf v1",
        "candidate",
        "lightgbm",
        "tiny-train v1",
        "roc_auc",
        "Environment",
    ):
        assert text in html
    assert "models" not in str(project.models().columns)
    assert project.models()[["name", "version", "stage"]].values.tolist() == [
        ["clf", 1, "candidate"]
    ]
    with pytest.raises(errors.NotFoundError, match="Did you mean 'clf'"):
        project.model("cfl")
    with pytest.raises(errors.NotFoundError, match="no version matching"):
        project.model("clf", stage="production")
