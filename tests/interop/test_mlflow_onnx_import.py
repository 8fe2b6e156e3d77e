"""proj.from_mlflow() of an onnx-only MLflow model: a version stored as its ONNX file,
answering through a real onnxruntime session, working like a native one."""

from __future__ import annotations

import hashlib
import pickle

import mlflow.onnx
import numpy as np
import onnxruntime as ort
import pytest
from _interop_frames import make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    StringTensorType,
)
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _helpers import reopen
from mlops_nb.errors import IntegrityError, SchemaError, UnsupportedFormatError
from mlops_nb.model._persist import sniff

NUM, CAT = ["x1", "x2"], ["color"]
OPSET = {"": 17, "ai.onnx.ml": 3}


def _pipeline(task: str, frame):
    """A team's scikit-learn pipeline, fitted on the frame's x1, x2 and color."""
    est = {
        "binary": LogisticRegression(max_iter=500),
        "multiclass": RandomForestClassifier(n_estimators=8, random_state=0),
        "regression": Ridge(),
    }[task]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUM),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CAT),
        ]
    )
    X = frame[NUM + CAT].astype({"color": str})
    return Pipeline([("prep", prep), ("model", est)]).fit(X, frame["y"])


def _to_onnx(pipe, task: str, *, types=None, zipmap: bool = False) -> bytes:
    """Convert with skl2onnx, one [None, 1] input per column."""
    types = types or [(c, FloatTensorType([None, 1])) for c in NUM] + [
        (c, StringTensorType([None, 1])) for c in CAT
    ]
    options = (
        {} if task == "regression" else {id(pipe.steps[-1][1]): {"zipmap": zipmap}}
    )
    onx = convert_sklearn(
        pipe, initial_types=types, options=options, target_opset=OPSET
    )
    return onx.SerializeToString()


def _save_onnx(raw: bytes, path) -> None:
    import onnx

    mlflow.onnx.save_model(
        onnx.load_from_string(raw), str(path), pip_requirements=["onnx"]
    )


def _ort(raw: bytes, frame) -> list[np.ndarray]:
    """onnxruntime's own answer on the frame's columns."""
    session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    feeds = {c: frame[c].to_numpy(dtype=np.float32).reshape(-1, 1) for c in NUM}
    feeds["color"] = frame["color"].astype(str).to_numpy(dtype=object).reshape(-1, 1)
    return session.run(None, feeds)


@pytest.mark.parametrize(
    ("task", "seed"), [("binary", 1), ("multiclass", 2), ("regression", 3)]
)
def test_onnx_only_model_imports_and_works_like_native(project, tmp_path, task, seed):
    frame = make_frame(task, seed)
    asset = project.data(f"ref-{task}", frame, target="y", sensitive="group")
    raw = _to_onnx(_pipeline(task, frame), task)
    _save_onnx(raw, tmp_path / "m")
    model = project.from_mlflow(str(tmp_path / "m"), data=asset, name="outside")

    # the very ONNX file is stored, content addressed; nothing else, nothing pickled
    digest = hashlib.sha256(raw).hexdigest()
    assert model.artifacts == {"onnx": digest}
    assert sniff(project._store.read_blob(digest), artifact=digest) == "onnx"
    est = model._predictor().objects["pipeline"].steps[-1][1]
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(est)
    source = model.lineage["source"]
    assert source["flavor"] == "onnx"
    assert source["files"]["model.onnx"] == digest
    assert source["uri"] == str(tmp_path / "m")
    assert set(model.features) == {"x1", "x2", "color"}

    # the same numbers as onnxruntime's own session, read back from a fresh kernel
    again = reopen(project).model("outside")
    scoring = make_frame(task, seed + 50, n=90)
    ref = _ort(raw, scoring)
    if task == "regression":
        np.testing.assert_allclose(
            again.predict(scoring), ref[0].reshape(-1), atol=1e-6
        )
    else:
        np.testing.assert_allclose(again.predict_proba(scoring), ref[1], atol=1e-6)
        assert model.classes == sorted(frame["y"].unique().tolist())

    # evaluate, fairness, explain, monitor (observe + review), card
    test = project.data(
        f"test-{task}", make_frame(task, seed + 7), target="y", sensitive="group"
    )
    assert model.evaluate(test).metrics
    if task == "binary":  # fairness reviews cover binary classifiers
        assert model.fairness(test, n_boot=10) is not None
    imp = model.explain(test, sample_rows=80, top=2).to_frame()
    assert set(model.features) <= set(imp["feature"])
    mon = model.monitor(asset)
    mon.observe(make_frame(task, seed + 9, n=200).drop(columns="y"))
    assert mon.review() is not None
    card = model.card().to_markdown()
    assert model.label in card

    # export_onnx hands the same bytes back, with its hash recorded and parity 0
    export = model.export_onnx(check=test)
    assert export.digest == digest
    assert export.onnx_bytes == raw
    assert export.parity["max_abs_diff"] <= 1e-6
    log = project.audit_log()
    assert (log["action"] == "import mlflow").any()
    assert (log["action"] == "export onnx").any()


@pytest.mark.embedded_only  # edits a blob file in the folder
def test_a_tampered_onnx_file_in_the_project_is_refused(project, tmp_path):
    frame = make_frame("binary", 11)
    asset = project.data("ref", frame, target="y")
    raw = _to_onnx(_pipeline("binary", frame), "binary")
    _save_onnx(raw, tmp_path / "m")
    model = project.from_mlflow(str(tmp_path / "m"), data=asset)
    digest = model.artifacts["onnx"]
    path = project.path / "artifacts" / digest[:2] / digest
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    fresh = reopen(project).model(model.name, version=model.version)
    with pytest.raises(IntegrityError, match=digest):
        fresh.predict_proba(frame)
    with pytest.raises(IntegrityError, match=digest):
        fresh.export_onnx()


def test_an_imported_onnx_model_is_not_written_back_as_an_empty_mlflow_model(
    project, tmp_path
):
    frame = make_frame("binary", 12)
    asset = project.data("ref", frame, target="y")
    _save_onnx(_to_onnx(_pipeline("binary", frame), "binary"), tmp_path / "m")
    model = project.from_mlflow(str(tmp_path / "m"), data=asset)
    with pytest.raises(UnsupportedFormatError, match="ONNX model imported from"):
        model.to_mlflow(tmp_path / "back")
    assert not (tmp_path / "back").exists()


def _identity_graph(inputs: list[tuple[str, int, list]]) -> bytes:
    """A regression graph concatenating its inputs (enough to test matching)."""
    names = [n for n, _, _ in inputs]
    graph = helper.make_graph(
        [
            helper.make_node("Concat", names, ["c"], axis=1),
            helper.make_node("ReduceSum", ["c"], ["variable"], keepdims=0),
        ],
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    return model.SerializeToString()


FLOAT = TensorProto.FLOAT
# each a kind of mismatch: a renamed (missing) column, one tensor for all columns,
# a type mlops_nb does not feed, a float input for a text column
MISMATCHES = [
    ("rename", None),
    ("one tensor", [("X", FLOAT, [None, 2])]),
    ("double", [("x1", TensorProto.DOUBLE, [None, 1])]),
    ("int64", [("x2", TensorProto.INT64, [None, 1])]),
    ("float on text", [("color", FLOAT, [None, 1])]),
]


@pytest.mark.parametrize("kind", MISMATCHES, ids=[k for k, _ in MISMATCHES])
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stranger=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
        lambda s: s not in {"x1", "x2", "color", "group", "y"}
    ),
)
def test_inputs_that_do_not_match_the_data_are_a_schema_error(
    project, tmp_path_factory, kind, stranger
):
    asset = project.data("ref", make_frame("regression", 61), target="y")
    label, inputs = kind
    if inputs is None:  # x1 present, a column the data does not have
        inputs = [("x1", FLOAT, [None, 1]), (stranger, FLOAT, [None, 1])]
    path = tmp_path_factory.mktemp("bad") / "m"
    _save_onnx(_identity_graph(inputs), path)
    before = len(project.audit_log())
    with pytest.raises(SchemaError) as err:
        project.from_mlflow(str(path), data=asset, name="bad")
    text = str(err.value)
    named = stranger if label == "rename" else inputs[0][0]
    assert repr(named) in text or f"{named}:" in text
    assert "convert" in text.lower()  # how to fix it
    if label == "rename":
        assert "Data columns the graph does not read" in text
        assert "x2" in text  # the data's columns the graph leaves out
    assert len(project.audit_log()) == before  # nothing stored


def test_zipmap_outputs_name_the_conversion_option(project, tmp_path):
    frame = make_frame("binary", 71)
    asset = project.data("ref", frame, target="y")
    raw = _to_onnx(_pipeline("binary", frame), "binary", zipmap=True)
    _save_onnx(raw, tmp_path / "m")
    with pytest.raises(UnsupportedFormatError, match="zipmap"):
        project.from_mlflow(str(tmp_path / "m"), data=asset)


def test_double_inputs_from_a_converter_are_named(project, tmp_path):
    frame = make_frame("binary", 81)
    asset = project.data("ref", frame, target="y")
    types = [(c, DoubleTensorType([None, 1])) for c in NUM] + [
        (c, StringTensorType([None, 1])) for c in CAT
    ]
    raw = _to_onnx(_pipeline("binary", frame), "binary", types=types)
    _save_onnx(raw, tmp_path / "m")
    with pytest.raises(SchemaError, match=r"x1: double.*FloatTensorType|x1: double"):
        project.from_mlflow(str(tmp_path / "m"), data=asset)


def test_onnx_is_preferred_to_a_pickled_flavor(project, tmp_path):
    """A model logged with a cloudpickle sklearn flavor and an onnx one imports the
    ONNX file, without trust_pickle and without unpickling anything."""
    import mlflow.sklearn
    from mlflow.models import Model as MlflowModel

    frame = make_frame("binary", 91)
    asset = project.data("ref", frame, target="y")
    pipe = _pipeline("binary", frame)
    path = tmp_path / "m"
    mlflow.sklearn.save_model(
        pipe, str(path), serialization_format="cloudpickle", pip_requirements=["x"]
    )
    raw = _to_onnx(pipe, "binary")
    (path / "model.onnx").write_bytes(raw)
    mlmodel = MlflowModel.load(str(path / "MLmodel"))
    mlmodel.add_flavor("onnx", data="model.onnx", onnx_version="1")
    mlmodel.save(str(path / "MLmodel"))
    model = project.from_mlflow(str(path), data=asset)
    assert model.lineage["source"]["flavor"] == "onnx"
    assert model.lineage["source"]["trusted_pickle"] is False
    assert model.artifacts == {"onnx": hashlib.sha256(raw).hexdigest()}
    X = frame[NUM + CAT].astype({"color": str})
    np.testing.assert_allclose(
        model.predict_proba(frame), pipe.predict_proba(X), atol=1e-5
    )
