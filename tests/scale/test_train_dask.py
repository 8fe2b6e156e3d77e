"""Issue 17 item 5 (training): ``proj.train(..., engine="dask")`` — experimental
LightGBM on a Dask cluster (``lightgbm.dask``), stored like a single-machine version.

The cluster tests (marked slow) use the session's LocalCluster: one training on a
20k-row large version in 4 partitions (shared by the module), one regression on a small
version through ``Project.train``. The refusals run before any worker is asked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import mlops_nb as mnb
from mlops_nb.errors import ValidationError
from mlops_nb.model._prep import Features, prepare_X
from mlops_nb.model._train_dask import train_dask

TREES = {"n_estimators": 20}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    color = rng.choice(["red", "blue", "green"], size=n).astype(object)
    z = rng.normal(size=n)
    z[rng.random(n) < 0.05] = np.nan  # medians fill these
    return pd.DataFrame(
        {
            "x": x,
            "z": z,
            "color": pd.Series(color, dtype=object),
            "y": (x + 0.5 * (color == "red") + rng.normal(size=n) > 0.3).astype(int),
        }
    )


def _large(proj, tmp_path, name: str = "big", rows: int = 20_000, parts: int = 4):
    folder = tmp_path / f"{name}-parts"
    folder.mkdir()
    frame = _frame(rows, 0)
    for i, part in enumerate(np.array_split(np.arange(rows), parts)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    return proj.data(name, str(folder / "*.parquet"), target="y"), frame


@pytest.fixture(scope="module")
def trained(dask_client, tmp_path_factory):
    """One training on the cluster: the stored version and the Dask estimator."""
    tmp = tmp_path_factory.mktemp("train-dask")
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp / "p")
        big, _ = _large(proj, tmp)
        fitted: list = []
        with pytest.warns(UserWarning, match="experimental"):
            model = train_dask(
                proj,
                "m",
                big,
                params=TREES,
                holdout=0.2,
                seed=0,
                use_sensitive=False,
                note="",
                parent=None,
                client=dask_client,
                fitted=fitted,
            )
        holdout = proj.data("holdout", _frame(2_000, 1), target="y")
    return proj, model, fitted[0], holdout


@pytest.mark.slow
def test_stores_a_text_booster_marked_experimental(trained):
    proj, model, (dask_model, _prep), _ = trained
    assert model.flavor == "lightgbm"
    assert set(model.artifacts) >= {"prep", "booster"}
    assert "pipeline" not in model.artifacts  # no whole-pipeline object
    text = proj._store.read_blob(model.artifacts["booster"]).decode("utf-8")
    assert text.startswith("tree\n")
    assert text.count("Tree=") == 20
    import lightgbm

    booster = lightgbm.Booster(model_str=text)  # the text loads, no pickle
    assert booster.num_trees() == 20
    assert booster.model_to_string() == dask_model.to_local().booster_.model_to_string()
    assert model.recipe["engine"] == "dask"
    assert model.recipe["experimental"] is True
    assert model.recipe["dask"]["partitions"] == 4
    assert model.recipe["classes"] == [0, 1]
    v = model.metrics["validation"]
    assert v["rows_fitted"] + v["holdout_rows"] == 20_000
    assert 0 < v["rows"] <= v["holdout_rows"]
    assert v["metrics"]["roc_auc"] > 0.75  # it learnt the planted signal
    assert type(dask_model).__name__ == "DaskLGBMClassifier"


@pytest.mark.slow
def test_stored_predictions_equal_the_dask_models_local_copy(trained):
    _, model, (dask_model, prep), _ = trained
    local = dask_model.to_local()
    for seed in (2, 3):  # fresh rows, including missing values and every category
        rows = _frame(3_000, seed).drop(columns="y")
        X = prep.transform(
            prepare_X(rows, Features(("x", "z"), ("color",)), what="test")
        )
        expected = local.predict_proba(X)
        got = model.predict_proba(rows)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        # ... and the Dask estimator itself agrees on the same rows
        import dask.dataframe as dd

        on_workers = dask_model.predict_proba(dd.from_pandas(X, npartitions=2))
        np.testing.assert_allclose(on_workers.compute(), expected, atol=1e-9)


@pytest.mark.slow
def test_evaluates_and_exports_onnx_with_parity(trained):
    _, model, _, holdout = trained
    ev = model.evaluate(holdout)
    assert "ROC AUC" in str(ev)
    export = model.export_onnx(check=holdout)
    assert export.parity["ok"] is True
    assert export.parity["max_abs_diff"] < 1e-5
    assert export.parity["label_agreement"] == 1.0


@pytest.mark.slow
def test_project_train_dask_on_a_small_regression_version(dask_client, tmp_path):
    rng = np.random.default_rng(5)
    n = 2_000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["t"] = 3 * frame["a"] - frame["b"] + rng.normal(scale=0.1, size=n)
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        small = proj.data("reg", frame, target="t")
        with pytest.warns(UserWarning, match="experimental"):
            model = proj.train(
                "r",
                small,
                engine="dask",
                client=dask_client,
                params={"n_estimators": 10},
            )
    assert model.recipe["engine"] == "dask"
    assert model.task == "regression"
    assert proj._store.read_blob(model.artifacts["booster"]).startswith(b"tree\n")
    pred = model.predict(frame.iloc[:200])
    assert np.corrcoef(pred, frame["t"].iloc[:200])[0, 1] > 0.9
    assert model.metrics["validation"]["metrics"]["r2"] > 0.5


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"estimator": "logistic"}, "LightGBM only"),
        ({"estimator": "random_forest"}, "LightGBM only"),
        ({"estimator": "ebm"}, "LightGBM only"),
        ({"estimator": LogisticRegression()}, "LogisticRegression"),
        ({"estimator": "lightgbm", "cv": 3}, "holdout only"),
        ({"estimator": "lightgbm", "engine": "spark"}, "must be 'local'"),
    ],
)
def test_refuses_what_dask_cannot_train(tmp_path, kwargs, says):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        big, _ = _large(proj, tmp_path, rows=400, parts=2)
        kwargs = {"engine": "dask", **kwargs}
        with pytest.raises(ValidationError, match=says):
            proj.train("m", big, **kwargs)
        assert len(proj.models()) == 0  # nothing stored


def test_single_machine_training_of_a_large_version_points_to_dask(tmp_path):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        big, frame = _large(proj, tmp_path, rows=400, parts=2)
        with pytest.raises(ValidationError, match="engine='dask'"):
            proj.train("m", big)
        assert len(proj.models()) == 0
        small = proj.data("small", frame, target="y")  # the default stays local
        model = proj.train("m", small, params={"n_estimators": 5})
        assert "engine" not in model.recipe


@pytest.mark.slow
def test_fixed_listen_port_with_two_workers_on_one_host_is_refused(
    dask_client, tmp_path
):
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path / "p")
        big, _ = _large(proj, tmp_path, rows=400, parts=2)
        for key in ("local_listen_port", "port"):
            with (
                pytest.warns(UserWarning, match="experimental"),
                pytest.raises(ValidationError, match="Omit it"),
            ):
                proj.train(
                    "m",
                    big,
                    engine="dask",
                    client=dask_client,
                    params={**TREES, key: 12400},
                )
        assert len(proj.models()) == 0
