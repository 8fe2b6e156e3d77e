"""SECURITY-TESTS T13 (ONNX external data and domains), with T10/T14 for ONNX files."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import mlops_nb
from mlops_nb.deploy import check_onnx
from mlops_nb.deploy._runtime import make_session
from mlops_nb.errors import IntegrityError, UnsafeFormatError, UnsupportedFormatError

MLOPS_NB_SRC = Path(mlops_nb.__file__).resolve().parent


def _model(
    domain: str = "", external: str | None = None, in_attribute: bool = False
) -> bytes:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [1], [2.0])
    if external is not None:
        weights.ClearField("float_data")
        weights.data_location = TensorProto.EXTERNAL
        entry = weights.external_data.add()
        entry.key, entry.value = "location", external
    nodes = [helper.make_node("Mul", ["x", "w"], ["y"], domain=domain)]
    inits = [] if in_attribute else [weights]
    if in_attribute:
        nodes.insert(0, helper.make_node("Constant", [], ["w"], value=weights))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 17)] + (
        [helper.make_opsetid(domain, 1)] if domain else []
    )
    return helper.make_model(
        graph, opset_imports=opsets, ir_version=8
    ).SerializeToString()


@pytest.fixture
def spy_runtime(monkeypatch):
    import onnxruntime

    calls = []
    original = onnxruntime.InferenceSession

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    return calls


def test_a_clean_model_loads(spy_runtime):
    session = make_session(_model(), what="clean")
    assert session.run(None, {"x": np.array([3.0], dtype=np.float32)})[0].tolist() == [
        6.0
    ]
    assert len(spy_runtime) == 1


@pytest.mark.parametrize(
    "location", ["../../x", "/etc/hostname", "sub/../../x", "weights.bin", ""]
)
@pytest.mark.parametrize("in_attribute", [False, True])
def test_external_data_is_refused_before_the_runtime(
    tmp_path, spy_runtime, location, in_attribute
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"\x00" * 4)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").symlink_to(
        outside / "secret.bin"
    )  # a link pointing outside
    data = _model(external=location, in_attribute=in_attribute)
    (model_dir / "model.onnx").write_bytes(data)
    before = {p: p.stat().st_atime_ns for p in outside.iterdir()}
    with pytest.raises(UnsafeFormatError, match="external data") as err:
        make_session((model_dir / "model.onnx").read_bytes(), what="hostile")
    assert "refused before loading" in str(err.value)
    assert not err.value.failure_cases.empty
    assert spy_runtime == []  # onnxruntime never saw the bytes
    assert {p: p.stat().st_atime_ns for p in outside.iterdir()} == before
    assert sorted(p.name for p in outside.iterdir()) == ["secret.bin"]


def test_non_standard_domain_is_refused_unless_allowlisted(spy_runtime):
    data = _model(domain="com.evil.ops")
    with pytest.raises(UnsafeFormatError, match=r"'com.evil.ops'.*not allowed"):
        make_session(data, what="custom op")
    assert spy_runtime == []
    proto = check_onnx(
        data, what="allowlisted", allowed_domains=frozenset({"", "com.evil.ops"})
    )
    assert proto.graph.node[0].domain == "com.evil.ops"


def test_no_code_path_registers_custom_op_libraries():
    hits = []
    for path in MLOPS_NB_SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in (
            "register_custom_ops_library",
            "load_custom_op",
            "custom_op_library",
        ):
            if needle in text:
                hits.append(f"{path.relative_to(MLOPS_NB_SRC)}: {needle}")
    assert hits == []


def test_pickle_renamed_to_onnx_is_refused(tmp_path, spy_runtime):
    canary = tmp_path / "canary"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (canary,))

    for protocol in (2, 3, 4, 5):
        with pytest.raises(UnsafeFormatError, match="pickle"):
            make_session(pickle.dumps(Payload(), protocol=protocol), what="model.onnx")
    assert not canary.exists()
    assert spy_runtime == []
    with pytest.raises(UnsupportedFormatError, match="not an ONNX model"):
        make_session(b"PK\x03\x04 not onnx at all", what="junk")


def test_stored_onnx_is_verified_before_the_runtime(dep, lgbm_export, spy_runtime):
    store = dep.project._store
    path = store.artifacts.path_for(lgbm_export.digest)
    original, mode = path.read_bytes(), path.stat().st_mode
    path.chmod(0o644)
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(IntegrityError, match=lgbm_export.digest[:12]):
            lgbm_export.session()
        assert spy_runtime == []
    finally:
        path.write_bytes(original)
        path.chmod(mode)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == lgbm_export.digest


def test_bundle_of_hostile_bytes_writes_nothing(dep, tmp_path):
    from mlops_nb.deploy._bundle import write_bundle

    target = tmp_path / "edge" / "bundle"
    with pytest.raises(UnsafeFormatError):
        write_bundle(
            dep.lgbm, _model(external="../../x"), {"model": {}}, target, variant={}
        )
    assert not (tmp_path / "edge").exists()


def test_onnx_proto_parse_is_the_only_thing_done_before_checks():
    # check_onnx parses from bytes only: a model loaded from bytes has no base folder
    proto = check_onnx(_model(), what="m")
    assert isinstance(proto, onnx.ModelProto)
