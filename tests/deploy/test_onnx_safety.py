"""SECURITY-TESTS T13 (ONNX external data and domains), with T10/T14 for ONNX files."""

from __future__ import annotations

import hashlib
import os
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


# -- issue 14 item 8: external data hidden in model-local functions -------------------
FN_DOMAIN = "com.microsoft"  # an allowed domain: only the external data may refuse it


def _secret_tensor(name: str = "leak") -> TensorProto:
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[2])
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "secret.bin"), ("offset", "0"), ("length", "8")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def _branch(name: str, leak: bool, how: str = "constant") -> onnx.GraphProto:
    out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [2])
    plain = helper.make_tensor(f"{name}_w", TensorProto.FLOAT, [2], [0.0, 0.0])
    tensor = _secret_tensor(f"{name}_w") if leak else plain
    if how == "initializer":
        node = helper.make_node("Identity", [f"{name}_w"], [f"{name}_out"])
        return helper.make_graph([node], name, [], [out], initializer=[tensor])
    node = helper.make_node("Constant", [], [f"{name}_out"], value=tensor)
    return helper.make_graph([node], name, [], [out])


def _if(out: str, then_g: onnx.GraphProto, else_g: onnx.GraphProto) -> onnx.NodeProto:
    return helper.make_node(
        "If", ["cond"], [out], name=f"if_{out}", then_branch=then_g, else_branch=else_g
    )


def _nested_if(depth: int) -> onnx.GraphProto:
    """A then-branch holding an If ``depth`` levels deep, the leak at the bottom."""
    graph = _branch("leaf", leak=True)
    for level in range(depth):
        out = helper.make_tensor_value_info(f"n{level}", TensorProto.FLOAT, [2])
        node = _if(f"n{level}", graph, _branch(f"e{level}", leak=False))
        graph = helper.make_graph([node], f"level{level}", [], [out])
    return graph


def _function_model(placement: str) -> bytes:
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(FN_DOMAIN, 1)]
    functions = []
    if placement == "then_constant":  # the attack of the issue
        body = [_if("out", _branch("t", True), _branch("e", False))]
    elif placement == "else_initializer":
        body = [_if("out", _branch("t", False), _branch("e", True, "initializer"))]
    elif placement == "nested_if":
        body = [_if("out", _nested_if(3), _branch("e", False))]
    elif placement == "function_calls_function":
        inner = helper.make_function(
            FN_DOMAIN,
            "Inner",
            ["cond"],
            ["out"],
            [_if("out", _branch("t", True), _branch("e", False))],
            opset_imports=opsets,
        )
        functions.append(inner)
        body = [helper.make_node("Inner", ["cond"], ["out"], domain=FN_DOMAIN)]
    else:  # a function's default attribute value
        assert placement == "default_attribute"
        body = [helper.make_node("Constant", [], ["out"], value_float=1.0)]
    fn = helper.make_function(
        FN_DOMAIN, "Pick", ["cond"], ["out"], body, opset_imports=opsets
    )
    if placement == "default_attribute":
        fn.attribute_proto.append(helper.make_attribute("value", _secret_tensor()))
    functions.append(fn)
    graph = helper.make_graph(
        [helper.make_node("Pick", ["cond"], ["y"], domain=FN_DOMAIN)],
        "main",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=opsets, functions=functions)
    model.ir_version = 9
    return model.SerializeToString()


@pytest.fixture
def secret_in_cwd(tmp_path, monkeypatch):
    """``secret.bin`` in the working directory, with its atime set before its mtime.

    With ``relatime`` (and ``strictatime``) a read then moves the atime, so an
    unchanged atime means nothing read the file.
    """
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.array([4.5, 6.5], dtype=np.float32).tobytes())
    os.utime(secret, ns=(10**9, secret.stat().st_mtime_ns))
    return secret


def test_control_onnxruntime_reads_external_data_inside_a_function(secret_in_cwd):
    """Without check_onnx, onnxruntime reads secret.bin (the attack is real)."""
    import onnxruntime

    before = secret_in_cwd.stat().st_atime_ns
    session = onnxruntime.InferenceSession(
        _function_model("then_constant"), providers=["CPUExecutionProvider"]
    )
    leaked = session.run(None, {"cond": np.array(True)})[0]
    assert leaked.tolist() == [4.5, 6.5]
    assert secret_in_cwd.stat().st_atime_ns != before  # the detector sees reads


@pytest.mark.parametrize(
    "placement",
    [
        "then_constant",
        "else_initializer",
        "nested_if",
        "function_calls_function",
        "default_attribute",
    ],
)
def test_external_data_inside_functions_is_refused(
    secret_in_cwd, spy_runtime, placement
):
    data = _function_model(placement)
    before = secret_in_cwd.stat().st_atime_ns
    with pytest.raises(UnsafeFormatError, match="external data") as err:
        make_session(data, what="hostile function")
    message = str(err.value)
    assert "'secret.bin'" in message
    assert f"function {FN_DOMAIN}:" in message  # says where it hides
    assert spy_runtime == []
    assert secret_in_cwd.stat().st_atime_ns == before
