"""proj.from_mlflow(): sklearn / lightgbm / mlops_nb-written MLflow models in; pickles
refused unless trusted; the imported version evaluates, monitors and has a card."""

from __future__ import annotations

import hashlib

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import mlflow.sklearn
import numpy as np
import pytest
from _interop_frames import make_frame
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlops_nb.errors import (
    IntegrityError,
    UnsafeFormatError,
    UnsupportedFormatError,
    ValidationError,
)
from mlops_nb.interop._mlflow_import import LIGHTGBM_TYPES
from mlops_nb.model._persist import sniff


def _fit(kind: str, frame):
    """Fit an outside model the way a team would; return (model, X, predict_fn)."""
    num = ["x1", "x2"]
    if kind == "sklearn-pipeline":  # categorical inputs, one-hot inside the pipeline
        X = frame[[*num, "color"]].astype({"color": str})
        est = Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])],
                        remainder="passthrough",
                    ),
                ),
                ("clf", LogisticRegression(max_iter=500)),
            ]
        ).fit(X, frame["y"])
        return est, X, est.predict_proba
    X = frame[num]
    if kind == "sklearn-forest":
        est = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, frame["y"])
        return est, X, est.predict_proba
    if kind == "sklearn-ridge":
        est = Ridge().fit(X, frame["y"])
        return est, X, est.predict
    if kind == "lightgbm-booster":
        booster = lgb.train(
            {"objective": "binary", "verbose": -1, "num_threads": 1},
            lgb.Dataset(X, frame["y"]),
            12,
        )
        return (
            booster,
            X,
            lambda Z: np.column_stack([1 - booster.predict(Z), booster.predict(Z)]),
        )
    est = lgb.LGBMClassifier(n_estimators=8, verbose=-1, n_jobs=1).fit(X, frame["y"])
    return est, X, est.predict_proba


REQS = ["scikit-learn", "lightgbm", "skops"]


def _save(kind, est, X, path, *, fmt="skops"):
    sig = mlflow.models.infer_signature(X)
    if kind.startswith("sklearn"):
        # the writer's own check: skops asks it to trust tree node storage by name
        trusted = ["sklearn.tree._tree.Tree"] if kind == "sklearn-forest" else None
        mlflow.sklearn.save_model(
            est,
            str(path),
            signature=sig,
            serialization_format=fmt,
            skops_trusted_types=trusted,
            pip_requirements=REQS,  # given: MLflow infers them in a ~12 s subprocess
        )
    else:
        kw = {} if kind == "lightgbm-booster" else {"serialization_format": fmt}
        if kind == "lightgbm-sklearn" and fmt == "skops":
            kw["skops_trusted_types"] = list(LIGHTGBM_TYPES)
        mlflow.lightgbm.save_model(
            est, str(path), signature=sig, pip_requirements=REQS, **kw
        )


CASES = [
    ("sklearn-pipeline", "binary", 1),
    ("sklearn-forest", "multiclass", 2),
    ("sklearn-ridge", "regression", 3),
    ("lightgbm-booster", "binary", 4),
    ("lightgbm-sklearn", "multiclass", 5),
]


@pytest.mark.parametrize(("kind", "task", "seed"), CASES)
def test_safe_flavors_import_and_work_like_native(project, tmp_path, kind, task, seed):
    frame = make_frame(task, seed)
    asset = project.data(f"ref-{task}", frame, target="y", sensitive="group")
    est, X, predict = _fit(kind, frame)
    _save(kind, est, X, tmp_path / "m")
    model = project.from_mlflow(str(tmp_path / "m"), data=asset, name="outside")
    # the same numbers as the outside model, from mlops_nb's stored safe files
    scoring = make_frame(task, seed + 50, n=90)
    ours = (
        model.predict(scoring) if task == "regression" else model.predict_proba(scoring)
    )
    np.testing.assert_allclose(ours, predict(scoring[list(X.columns)]), atol=1e-9)
    for digest in model.artifacts.values():
        assert sniff(project._store.read_blob(digest), artifact=digest) != "pickle"
    # the source and every file's SHA-256 are recorded
    source = model.lineage["source"]
    assert source["uri"] == str(tmp_path / "m")
    assert source["trusted_pickle"] is False
    files = {
        p.relative_to(tmp_path / "m").as_posix(): hashlib.sha256(
            p.read_bytes()
        ).hexdigest()
        for p in (tmp_path / "m").rglob("*")
        if p.is_file()
    }
    assert source["files"] == files
    # evaluate, monitor, card
    test = project.data(
        f"test-{task}", make_frame(task, seed + 7), target="y", sensitive="group"
    )
    ev = model.evaluate(test)
    assert ev.metrics
    monitor = model.monitor(asset)
    assert monitor is not None
    card = model.card().to_markdown()
    assert model.label in card
    assert (project.audit_log()["action"] == "import mlflow").any()


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("sklearn-forest", "cloudpickle"),
        ("sklearn-pipeline", "pickle"),
        ("lightgbm-sklearn", "cloudpickle"),
        ("lightgbm-sklearn", "pickle"),
    ],
)
def test_pickled_flavors_are_refused_unless_trusted(project, tmp_path, kind, fmt):
    task = "binary"
    frame = make_frame(task, 21)
    asset = project.data("ref", frame, target="y", sensitive="group")
    est, X, predict = _fit(kind, frame)
    _save(kind, est, X, tmp_path / "m", fmt=fmt)
    before = len(project.audit_log())
    with pytest.raises(UnsafeFormatError, match=rf"{fmt} file.*trust_pickle=True"):
        project.from_mlflow(str(tmp_path / "m"), data=asset, name="p")
    assert len(project.audit_log()) == before  # nothing stored, nothing recorded
    with pytest.raises(Exception, match="no model named"):
        project.model("p")
    model = project.from_mlflow(
        str(tmp_path / "m"), data=asset, name="p", trust_pickle=True
    )
    assert model.lineage["source"]["trusted_pickle"] is True
    np.testing.assert_allclose(model.predict_proba(frame), predict(X), atol=1e-9)
    for digest in model.artifacts.values():  # re-saved in safe formats
        head = project._store.read_blob(digest)[:2]
        assert head not in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def test_round_trip_of_our_own_export_keeps_files_and_threshold(project, tmp_path):
    frame = make_frame("binary", 31)
    asset = project.data("ref", frame, target="y", sensitive="group")
    model = project.train(
        "native", asset, estimator="lightgbm", params={"n_estimators": 12}
    )
    model.set_threshold(0.33, reason="round trip")
    model.to_mlflow(tmp_path / "m")
    back = project.from_mlflow(str(tmp_path / "m"), data=asset)
    assert back.name == "native"
    assert back.version == model.version + 1
    assert back.artifacts == model.artifacts  # the very same bytes
    assert back.threshold == pytest.approx(0.33)
    scoring = make_frame("binary", 32, n=70)
    np.testing.assert_allclose(
        back.predict_proba(scoring), model.predict_proba(scoring), atol=0
    )
    assert (back.predict(scoring) == model.predict(scoring)).all()


def test_a_changed_file_in_our_export_is_refused(project, tmp_path):
    frame = make_frame("binary", 41)
    asset = project.data("ref", frame, target="y", sensitive="group")
    model = project.train("native", asset, estimator="logistic")
    model.to_mlflow(tmp_path / "m")
    skops_file = tmp_path / "m" / "data" / "data" / "pipeline.skops"
    data = bytearray(skops_file.read_bytes())
    data[-10] ^= 0x01
    skops_file.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="changed since mlops_nb wrote"):
        project.from_mlflow(str(tmp_path / "m"), data=asset, name="x")


def test_unsupported_and_bad_inputs_are_named(project, tmp_path):
    frame = make_frame("binary", 51)
    asset = project.data("ref", frame, target="y", sensitive="group")
    other = mlflow.models.Model()  # a flavor mlops_nb does not read
    other.add_flavor("pytorch", pytorch_version="2.0", model_data="data")
    (tmp_path / "other").mkdir()
    other.save(str(tmp_path / "other" / "MLmodel"))
    with pytest.raises(UnsupportedFormatError, match=r"pytorch.*mlflow\.onnx"):
        project.from_mlflow(str(tmp_path / "other"), data=asset)
    with pytest.raises(UnsupportedFormatError, match="no MLmodel"):
        project.from_mlflow(str(tmp_path), data=asset)
    unlabelled = project.data("nolabel", frame.drop(columns="y"))
    with pytest.raises(ValidationError, match="labelled DataAsset"):
        project.from_mlflow(str(tmp_path / "other"), data=unlabelled)
    # a model reading a column the data lacks
    est, X, _ = _fit("sklearn-forest", frame)
    _save("sklearn-forest", est, X, tmp_path / "rf")
    narrow = project.data("narrow", frame.drop(columns="x2"), target="y")
    with pytest.raises(ValidationError, match="x2"):
        project.from_mlflow(str(tmp_path / "rf"), data=narrow)
