"""ONNX export with parity, for every estimator Model Ops trains by name."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlops_nb.deploy import OnnxExport, export_onnx
from mlops_nb.deploy._convert import convert_pipeline, is_ebm
from mlops_nb.deploy._export import stored_exports
from mlops_nb.errors import UnsupportedFormatError, ValidationError
from mlops_nb.model._prep import Features


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("lightgbm", {"n_estimators": 30}),
        ("logistic", None),
        ("hist_gradient_boosting", {"max_iter": 30}),
        ("random_forest", {"n_estimators": 20, "n_jobs": 1}),
    ],
)
def test_parity_per_estimator(dep, estimator, params):
    model = dep.project.train(
        f"p-{estimator}", dep.train, estimator=estimator, params=params
    )
    onnx = model.export_onnx(check=dep.test)
    assert isinstance(onnx, OnnxExport)
    assert onnx.parity["ok"], onnx.parity
    assert onnx.parity["max_abs_diff"] <= 1e-5
    assert onnx.parity["label_agreement"] == 1.0
    assert onnx.parity["rows"] == dep.test.n_rows
    assert onnx.parity["data"]["label"] == dep.test.label
    np.testing.assert_allclose(
        onnx.predict_proba(dep.test), model.predict_proba(dep.test), atol=1e-5
    )
    assert list(onnx.predict(dep.test)) == list(model.predict(dep.test))


@pytest.mark.parametrize(
    ("task", "estimator"),
    [
        ("multiclass", "lightgbm"),
        ("multiclass", "logistic"),
        ("regression", "lightgbm"),
        ("regression", "linear"),
    ],
)
def test_multiclass_and_regression_export(dep, task, estimator):
    frame = dep.frame.copy()
    if task == "multiclass":
        frame["y"] = np.where(
            frame["x1"] > 0.5, "high", np.where(frame["x1"] < -0.5, "low", "mid")
        )
    else:
        frame["y"] = 2.0 * frame["x1"] + frame["x2"].fillna(10)
    asset = dep.project.data(
        f"tiny-{task}", frame, target="y", sensitive="group", id="id"
    )
    model = dep.project.train(
        f"{task}-{estimator}",
        asset,
        estimator=estimator,
        params={"n_estimators": 20} if estimator == "lightgbm" else None,
    )
    onnx = model.export_onnx(check=asset)
    assert model.task == task
    if task == "regression":
        assert onnx.parity["max_abs_diff"] <= 1e-4 * float(frame["y"].abs().max())
        assert onnx.parity["label_agreement"] is None
        np.testing.assert_allclose(
            onnx.predict(asset), model.predict(asset), rtol=1e-5, atol=1e-4
        )
    else:
        assert onnx.parity["max_abs_diff"] <= 1e-5
        assert onnx.parity["label_agreement"] == 1.0
        assert list(onnx.predict(asset)) == list(model.predict(asset))


def test_export_is_a_content_addressed_artifact_with_lineage(dep, lgbm_export):
    proj, model = dep.project, dep.lgbm
    data = lgbm_export.onnx_bytes
    assert len(data) == lgbm_export.size
    assert (proj.path / "artifacts").exists()
    assert lgbm_export.digest in proj._store.referenced_blobs()
    assert proj.verify().ok
    stored = stored_exports(model)
    assert stored
    assert stored[-1].digest == lgbm_export.digest
    assert stored[-1].parity == lgbm_export.parity
    log = proj.audit_log()
    rows = log[
        (log["action"] == "export onnx")
        & (log["object"] == f"model:{model.name}@{model.version}")
    ]
    assert rows["detail"].str.contains(lgbm_export.digest).any()
    # exporting again with the same check data records nothing new
    again = model.export_onnx(check=dep.test)
    assert again.digest == lgbm_export.digest
    assert again.record_version == lgbm_export.record_version


def test_default_parity_uses_training_rows(dep):
    onnx = export_onnx(dep.lgbm)
    assert onnx.parity["data"]["label"] == dep.train.label
    assert "training data" in onnx.parity["data"]["rows_used"]


def test_export_renders(lgbm_export):
    bundle = lgbm_export._repr_mimebundle_()
    assert {"text/plain", "text/html"} <= set(bundle)
    html = bundle["text/html"]
    assert "Parity" in html
    assert "max |p_onnx - p_native|" in html
    assert lgbm_export.digest in html
    assert "parity ok" in html


def test_ebm_has_a_clear_error(dep):
    fake = dataclasses.replace(dep.lgbm, recipe={**dep.lgbm.recipe, "estimator": "ebm"})
    with pytest.raises(UnsupportedFormatError, match=r"no ONNX converter.*'lightgbm'"):
        fake.export_onnx()

    class ExplainableBoostingClassifier:
        __module__ = "interpret.glassbox._ebm._ebm"

    from sklearn.pipeline import Pipeline

    assert is_ebm(ExplainableBoostingClassifier())
    pipe = Pipeline([("model", ExplainableBoostingClassifier())])
    with pytest.raises(UnsupportedFormatError, match="Explainable Boosting Machine"):
        convert_pipeline(pipe, Features(("x1",), ()), "binary", what="t")


def test_unknown_estimator_names_the_exportable_ones(dep):
    from sklearn.pipeline import Pipeline

    class Odd:
        def fit(self, X, y):
            return self

        def get_params(self, deep=True):
            return {}

    import pandas as pd

    from mlops_nb.model._prep import make_preprocessor

    prep = make_preprocessor(Features(("x1",), ()), "tree").fit(
        pd.DataFrame({"x1": [0.0, 1.0]})
    )
    pipe = Pipeline([("prep", prep), ("model", Odd())])
    with pytest.raises(UnsupportedFormatError, match="Exportable estimators"):
        convert_pipeline(pipe, Features(("x1",), ()), "binary", what="t")


def test_check_must_be_a_data_asset(dep):
    with pytest.raises(ValidationError, match="expected a DataAsset"):
        dep.lgbm.export_onnx(check=dep.frame)
    with pytest.raises(ValidationError, match="tolerance"):
        dep.lgbm.export_onnx(tolerance=-1)


def test_save_writes_one_file_and_refuses_to_replace(lgbm_export, tmp_path):
    target = tmp_path / "out" / "model.onnx"
    assert lgbm_export.save(target) == target
    assert target.read_bytes() == lgbm_export.onnx_bytes
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.onnx"]
    with pytest.raises(ValidationError, match="exists; choose another path"):
        lgbm_export.save(target)
    lgbm_export.save(target, overwrite=True)
    link = tmp_path / "link.onnx"
    link.symlink_to(tmp_path / "elsewhere.onnx")
    with pytest.raises(ValidationError, match="symbolic link"):
        lgbm_export.save(link, overwrite=True)
    assert not (tmp_path / "elsewhere.onnx").exists()


def test_export_keeps_import_light():
    import subprocess
    import sys

    code = (
        "import sys, mlops_nb, mlops_nb.deploy; "
        "heavy = [m for m in ('onnx', 'onnxruntime', 'skl2onnx', 'starlette', "
        "'uvicorn', 'sklearn') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
