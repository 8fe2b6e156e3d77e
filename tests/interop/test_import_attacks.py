"""Red-team tests of proj.from_mlflow(): hostile MLflow model folders (SECURITY-TESTS
T02, T10-T14). Each attack is planted in a real MLflow folder; the import must raise an
mlops_nb error naming it, store nothing, leave the "outside" folder unchanged and run
no code (canary marker file / canary module). A clean control imports."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
import yaml
from _interop_frames import make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from _helpers import raw_snapshot
from mlops_nb.errors import (
    IntegrityError,
    MlopsNbError,
    UnsafeFormatError,
    UnsupportedFormatError,
    ValidationError,
)

REQS = ["scikit-learn", "skops"]


class Canary:
    """A pickle payload: unpickling it creates ``path`` (the code-ran marker)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
def env(project, tmp_path):
    """A labelled data version, a clean MLflow sklearn/skops folder, an outside dir."""
    frame = make_frame("binary", 3)
    asset = project.data("ref", frame, target="y", sensitive="group")
    est = LogisticRegression(max_iter=300).fit(frame[["x1", "x2"]], frame["y"])
    folder = tmp_path / "m"
    mlflow.sklearn.save_model(
        est,
        str(folder),
        signature=mlflow.models.infer_signature(frame[["x1", "x2"]]),
        serialization_format="skops",
        pip_requirements=REQS,
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read me\n")
    (outside / "model.skops").write_bytes((folder / "model.skops").read_bytes())
    return {
        "project": project,
        "asset": asset,
        "folder": folder,
        "outside": outside,
        "marker": tmp_path / "CODE_RAN",
        "est": est,
        "frame": frame,
    }


def _mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / "MLmodel").read_text())


def _write_mlmodel(folder: Path, doc: dict) -> None:
    (folder / "MLmodel").write_text(yaml.safe_dump(doc))


def _refused(env, error=UnsupportedFormatError, match=None, **kwargs):
    """Import env's folder, expect ``error``; check nothing stored or changed."""
    project = env["project"]
    audit, models = len(project.audit_log()), len(project.models())
    outside = raw_snapshot(env["outside"])
    with pytest.raises(error, match=match) as info:
        project.from_mlflow(
            kwargs.pop("uri", str(env["folder"])),
            data=env["asset"],
            name=kwargs.pop("name", "attacked"),
            **kwargs,
        )
    assert isinstance(info.value, MlopsNbError)
    assert len(project.audit_log()) == audit
    assert len(project.models()) == models
    assert raw_snapshot(env["outside"]) == outside
    assert not env["marker"].exists()
    return info.value


def test_clean_control_imports(env):
    model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
    np.testing.assert_allclose(
        model.predict_proba(env["frame"]),
        env["est"].predict_proba(env["frame"][["x1", "x2"]]),
        atol=1e-9,
    )
    assert set(model.lineage["source"]["files"]) >= {"MLmodel", "model.skops"}


# --- files that escape the folder (T02, T11) ---------------------------------------


def _plant_link_file(env):
    (env["folder"] / "notes.txt").symlink_to(env["outside"] / "secret.txt")


def _plant_link_model(env):
    (env["folder"] / "model.skops").unlink()
    (env["folder"] / "model.skops").symlink_to(env["outside"] / "model.skops")


def _plant_link_dir(env):
    (env["folder"] / "extra").symlink_to(env["outside"], target_is_directory=True)


def _plant_link_mlmodel(env):
    (env["outside"] / "MLmodel").write_bytes((env["folder"] / "MLmodel").read_bytes())
    (env["folder"] / "MLmodel").unlink()
    (env["folder"] / "MLmodel").symlink_to(env["outside"] / "MLmodel")


def _plant_dangling(env):
    (env["folder"] / "gone").symlink_to(env["outside"] / "not-there")


def _plant_fifo(env):
    os.mkfifo(env["folder"] / "pipe")


def _plant_path(rel):
    def plant(env):
        doc = _mlmodel(env["folder"])
        doc["flavors"]["sklearn"]["pickled_model"] = rel(env)
        _write_mlmodel(env["folder"], doc)

    return plant


PLANTS = {
    "symlinked extra file": (_plant_link_file, UnsafeFormatError, "outside itself"),
    "symlinked model file": (_plant_link_model, UnsafeFormatError, "outside itself"),
    "symlinked folder": (_plant_link_dir, UnsafeFormatError, "outside itself"),
    "symlinked MLmodel": (_plant_link_mlmodel, UnsafeFormatError, "outside itself"),
    "dangling symlink": (_plant_dangling, UnsafeFormatError, "outside itself"),
    "fifo": (_plant_fifo, UnsafeFormatError, "not a regular file"),
    "../ model path": (
        _plant_path(lambda e: "../outside/model.skops"),
        UnsupportedFormatError,
        "not in the folder",
    ),
    "absolute model path": (
        _plant_path(lambda e: str(e["outside"] / "model.skops")),
        UnsupportedFormatError,
        "not in the folder",
    ),
    "sub/../../ model path": (
        _plant_path(lambda e: "sub/../../outside/model.skops"),
        UnsupportedFormatError,
        "not in the folder",
    ),
    "model path not a string": (
        _plant_path(lambda e: ["model.skops"]),
        UnsupportedFormatError,
        "not a path",
    ),
}


@pytest.mark.parametrize("attack", list(PLANTS))
def test_files_escaping_the_folder_are_refused_unread(env, attack):
    plant, error, match = PLANTS[attack]
    plant(env)
    _refused(env, error, match)


def test_our_own_export_cannot_point_its_data_outside(env, tmp_path):
    """A folder claiming mlops_nb's loader, whose data folder is a sibling: refused,
    although the sibling holds a perfectly valid mlops_nb export."""
    project, asset = env["project"], env["asset"]
    native = project.train("native", asset, estimator="logistic")
    native.to_mlflow(tmp_path / "ours")
    (tmp_path / "ours" / "data").rename(env["outside"] / "data")
    doc = _mlmodel(tmp_path / "ours")
    doc["flavors"]["python_function"]["data"] = "../outside/data/data"
    _write_mlmodel(tmp_path / "ours", doc)
    _refused(
        env, UnsupportedFormatError, "not in the folder", uri=str(tmp_path / "ours")
    )


@pytest.mark.parametrize(
    "change",
    [
        {"flavor": "onnx"},
        {"task": "<script>"},
        {"features": {"numeric": "x1", "categorical": []}},
        {"threshold": {"value": "0.5; rm -rf"}},
        {"files": {"pipeline": {"file": ["x"], "sha256": "0"}}},
        {"files": "pipeline.skops"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_malformed_mlops_nb_metadata_is_named(env, tmp_path, change):
    project, asset = env["project"], env["asset"]
    native = project.train("native", asset, estimator="logistic")
    native.to_mlflow(tmp_path / "ours")
    meta_file = tmp_path / "ours" / "data" / "data" / "mlops_nb_model.json"
    meta = json.loads(meta_file.read_text())
    meta.update(change)
    meta_file.write_text(json.dumps(meta))
    _refused(
        env,
        UnsupportedFormatError,
        "mlops_nb_model.json|not a path",
        uri=str(tmp_path / "ours"),
    )


# --- the MLmodel file itself (T14: only documented errors escape) --------------------

TAGGED = [
    "flavors: !!python/object/apply:os.system ['touch {marker}']\n",
    "flavors: !!python/object/new:pathlib.Path ['{marker}']\n",
    "flavors: !!python/name:os.system\n",
    "base: &a {{sklearn: {{pickled_model: model.skops}}}}\nflavors: *a\n",
    "flavors: [sklearn]\n",
    "flavors: {{sklearn: model.skops}}\n",
    "- just\n- a list\n",
    "flavors: {{sklearn: {{pickled_model: model.skops}}\n",
    "\udcff: bad utf-8\n",
    "flavors: {{sklearn: {{pickled_model: model.skops}}}}\n"
    "signature: {{inputs: '[{{\"name\": 1'}}\n",
]


@pytest.mark.parametrize("text", TAGGED)
def test_a_hostile_or_malformed_mlmodel_is_named(env, text):
    raw = text.format(marker=env["marker"]).encode("utf-8", "surrogateescape")
    (env["folder"] / "MLmodel").write_bytes(raw)
    _refused(env, UnsupportedFormatError, "MLmodel")


def test_aliases_are_refused_in_the_metadata(env):
    """A "billion laughs" document is tiny as YAML and huge as JSON: any alias is
    refused, before the metadata could be written back."""
    doc = (env["folder"] / "MLmodel").read_text()
    levels = "".join(
        f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 4)
    )
    bomb = f"metadata:\n  l0: &l0 [lol]\n{levels}"
    (env["folder"] / "MLmodel").write_text(doc + bomb)
    _refused(env, UnsupportedFormatError, "alias")


def test_a_giant_mlmodel_is_refused_before_parsing(env):
    from mlops_nb.interop._import_checks import MAX_MLMODEL_BYTES

    with (env["folder"] / "MLmodel").open("a") as f:
        f.write("#" + "x" * MAX_MLMODEL_BYTES + "\n")
    _refused(env, UnsupportedFormatError, "larger than")


# --- pickles (T10, T11) ---------------------------------------------------------------


def _plant_pickle(
    env, *, fmt="cloudpickle", name="model.pkl", flavor="sklearn", compress=False
):
    import gzip
    import pickle

    raw = pickle.dumps(Canary(env["marker"]), protocol=4)
    (env["folder"] / name).write_bytes(gzip.compress(raw) if compress else raw)
    doc = _mlmodel(env["folder"])
    conf = doc["flavors"].pop("sklearn")
    conf.update(pickled_model=name, serialization_format=fmt)
    if flavor == "lightgbm":
        conf = {"data": name, "model_class": "lightgbm.basic.Booster"}
    doc["flavors"][flavor] = conf
    _write_mlmodel(env["folder"], doc)


@pytest.mark.parametrize(
    "spelling", ["true", "True", 1, 1.0, np.bool_(True), [True], "yes", None]
)
def test_trust_pickle_must_be_exactly_true(env, spelling):
    _plant_pickle(env)
    _refused(env, ValidationError, "trust_pickle", trust_pickle=spelling)


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_a_pickle_is_refused_without_trust(env, fmt):
    _plant_pickle(env, fmt=fmt)
    _refused(env, UnsafeFormatError, "trust_pickle=True", trust_pickle=False)


@pytest.mark.parametrize(
    ("fmt", "name", "compress", "flavor"),
    [
        ("skops", "model.skops", False, "sklearn"),  # the metadata lies
        ("skops", "model.skops", True, "sklearn"),  # gzip-compressed pickle
        ("Skops", "model.onnx", False, "sklearn"),
        ("joblib", "model.txt", False, "sklearn"),
        (None, "model.txt", False, "lightgbm"),  # a "Booster" that is a pickle
    ],
)
def test_the_bytes_decide_not_the_metadata(env, fmt, name, compress, flavor):
    """Even with trust_pickle=True, a file the metadata calls safe is sniffed."""
    _plant_pickle(env, fmt=fmt, name=name, flavor=flavor, compress=compress)
    _refused(env, UnsafeFormatError, "pickle", trust_pickle=True)


def test_a_trusted_pickle_outside_the_folder_is_not_loaded(env):
    """trust_pickle=True trusts the folder's own file, never one it points at."""
    import pickle

    (env["outside"] / "evil.pkl").write_bytes(pickle.dumps(Canary(env["marker"])))
    doc = _mlmodel(env["folder"])
    doc["flavors"]["sklearn"].update(
        pickled_model="../outside/evil.pkl", serialization_format="cloudpickle"
    )
    _write_mlmodel(env["folder"], doc)
    _refused(env, UnsupportedFormatError, "not in the folder", trust_pickle=True)


# --- skops types (T12) and LightGBM objects inside skops (T11, T14) ------------------


def _canary_module(env, tmp_path, monkeypatch):
    """A module whose function, if ever called or imported, leaves the marker."""
    name = f"mnb_canary_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(env['marker'])!r}).with_suffix('.imported').touch()\n"
        "def touch(X):\n"
        f"    Path({str(env['marker'])!r}).touch()\n"
        "    return X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module(name)
    env["marker"].with_suffix(".imported").unlink()
    return name, module.touch


def _plant_skops(env, obj, flavor="sklearn"):
    import skops.io as sio

    (env["folder"] / "model.skops").write_bytes(sio.dumps(obj))
    if flavor == "lightgbm":
        doc = _mlmodel(env["folder"])
        doc["flavors"]["lightgbm"] = {
            "data": "model.skops",
            "model_class": "lightgbm.sklearn.LGBMClassifier",
            "serialization_format": "skops",
        }
        del doc["flavors"]["sklearn"]
        _write_mlmodel(env["folder"], doc)


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm"])
@pytest.mark.parametrize("func", ["canary", "eval", "os.system", "numpy.load"])
def test_skops_types_outside_the_list_are_refused(
    env, tmp_path, monkeypatch, flavor, func
):
    """Also with the lightgbm flavor's wider list: a function type is never trusted;
    the canary module is not imported, its function not called."""
    import operator

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    canary_name, touch = _canary_module(env, tmp_path, monkeypatch)
    fn = {
        "canary": touch,
        "eval": eval,
        "os.system": os.system,
        "numpy.load": np.load,
        "methodcaller": operator.methodcaller("touch"),
    }[func]
    pipe = Pipeline([("f", FunctionTransformer(fn)), ("m", env["est"])])
    _plant_skops(env, pipe, flavor)
    sys.modules.pop(canary_name)
    err = _refused(env, UnsafeFormatError, "not on mlops_nb's trusted list")
    assert canary_name not in sys.modules
    assert not env["marker"].with_suffix(".imported").exists()
    assert len(err.failure_cases) >= 1  # the types, named
    assert "function" not in str(err) or str(err).count(".") > 1


def _lgbm_skops(env):
    """A real LGBMClassifier saved by mlflow.lightgbm in skops; its schema."""
    import io
    import zipfile

    import lightgbm as lgb
    import mlflow.lightgbm

    from mlops_nb.interop._mlflow_import import LIGHTGBM_TYPES

    frame = env["frame"]
    est = lgb.LGBMClassifier(n_estimators=4, verbose=-1, n_jobs=1).fit(
        frame[["x1", "x2"]], frame["y"]
    )
    folder = env["folder"].with_name("lgbm")
    mlflow.lightgbm.save_model(
        est,
        str(folder),
        signature=mlflow.models.infer_signature(frame[["x1", "x2"]]),
        serialization_format="skops",
        skops_trusted_types=list(LIGHTGBM_TYPES),
        pip_requirements=["lightgbm", "skops"],
    )
    env["folder"] = folder
    name = _mlmodel(folder)["flavors"]["lightgbm"]["data"]
    raw = (folder / name).read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    return folder / name, files, est


def _write_zip(path, files):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)


@pytest.fixture
def lgb_parses(monkeypatch):
    """Count LightGBM's native model parsers (they still run: a spy, not a mock)."""
    import lightgbm.basic as lb

    calls = []
    for fn in ("LGBM_BoosterLoadModelFromString", "LGBM_BoosterCreateFromModelfile"):
        real = getattr(lb._LIB, fn)

        def spy(*args, _real=real, _fn=fn):
            calls.append(_fn)
            return _real(*args)

        monkeypatch.setattr(lb._LIB, fn, spy)
    return calls


def test_lightgbm_skops_clean_control(env, lgb_parses):
    _, _, est = _lgbm_skops(env)
    lgb_parses.clear()
    model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
    np.testing.assert_allclose(
        model.predict_proba(env["frame"]),
        est.predict_proba(env["frame"][["x1", "x2"]]),
        atol=1e-9,
    )
    assert lgb_parses  # the control does reach LightGBM


@pytest.mark.parametrize(
    "mutation",
    [
        ("num_class=1\n", "num_class=1\nevil_key=1\n"),
        ("version=v4", "version=v9"),
    ],
    ids=["unknown-header-key", "unknown-version"],
)
def test_a_booster_text_inside_skops_is_checked_before_lightgbm_parses(
    env, lgb_parses, mutation
):
    """LightGBM accepts both texts; mlops_nb's strict reader refuses them, so
    LightGBM's C++ parser (which crashes on malformed text) never sees them."""
    path, files, _ = _lgbm_skops(env)
    schema = json.loads(files["schema.json"])
    handle = schema["content"]["content"]["_Booster"]["content"]["content"]["_handle"]
    text = json.loads(handle["content"])
    assert mutation[0] in text
    handle["content"] = json.dumps(text.replace(*mutation, 1))
    files["schema.json"] = json.dumps(schema).encode()
    _write_zip(path, files)
    lgb_parses.clear()
    _refused(env, UnsafeFormatError, "not a well-formed LightGBM text model")
    assert lgb_parses == []


@pytest.mark.parametrize("target", ["outside", "absolute"])
def test_a_booster_rebuilt_by_constructor_cannot_open_files(env, lgb_parses, target):
    """A skops node calling Booster(params, train_set, model_file) would make
    LightGBM read any path; mlops_nb lets LightGBM types in only as plain objects."""
    from skops.io._protocol import PROTOCOL

    path, files, est = _lgbm_skops(env)
    secret = env["outside"] / "model.txt"
    secret.write_text(est.booster_.model_to_string())
    where = str(secret) if target == "absolute" else "../outside/model.txt"

    def js(v):
        return {
            "__class__": type(v).__name__,
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(v),
            "is_json": True,
        }

    schema = json.loads(files["schema.json"])
    empty = {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [],
        },
    }
    schema["content"]["content"]["_Booster"] = {
        "__class__": "Booster",
        "__module__": "lightgbm.basic",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [empty, js(None), js(where)],
        },
    }
    schema["protocol"] = PROTOCOL
    files["schema.json"] = json.dumps(schema).encode()
    _write_zip(path, files)
    lgb_parses.clear()
    _refused(env, UnsafeFormatError, "ConstructorFromReduceNode")
    assert lgb_parses == []


# --- ONNX flavor (T13) ----------------------------------------------------------------


def _onnx_bytes(weight=None, *, domain: str = "") -> bytes:
    """y = [x1, x2] @ W: one [N, 1] float input per column, one output."""
    from onnx import TensorProto, helper, numpy_helper

    if weight is None:
        weight = numpy_helper.from_array(
            np.array([[1.0], [0.5]], dtype=np.float32), "W"
        )
    ins = [
        helper.make_tensor_value_info(c, TensorProto.FLOAT, [None, 1])
        for c in ("x1", "x2")
    ]
    out = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    nodes = [
        helper.make_node("Concat", ["x1", "x2"], ["x"], axis=1),
        helper.make_node("MatMul", ["x", "W"], ["variable"], domain=domain),
    ]
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    graph = helper.make_graph(nodes, "g", ins, [out], initializer=[weight])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def _plant_onnx(env, raw: bytes) -> None:
    import onnx

    folder = env["folder"].with_name("onnx-model")
    folder.mkdir()
    (folder / "model.onnx").write_bytes(raw)
    model = mlflow.models.Model()
    model.add_flavor("onnx", data="model.onnx", onnx_version=onnx.__version__)
    model.save(str(folder / "MLmodel"))
    env["folder"] = folder


@pytest.fixture
def ort_sessions(monkeypatch):
    """Count onnxruntime sessions opened (the real class still runs)."""
    import onnxruntime as ort

    opened = []
    real = ort.InferenceSession

    def spy(*args, **kwargs):
        opened.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    return opened


def test_onnx_clean_control(env, ort_sessions):
    _plant_onnx(env, _onnx_bytes())
    model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
    frame = env["frame"]
    np.testing.assert_allclose(
        model.predict(frame), frame["x1"] + 0.5 * frame["x2"], atol=1e-5
    )
    assert ort_sessions


@pytest.mark.parametrize(
    "where",
    [
        "../outside/secret.txt",
        "{outside}/secret.txt",
        "sub/../../outside/secret.txt",
        "secret.txt",
    ],
)
def test_onnx_external_data_is_refused_before_the_runtime(env, ort_sessions, where):
    """Any external-data tensor, wherever it points (even inside), is refused before
    onnxruntime could read a file."""
    from onnx import TensorProto

    weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 1])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (
        ("location", where.format(outside=env["outside"])),
        ("offset", "0"),
        ("length", "8"),
    ):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    _plant_onnx(env, _onnx_bytes(weight))
    (env["folder"] / "secret.txt").write_bytes(bytes(8))  # even a file inside
    _refused(env, UnsafeFormatError, "external data")
    assert ort_sessions == []


@pytest.mark.parametrize("domain", ["evil.custom", "com.example.ops", "ai.onnx.evil"])
def test_onnx_custom_op_domains_are_refused(env, ort_sessions, domain):
    _plant_onnx(env, _onnx_bytes(domain=domain))
    _refused(env, UnsafeFormatError, "domain")
    assert ort_sessions == []


def test_an_enormous_declared_shape_is_an_error_not_an_allocation(env):
    from onnx import TensorProto

    weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 2**40])
    weight.raw_data = b"\0" * 8
    _plant_onnx(env, _onnx_bytes(weight))
    _refused(env, UnsupportedFormatError, "ONNX")


@pytest.mark.parametrize("head", [b"\x80\x04", b"\x1f\x8b"])
def test_a_pickle_named_model_onnx_is_refused(env, head):
    import gzip
    import pickle

    raw = pickle.dumps(Canary(env["marker"]), protocol=4)
    _plant_onnx(env, gzip.compress(raw) if head == b"\x1f\x8b" else raw)
    _refused(env, UnsafeFormatError, "pickle", trust_pickle=True)


# --- names from the model reach HTML escaped (README: "names escaped") -------------

HOSTILE = ["<script>alert('x')</script>", "../../etc/passwd", '"><img src=x onerror=1>']


def test_hostile_column_names_are_escaped_in_html(project, tmp_path):
    import pandas as pd

    frame = make_frame("binary", 9)
    X = pd.DataFrame({HOSTILE[0]: frame["x1"], HOSTILE[1]: frame["x2"]})
    X[HOSTILE[2]] = frame["x1"] * 0.3
    data = X.assign(y=frame["y"], group=frame["group"])
    asset = project.data("hostile", data, target="y", sensitive="group")
    est = LogisticRegression(max_iter=300).fit(X, frame["y"])
    mlflow.sklearn.save_model(
        est,
        str(tmp_path / "m"),
        signature=mlflow.models.infer_signature(X),
        serialization_format="skops",
        pip_requirements=REQS,
    )
    model = project.from_mlflow(str(tmp_path / "m"), data=asset, name="hostile-names")
    assert model.recipe["features"]["numeric"] == list(X.columns)
    pages = [model.to_html(), model.card().to_html(), model.evaluate(asset).to_html()]
    for page in pages:
        assert "<script>alert(" not in page
        assert "<img src=x" not in page
    assert any("&lt;script&gt;alert(" in page for page in pages)
    assert not (tmp_path / "etc").exists()


# --- the export path: model.to_mlflow and the shipped loader -------------------------


@pytest.fixture
def native(env):
    return env["project"].train("native", env["asset"], estimator="logistic")


@pytest.mark.parametrize("kind", ["link-to-empty-dir", "dangling-link", "link-to-file"])
def test_to_mlflow_refuses_a_symlinked_target(env, native, tmp_path, kind):
    outside = env["outside"]
    (outside / "empty").mkdir()
    link = tmp_path / "target"
    link.symlink_to(
        {
            "link-to-empty-dir": outside / "empty",
            "dangling-link": outside / "new",
            "link-to-file": outside / "secret.txt",
        }[kind]
    )
    before = raw_snapshot(outside)
    audit = len(env["project"].audit_log())
    with pytest.raises(ValidationError, match="symbolic link"):
        native.to_mlflow(link)
    assert raw_snapshot(outside) == before
    assert len(env["project"].audit_log()) == audit


def test_to_mlflow_writes_only_inside_the_target(env, native, tmp_path):
    """Control: an export into a new folder touches nothing next to it."""
    before = raw_snapshot(env["outside"])
    native.to_mlflow(tmp_path / "exports" / "v1")
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["v1"]
    assert raw_snapshot(env["outside"]) == before
    assert not [p for p in (tmp_path / "exports" / "v1").rglob("*") if p.is_symlink()]


@pytest.mark.parametrize(
    "name", ["../../outside/secret.txt", "{outside}/secret.txt", "sub/pipeline.skops"]
)
def test_the_shipped_loader_reads_only_its_own_files(env, native, tmp_path, name):
    import hashlib

    import mlflow.pyfunc

    native.to_mlflow(tmp_path / "mlf")
    meta_file = tmp_path / "mlf" / "data" / "data" / "mlops_nb_model.json"
    meta = json.loads(meta_file.read_text())
    name = name.format(outside=env["outside"])
    secret = (env["outside"] / "secret.txt").read_bytes()
    meta["files"]["pipeline"].update(
        file=name, sha256=hashlib.sha256(secret).hexdigest()
    )
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="must be a plain name"):
        mlflow.pyfunc.load_model(str(tmp_path / "mlf"))
    # and mlops_nb's importer refuses the same folder, naming the file
    env["folder"] = tmp_path / "mlf"
    _refused(env, UnsupportedFormatError, "not in the folder|not a skops|plain name")


# --- scikit-learn trees whose node arrays point out of bounds ------------------------


def _mutate(nodes, kind, n_features):
    inner = np.flatnonzero(
        nodes["left_child" if "left_child" in nodes.dtype.names else "left"] > 0
    )
    i = int(inner[-1])
    left = "left_child" if "left_child" in nodes.dtype.names else "left"
    feature = "feature" if "feature" in nodes.dtype.names else "feature_idx"
    if kind == "feature past inputs":
        nodes[feature][i] = n_features + 5
    elif kind == "child past the tree":
        nodes[left][i] = len(nodes) + 1000
    elif kind == "child loops to root":
        nodes[left][i] = 0
    elif kind == "two parents":
        nodes[left][i] = nodes[left][int(inner[0])]


TREE_ATTACKS = [
    "feature past inputs",
    "child past the tree",
    "child loops to root",
    "two parents",
]


@pytest.mark.parametrize("kind", TREE_ATTACKS)
@pytest.mark.parametrize("family", ["forest", "hist"])
def test_crafted_tree_nodes_are_refused_before_predicting(env, family, kind):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    frame = env["frame"]
    X = frame[["x1", "x2"]]
    if family == "forest":
        est = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0)
        est.fit(X, frame["y"])
        tree = est.estimators_[1].tree_
        state = tree.__getstate__()
        nodes = state["nodes"].copy()
        _mutate(nodes, kind, 2)
        state["nodes"] = nodes
        tree.__setstate__(state)
    else:
        est = HistGradientBoostingClassifier(max_iter=3, max_depth=3, random_state=0)
        est.fit(X, frame["y"])
        _mutate(est._predictors[1][0].nodes, kind, 2)
    _plant_skops(env, est)
    _refused(env, UnsafeFormatError, "out of bounds")


@pytest.mark.parametrize("family", ["forest", "hist"])
def test_clean_trees_import(env, family):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    frame = env["frame"]
    X = frame[["x1", "x2"]]
    est = (
        RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0)
        if family == "forest"
        else HistGradientBoostingClassifier(max_iter=3, max_depth=3, random_state=0)
    ).fit(X, frame["y"])
    _plant_skops(env, est)
    model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
    np.testing.assert_allclose(
        model.predict_proba(frame), est.predict_proba(X), atol=1e-9
    )


@pytest.mark.parametrize("what", ["tree", "booster"])
def test_our_own_format_gets_no_free_pass(env, tmp_path, what):
    """A folder claiming to be mlops_nb's, with self-consistent hashes, is checked
    like any import: crafted trees and non-strict LightGBM text are refused."""
    import hashlib

    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    project, asset, frame = env["project"], env["asset"], env["frame"]
    estimator = "lightgbm" if what == "booster" else "logistic"
    params = {"n_estimators": 4} if what == "booster" else None
    native = project.train("native", asset, estimator=estimator, params=params)
    native.to_mlflow(tmp_path / "ours")
    data = tmp_path / "ours" / "data" / "data"
    meta = json.loads((data / "mlops_nb_model.json").read_text())
    if what == "tree":
        X = frame[["x1", "x2"]]
        forest = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0)
        forest.fit(X, frame["y"])
        state = forest.estimators_[0].tree_.__getstate__()
        state["nodes"] = state["nodes"].copy()
        _mutate(state["nodes"], "feature past inputs", 2)
        forest.estimators_[0].tree_.__setstate__(state)
        order = ColumnTransformer([("c", "passthrough", ["x1", "x2"])])
        pipe = Pipeline([("order", order.fit(X)), ("model", forest)])
        raw = sio.dumps(pipe)
        key, match = "pipeline", "out of bounds"
    else:
        raw = (
            (data / "booster.txt")
            .read_bytes()
            .replace(b"num_class=1\n", b"num_class=1\nevil_key=1\n", 1)
        )
        key, match = "booster", "not a well-formed LightGBM"
    (data / meta["files"][key]["file"]).write_bytes(raw)
    meta["files"][key]["sha256"] = hashlib.sha256(raw).hexdigest()
    (data / "mlops_nb_model.json").write_text(json.dumps(meta))
    _refused(env, UnsafeFormatError, match, uri=str(tmp_path / "ours"))


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"mlops_nb": {"model": {"name": "../../outside/x"}}}, "RegistryNameError"),
        ({"mlops_nb": {"model": {"name": "a/b"}}}, "RegistryNameError"),
        ({"mlops_nb": [1, 2]}, None),
        ({"mlops_nb": {"model": "x"}}, None),
        ({"mlops_nb": {"model": {"name": {"x": 1}}}}, None),
    ],
)
def test_metadata_cannot_choose_a_bad_name(env, metadata, error):
    """A name from the MLmodel metadata is validated before anything is loaded;
    metadata of the wrong shape is ignored (the default name is used)."""
    from mlops_nb.errors import RegistryNameError

    doc = _mlmodel(env["folder"])
    doc["metadata"] = metadata
    _write_mlmodel(env["folder"], doc)
    if error:
        _refused(env, RegistryNameError, "name", name=None)
        return
    model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
    assert model.name == "mlflow-import"


def test_code_shipped_in_the_folder_is_never_imported(env, native, tmp_path):
    """An mlops_nb export's code/mlops_nb_pyfunc.py is MLflow's business: the
    importer reads the files, it never imports the folder's code."""
    folder = tmp_path / "ours"
    native.to_mlflow(folder)
    (folder / "code" / "mlops_nb_pyfunc.py").write_text(
        f"from pathlib import Path\nPath({str(env['marker'])!r}).touch()\n"
    )
    before = set(sys.modules)
    model = env["project"].from_mlflow(str(folder), data=env["asset"], name="back")
    assert model.artifacts == native.artifacts
    assert not env["marker"].exists()
    assert "mlops_nb_pyfunc" not in set(sys.modules) - before


# --- fuzz: any MLmodel flavor table gives a result or a documented error (T14) ------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        [
            "model.skops",
            "../model.skops",
            "/etc/hostname",
            "",
            "MLmodel",
            ".",
            "skops",
            "pickle",
            "cloudpickle",
            "lightgbm.basic.Booster",
            "lightgbm.sklearn.LGBMClassifier",
            "mlops_nb_pyfunc",
            "data",
        ]
    ),
    st.lists(st.text(max_size=3), max_size=2),
)
_KEYS = st.sampled_from(
    [
        "pickled_model",
        "data",
        "serialization_format",
        "model_class",
        "loader_module",
        "code",
        "env",
    ]
)
_FLAVORS = st.dictionaries(
    st.sampled_from(["sklearn", "lightgbm", "onnx", "python_function", "pytorch"]),
    st.dictionaries(_KEYS, _VALUES, max_size=4),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(flavors=_FLAVORS, trust=st.booleans())
def test_fuzzed_flavor_tables_raise_only_documented_errors(env, flavors, trust):
    doc = _mlmodel(env["folder"])
    doc["flavors"] = flavors
    _write_mlmodel(env["folder"], doc)
    project = env["project"]
    with contextlib.suppress(MlopsNbError):
        project.from_mlflow(
            str(env["folder"]), data=env["asset"], name="fuzz", trust_pickle=trust
        )
    assert not env["marker"].exists()


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_a_trusted_pickle_flavor_whose_file_is_no_pickle_is_named(env, fmt):
    """trust_pickle=True hands MLflow's loader only what really is a pickle."""
    doc = _mlmodel(env["folder"])
    doc["flavors"]["sklearn"]["serialization_format"] = fmt
    _write_mlmodel(env["folder"], doc)
    _refused(env, UnsupportedFormatError, "no pickle", trust_pickle=True)


def test_onnx_class_labels_that_are_not_text_are_named(env, ort_sessions):
    import onnx
    from onnx import helper

    proto = onnx.load_from_string(_onnx_bytes())
    proto.graph.node[1].attribute.append(
        helper.make_attribute("classlabels_strings", [b"\xff\xfe"])
    )
    _plant_onnx(env, proto.SerializeToString())
    _refused(env, UnsupportedFormatError, "class label")
    assert ort_sessions == []


# --- the trusted-type list stays mlops_nb's (T12 c) ---------------------------------


@pytest.mark.parametrize(
    "extra", [("builtins.eval",), ("os.system",), ("numpy.load",), ("sklearn.x", "y")]
)
def test_load_skops_adds_only_lightgbm_types_to_the_list(env, extra):
    from mlops_nb.model._persist import load_skops

    raw = (env["folder"] / "model.skops").read_bytes()
    with pytest.raises(UnsafeFormatError, match="may not be trusted"):
        load_skops(raw, artifact="x", also_trust=extra)
    assert load_skops(raw, artifact="x").coef_.shape == env["est"].coef_.shape


def test_no_code_passes_a_computed_list_to_skops():
    """Every ``trusted=`` handed to skops is one of mlops_nb's own constant lists."""
    import re

    import mlops_nb

    root = Path(mlops_nb.__file__).parent
    calls = {
        (
            p.relative_to(root).as_posix(),
            line.strip().removeprefix("return ").split(" = ", 1)[-1],
        )
        for p in root.rglob("*.py")
        for line in p.read_text().splitlines()
        if re.search(r"\bsio\.loads?\(|\btrusted=", line)
    }
    assert calls == {
        ("model/_persist.py", "sio.loads(data, trusted=trusted)"),
        (
            "interop/_mlflow_pyfunc_loader.py",
            "sio.loads(data, trusted=list(TRUSTED_TYPES))",
        ),
    }
    # and _persist's ``trusted`` is its constant list plus the checked import types
    persist = (root / "model" / "_persist.py").read_text()
    assert "trusted = [*TRUSTED_TYPES, *also_trust]" in persist
    assert "set(also_trust) - set(IMPORT_TRUSTABLE)" in persist


def test_a_huge_file_in_the_folder_is_hashed_in_chunks(env):
    """A 256 MiB (sparse) file next to the model is hashed, not held in memory."""
    import hashlib
    import tracemalloc

    size = 256 * 1024 * 1024
    with (env["folder"] / "huge.bin").open("wb") as f:
        f.truncate(size)
    tracemalloc.start()
    try:
        model = env["project"].from_mlflow(str(env["folder"]), data=env["asset"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 4
    zeros = hashlib.sha256()
    for _ in range(256):
        zeros.update(bytes(1024 * 1024))
    assert model.lineage["source"]["files"]["huge.bin"] == zeros.hexdigest()


def _skops_zip(schema_text: str) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", schema_text)
    return buf.getvalue()


@pytest.mark.parametrize(
    "schema",
    [
        # a Booster whose state is a list, not a dict
        '{"__loader__": "ObjectNode", "__module__": "lightgbm.basic",'
        ' "__class__": "Booster", "content": [1, 2]}',
        # nesting deep enough to exhaust the JSON parser's recursion
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["list-state", "deep"],
)
def test_malformed_skops_schemas_are_named_not_crashes(schema):
    from mlops_nb.errors import MlopsNbError
    from mlops_nb.interop._import_checks import check_lightgbm_skops

    with pytest.raises(MlopsNbError):
        check_lightgbm_skops(_skops_zip(schema), artifact="model.skops")


def _after_hashing(monkeypatch, change):
    """Run ``change()`` right after from_mlflow hashed the folder (the real hashing
    runs; the change plays a writer racing the import)."""
    from mlops_nb.interop import _import_checks

    real = _import_checks.folder_hashes

    def hash_then_change(folder, uri):
        out = real(folder, uri)
        change()
        return out

    monkeypatch.setattr(_import_checks, "folder_hashes", hash_then_change)


def test_a_file_changed_after_hashing_is_refused_not_used(env, monkeypatch):
    """The folder is read in place: a model file replaced between hashing and reading
    (another valid model) must not be imported under the first file's hash."""
    other = LogisticRegression(max_iter=300).fit(
        env["frame"][["x1", "x2"]], 1 - env["frame"]["y"]
    )
    swap = env["folder"].parent / "swap"
    mlflow.sklearn.save_model(
        other, str(swap), serialization_format="skops", pip_requirements=REQS
    )
    target = env["folder"] / "model.skops"
    _after_hashing(
        monkeypatch, lambda: target.write_bytes((swap / "model.skops").read_bytes())
    )
    err = _refused(env, error=IntegrityError)
    assert "model.skops" in str(err)
    assert "changed while it was being imported" in str(err)


def test_a_file_swapped_for_a_fifo_after_hashing_does_not_hang(env, monkeypatch):
    target = env["folder"] / "model.skops"

    def to_fifo():
        target.unlink()
        os.mkfifo(target)

    _after_hashing(monkeypatch, to_fifo)
    err = _refused(env, error=UnsafeFormatError)
    assert "model.skops" in str(err)


def test_mlmodel_changed_after_hashing_is_refused(env, monkeypatch):
    doc = _mlmodel(env["folder"])
    doc["metadata"] = {"note": "written after the folder was hashed"}
    _after_hashing(monkeypatch, lambda: _write_mlmodel(env["folder"], doc))
    err = _refused(env, error=IntegrityError)
    assert "MLmodel" in str(err)


def _pickled_folder(env) -> Path:
    """env's estimator saved by MLflow as a real cloudpickle file."""
    folder = env["folder"].parent / "pickled"
    mlflow.sklearn.save_model(
        env["est"],
        str(folder),
        serialization_format="cloudpickle",
        pip_requirements=REQS,
    )
    return folder


def test_a_trusted_pickle_swapped_after_hashing_never_runs(env, monkeypatch):
    """trust_pickle=True trusts the file that was hashed: MLflow's own loader reads a
    private copy of the checked bytes, so a pickle swapped in afterwards never runs."""
    import pickle

    folder = _pickled_folder(env)
    from mlops_nb.interop import _import_checks

    name = _mlmodel(folder)["flavors"]["sklearn"]["pickled_model"]
    evil = pickle.dumps(Canary(env["marker"]), protocol=4)
    real = _import_checks.read_hashed
    reads = []

    def read_then_swap(path, uri, limit=None):  # the real read, then a writer races
        data = real(path, uri, limit)
        if path.name == name and not reads:
            reads.append(path)
            (folder / name).write_bytes(evil)
        return data

    monkeypatch.setattr(_import_checks, "read_hashed", read_then_swap)
    err = _refused(env, IntegrityError, uri=str(folder), trust_pickle=True)
    assert reads  # the pickle was read (sniffed) before the swap
    assert name in str(err)


def test_a_trusted_pickle_loads_from_the_checked_copy(env, monkeypatch):
    """The control: the same folder, unchanged, imports with trust_pickle=True."""
    folder = _pickled_folder(env)
    model = env["project"].from_mlflow(
        str(folder), data=env["asset"], trust_pickle=True
    )
    np.testing.assert_allclose(
        model.predict_proba(env["frame"]),
        env["est"].predict_proba(env["frame"][["x1", "x2"]]),
        atol=1e-9,
    )
    assert model.lineage["source"]["trusted_pickle"] is True
