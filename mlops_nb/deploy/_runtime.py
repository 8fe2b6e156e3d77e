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


def _bodies(proto: Any) -> Iterator[tuple[str, Any]]:
    """Every node container of a model: its graph, its functions, all their subgraphs.

    Yields ``(where, body)`` pairs; a body is a ``GraphProto`` or a model-local
    ``FunctionProto`` (both hold ``node``). Subgraphs are found in node attributes
    (``g``, ``graphs``: the branches of ``If``, the bodies of ``Loop``/``Scan``) and in
    a function's default attributes, at any depth, inside functions as well as in the
    main graph. The walk uses a stack, so deep nesting cannot exhaust the recursion
    limit.
    """
    stack: list[tuple[str, Any]] = [("graph", proto.graph)]
    stack += [(f"function {f.domain}:{f.name}", f) for f in proto.functions]
    while stack:
        where, body = stack.pop()
        yield where, body
        for label, attr in _attributes(body):
            if attr.HasField("g"):
                stack.append((f"{where} > {label}", attr.g))
            stack.extend(
                (f"{where} > {label}[{i}]", g) for i, g in enumerate(attr.graphs)
            )


def _attributes(body: Any) -> Iterator[tuple[str, Any]]:
    """``(label, attribute)`` of every node of a body, and a function's defaults."""
    for node in body.node:
        for attr in node.attribute:
            yield f"{node.op_type} {node.name or '(unnamed)'!r} .{attr.name}", attr
    for attr in getattr(body, "attribute_proto", ()):  # FunctionProto defaults
        yield f"default .{attr.name}", attr


def _tensors(proto: Any) -> Iterator[tuple[str, Any]]:
    """Every tensor of a model: initializers and attribute tensors, everywhere."""
    for where, body in _bodies(proto):
        for t in getattr(body, "initializer", ()):
            yield f"{where}: initializer {t.name or '(unnamed)'!r}", t
        for s in getattr(body, "sparse_initializer", ()):
            yield f"{where}: sparse initializer {s.values.name!r}", s.values
            yield f"{where}: sparse initializer {s.values.name!r} indices", s.indices
        for label, attr in _attributes(body):
            at = f"{where}: {label}"
            if attr.HasField("t"):
                yield at, attr.t
            for t in attr.tensors:
                yield at, t
            if attr.HasField("sparse_tensor"):
                yield at, attr.sparse_tensor.values
                yield at, attr.sparse_tensor.indices
            for s in attr.sparse_tensors:
                yield at, s.values
                yield at, s.indices


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
    domains |= {f.domain for f in proto.functions}
    for _, body in _bodies(proto):
        domains |= {n.domain for n in body.node}
        domains |= {o.domain for o in getattr(body, "opset_import", ())}
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
    """ONNX inputs from a frame typed by ``prepare_X`` (floats, and text categories).

    Columns are read by their names and fed by their graph input names
    (``onnx_name`` of the schema, see :mod:`mlops_nb.deploy._names`).
    """
    import numpy as np

    from mlops_nb.deploy._names import onnx_name

    feeds = {}
    for spec in schema["inputs"]:
        col = X[spec["name"]]
        if spec["kind"] == "numeric":
            feeds[onnx_name(spec)] = col.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            feeds[onnx_name(spec)] = col.to_numpy(dtype=object).reshape(-1, 1)
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
