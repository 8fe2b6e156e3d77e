"""Running ONNX models safely: checks before the runtime, sessions, feeds.

Every ONNX model mlops_nb runs goes through :func:`check_onnx` before onnxruntime
sees its bytes (SECURITY-TESTS T13):

- pickle-family bytes are refused by their magic bytes;
- tensors that point at *external data* files are refused: a model that says "my
  weights are in ``../../etc/x``" would make the runtime read files outside the model;
  mlops_nb's own exports keep every weight inside the model bytes;
- operators from domains outside :data:`ALLOWED_DOMAINS` are refused (custom-op
  libraries run native code; mlops_nb never registers one).

Sessions are built from bytes, never from a path, so the runtime has no base folder
to resolve anything against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import UnsafeFormatError, UnsupportedFormatError, listing

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd

#: Operator domains onnxruntime implements itself: ONNX, ONNX-ML, and Microsoft's
#: built-in contrib operators (used by quantized graphs). Anything else is refused.
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})

#: ``graph_optimization_level`` names and onnxruntime's enum member names.
LEVELS = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def _graphs(graph: Any) -> Iterator[Any]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for g in attr.graphs:
                yield from _graphs(g)


def _tensors(proto: Any) -> Iterator[tuple[str, Any]]:
    """Every tensor of a model: initializers and attribute tensors, in all subgraphs."""
    graphs = list(_graphs(proto.graph))
    nodes = [n for g in graphs for n in g.node] + [
        n for f in proto.functions for n in f.node
    ]
    for g in graphs:
        for t in g.initializer:
            yield t.name or "(unnamed initializer)", t
        for s in g.sparse_initializer:
            yield s.values.name or "(sparse initializer)", s.values
            yield s.indices.name or "(sparse indices)", s.indices
    for node in nodes:
        for attr in node.attribute:
            where = f"attribute {attr.name!r} of node {node.name or node.op_type!r}"
            if attr.HasField("t"):
                yield where, attr.t
            for t in attr.tensors:
                yield where, t
            if attr.HasField("sparse_tensor"):
                yield where, attr.sparse_tensor.values
            for s in attr.sparse_tensors:
                yield where, s.values


def check_onnx(
    data: bytes, *, what: str, allowed_domains: frozenset[str] = ALLOWED_DOMAINS
) -> Any:
    """Parse ONNX bytes and refuse what the runtime should never see.

    Parameters
    ----------
    data : bytes
        The model, already verified against its SHA-256 by the caller.
    what : str
        Names the model in error messages.
    allowed_domains : frozenset of str
        Operator domains accepted (default :data:`ALLOWED_DOMAINS`).

    Returns
    -------
    onnx.ModelProto
        The parsed model.

    Raises
    ------
    UnsafeFormatError
        For pickle bytes, external-data tensors (any location) and operators from
        domains that are not allowed; the message lists every problem.
    UnsupportedFormatError
        When the bytes are not an ONNX model.
    """
    import onnx

    data = bytes(data)
    if data[:2] in _PICKLE_MAGIC or data[:2] == b"\x1f\x8b":
        msg = (
            f"{what}: these bytes are a pickle (or compressed) file, not ONNX; refused."
        )
        raise UnsafeFormatError(msg)
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as err:  # protobuf's DecodeError and friends
        msg = f"{what}: not an ONNX model ({err})."
        raise UnsupportedFormatError(msg) from err
    if not proto.graph.node or proto.ir_version <= 0:
        msg = f"{what}: not an ONNX model (no graph)."
        raise UnsupportedFormatError(msg)
    problems: list[dict[str, str]] = []
    for where, tensor in _tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(
            tensor.external_data
        ):
            location = next(
                (e.value for e in tensor.external_data if e.key == "location"), "?"
            )
            problems.append(
                {"item": where, "problem": f"external data at {location!r}"}
            )
    domains = {o.domain for o in proto.opset_import}
    domains |= {n.domain for g in _graphs(proto.graph) for n in g.node}
    domains |= {f.domain for f in proto.functions} | {
        n.domain for f in proto.functions for n in f.node
    }
    for domain in sorted(domains - allowed_domains):
        problems.append(
            {"item": f"domain {domain!r}", "problem": "operator domain not allowed"}
        )
    if problems:
        lines = "; ".join(f"{p['item']}: {p['problem']}" for p in problems[:10])
        msg = (
            f"{what}: refused before loading: {lines}. mlops_nb runs only "
            "self-contained "
            f"models with operators from {listing(sorted(allowed_domains))}."
        )
        raise UnsafeFormatError(msg, problems)
    return proto


def make_session(
    data: bytes, *, what: str, level: str = "all", threads: int = 1
) -> Any:
    """Open an onnxruntime session on checked bytes (CPU, ``threads`` threads).

    Raises
    ------
    UnsupportedFormatError
        When onnxruntime cannot load the model (the runtime's message is kept).
    """
    from mlops_nb._offline import import_onnxruntime

    check_onnx(data, what=what)
    ort = import_onnxruntime()
    if level not in LEVELS:
        msg = (
            f"{what}: graph optimization level {level!r} unknown; "
            f"use one of {listing(LEVELS)}."
        )
        raise UnsupportedFormatError(msg)
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, LEVELS[level]
    )
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = (
        4  # failures come back as exceptions; keep notebooks clean
    )
    try:
        return ort.InferenceSession(
            bytes(data), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own exception types
        msg = f"{what}: onnxruntime could not load the model: {ort_message(err)}"
        raise UnsupportedFormatError(msg) from err


def ort_message(err: BaseException) -> str:
    """Shorten onnxruntime's error: no source paths, no status prefix."""
    import re

    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    if "was false." in text:
        text = text.split("was false.", 1)[1].strip() or text
    return text[:240]


def frame_feeds(X: pd.DataFrame, schema: dict[str, Any]) -> dict[str, np.ndarray]:
    """ONNX inputs from a frame typed by ``prepare_X`` (floats, and text categories)."""
    import numpy as np

    feeds = {}
    for spec in schema["inputs"]:
        col = X[spec["name"]]
        if spec["kind"] == "numeric":
            feeds[spec["name"]] = col.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            feeds[spec["name"]] = col.to_numpy(dtype=object).reshape(-1, 1)
    return feeds


def slice_feeds(feeds: dict[str, np.ndarray], rows: Any) -> dict[str, np.ndarray]:
    """Restrict feeds to some rows (a slice or index array)."""
    return {k: v[rows] for k, v in feeds.items()}


def run_session(
    session: Any, feeds: dict[str, np.ndarray], task: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run: ``(labels, probabilities)``, or ``(values, None)`` for regression."""
    out = session.run(None, feeds)
    if task == "regression":
        return out[0].reshape(-1), None
    return out[0].reshape(-1), out[1]
