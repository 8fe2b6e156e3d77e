"""model.to_mlflow(): an MLflow model directory (pyfunc + onnx flavors), and a real
``mlflow server`` registration carrying the lineage tags."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from typing import TYPE_CHECKING

import mlflow
import mlflow.onnx
import mlflow.pyfunc
import numpy as np
import pytest
from _interop_frames import make_frame

from mlops_nb.errors import UnsupportedFormatError, ValidationError

if TYPE_CHECKING:
    from pathlib import Path

PICKLE_HEADS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")

CASES = [
    ("binary", "lightgbm", 1),
    ("binary", "logistic", 2),
    ("multiclass", "lightgbm", 3),
    ("multiclass", "hist_gradient_boosting", 4),
    ("regression", "lightgbm", 5),
    ("regression", "linear", 6),
]


def _train(project, asset_of, task, estimator, seed):
    asset = asset_of(task, seed)
    params = {
        "lightgbm": {"n_estimators": 15},
        "hist_gradient_boosting": {"max_iter": 15},
    }.get(estimator)
    return project.train(
        f"m-{task}", asset, estimator=estimator, params=params, seed=seed
    )


def _no_pickle(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            assert p.suffix not in (".pkl", ".pickle", ".joblib"), p
            assert p.read_bytes()[:2] not in PICKLE_HEADS, p


@pytest.mark.parametrize(("task", "estimator", "seed"), CASES)
def test_pyfunc_predicts_mlops_nb_numbers(
    project, asset_of, tmp_path, task, estimator, seed
):
    model = _train(project, asset_of, task, estimator, seed)
    if task == "binary":  # a threshold away from 0.5, so the decision is tested
        model.set_threshold(0.37, reason="test")
    out = model.to_mlflow(tmp_path / "mlf")
    assert out.flavors == ("python_function",)  # no ONNX export yet
    mlmodel = mlflow.models.Model.load(str(tmp_path / "mlf" / "MLmodel"))
    assert "sklearn" not in mlmodel.flavors  # MLflow's sklearn flavor pickles
    assert mlmodel.flavors["python_function"]["loader_module"] == "mlops_nb_pyfunc"
    _no_pickle(tmp_path / "mlf")
    assert [c.name for c in mlmodel.signature.inputs.inputs] == model.features
    scoring = make_frame(task, seed + 100, n=120, holes=True).drop(columns="y")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "mlf"))
    got = loaded.predict(scoring)
    if task == "regression":
        assert list(got.columns) == ["prediction"]
        np.testing.assert_allclose(got["prediction"], model.predict(scoring), atol=1e-9)
        return
    cols = [f"proba_{c}" for c in model.classes]
    assert list(got.columns) == [*cols, "decision"]
    np.testing.assert_allclose(
        got[cols].to_numpy(), model.predict_proba(scoring), atol=1e-9, rtol=0
    )
    assert (got["decision"].to_numpy() == model.predict(scoring)).all()
    if task == "binary":
        expected = np.where(got["proba_1"] >= 0.37, 1, 0)
        assert (got["decision"].to_numpy() == expected).all()
        assert mlmodel.metadata["mlops_nb"]["threshold"]["value"] == pytest.approx(0.37)


def test_metadata_records_data_metrics_fairness_and_lineage(
    project, asset_of, tmp_path
):
    model = _train(project, asset_of, "binary", "lightgbm", 7)
    test = asset_of("binary", 8, name="test")
    model.evaluate(test)
    model.fairness(test)
    model.to_mlflow(tmp_path / "mlf")
    meta = mlflow.models.Model.load(str(tmp_path / "mlf" / "MLmodel")).metadata[
        "mlops_nb"
    ]
    asset = model.project.asset("rows-binary")
    assert meta["data"] == [
        {
            "name": asset.name,
            "version": asset.version,
            "content_hash": asset.content_hash,
        }
    ]
    assert meta["artifacts"] == model.artifacts
    assert meta["metrics"]["validation"]["metrics"] == pytest.approx(
        model.metrics["validation"]["metrics"]
    )
    assert test.label in meta["metrics"]["evaluations"]
    assert "findings" in meta["fairness"]
    assert meta["model"] == {
        "name": model.name,
        "version": model.version,
        "id": model.id,
    }
    # the files inside carry the hashes their metadata names
    inner = tmp_path / "mlf" / "data" / "data"
    import json

    files = json.loads((inner / "mlops_nb_model.json").read_text())["files"]
    for entry in files.values():
        data = (inner / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    audit = project.audit_log()
    assert (audit["action"] == "export mlflow").any()
    # MLflow's copy of the working directory's uv files is switched off
    assert not (tmp_path / "mlf" / "uv.lock").exists()


def test_onnx_flavor_scores_as_our_onnx_export(project, asset_of, tmp_path):
    from mlops_nb.deploy._runtime import frame_feeds, make_session, run_session

    model = _train(project, asset_of, "binary", "lightgbm", 9)
    export = model.export_onnx(check=model.project.asset("rows-binary"))
    out = model.to_mlflow(tmp_path / "mlf")
    assert set(out.flavors) == {"python_function", "onnx"}
    proto = mlflow.onnx.load_model(str(tmp_path / "mlf"))
    assert hashlib.sha256(proto.SerializeToString()).hexdigest() == export.digest
    scoring = make_frame("binary", 10, n=80)
    session = make_session(proto.SerializeToString(), what="mlflow onnx")
    _, proba = run_session(
        session, frame_feeds(model._X(scoring, "t"), export.schema), model.task
    )
    np.testing.assert_allclose(proba, export.predict_proba(scoring), atol=1e-12)
    meta = mlflow.models.Model.load(str(tmp_path / "mlf" / "MLmodel")).metadata
    assert meta["mlops_nb"]["onnx_sha256"] == export.digest


@pytest.mark.parametrize("what", ["booster", "prep", "json"])
def test_a_changed_file_is_refused_by_the_loader(project, asset_of, tmp_path, what):
    model = _train(project, asset_of, "binary", "lightgbm", 11)
    model.to_mlflow(tmp_path / "mlf")
    inner = tmp_path / "mlf" / "data" / "data"
    target = {
        "booster": inner / "booster.txt",
        "prep": inner / "prep.skops",
        "json": inner / "mlops_nb_model.json",
    }[what]
    if what == "json":  # repoint the booster at a pickle
        (inner / "evil.pkl").write_bytes(b"\x80\x04K\x01.")
        text = target.read_text().replace('"booster.txt"', '"evil.pkl"')
        target.write_text(text)
    else:
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    with pytest.raises(Exception, match=r"changed since|pickle"):
        mlflow.pyfunc.load_model(str(tmp_path / "mlf"))


def test_bad_targets_are_refused_and_nothing_written(project, asset_of, tmp_path):
    model = _train(project, asset_of, "binary", "logistic", 12)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="not an empty folder"):
        model.to_mlflow(busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    with pytest.raises(ValidationError, match="either a folder path"):
        model.to_mlflow()
    with pytest.raises(ValidationError, match="not both"):
        model.to_mlflow(tmp_path / "x", registry="http://127.0.0.1:1")
    assert not (tmp_path / "x").exists()


def test_a_mitigated_version_is_refused(project, asset_of, tmp_path):
    model = _train(project, asset_of, "binary", "logistic", 13)
    fake = model.__class__(
        **{
            **{f: getattr(model, f) for f in model.__dataclass_fields__},
            "recipe": {**model.recipe, "mitigation": {"method": "threshold_optimizer"}},
        }
    )
    with pytest.raises(UnsupportedFormatError, match="fairness-mitigated"):
        fake.to_mlflow(tmp_path / "mlf")
    assert not (tmp_path / "mlf").exists()


def test_import_mlops_nb_does_not_import_mlflow():
    code = (
        "import sys, mlops_nb, mlops_nb.interop; "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_register_in_a_real_mlflow_server(project, asset_of, mlflow_server):
    from mlflow.tracking import MlflowClient

    model = _train(project, asset_of, "binary", "lightgbm", 14)
    model.set_threshold(0.42, reason="server test")
    out = model.to_mlflow(registry=mlflow_server, name="employment")
    assert out.registered == "employment/1"
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    mv = client.get_model_version("employment", "1")
    asset = model.project.asset("rows-binary")
    assert mv.tags["mlops_nb.data"] == asset.label
    assert mv.tags["mlops_nb.data.0.sha256"] == asset.content_hash
    assert float(mv.tags["mlops_nb.threshold"]) == pytest.approx(0.42)
    assert mv.tags["mlops_nb.artifact.booster.sha256"] == model.artifacts["booster"]
    auc = model.metrics["validation"]["metrics"]["roc_auc"]
    assert float(mv.tags["mlops_nb.metric.validation.roc_auc"]) == pytest.approx(auc)
    run = client.get_run(mv.run_id)
    assert run.data.metrics["validation_roc_auc"] == pytest.approx(auc)
    # a second export is version 2 of the same registered model
    assert model.to_mlflow(registry=mlflow_server, name="employment").registered == (
        "employment/2"
    )
    # the registered model loads through MLflow and scores as mlops_nb does
    mlflow.set_tracking_uri(mlflow_server)
    try:
        loaded = mlflow.pyfunc.load_model("models:/employment/1")
    finally:
        mlflow.set_tracking_uri(None)
    scoring = make_frame("binary", 15, n=60)
    np.testing.assert_allclose(
        loaded.predict(scoring)[["proba_0", "proba_1"]].to_numpy(),
        model.predict_proba(scoring),
        atol=1e-9,
    )
    # and comes back into a project
    back = project.from_mlflow(
        "models:/employment/1", data=asset, registry=mlflow_server, name="back"
    )
    assert back.artifacts == model.artifacts
    assert back.threshold == pytest.approx(0.42)
    assert back.lineage["source"]["uri"] == "models:/employment/1"
    assert back.evaluate(asset).metrics["roc_auc"] == pytest.approx(
        model.evaluate(asset).metrics["roc_auc"]
    )
