"""An imported ONNX model as a scikit-learn-style estimator, stored as its ONNX file.

:class:`OnnxModel` holds the ONNX bytes of a model mlops_nb did not train (imported
from MLflow's ``onnx`` flavor) and answers ``predict`` / ``predict_proba`` through an
onnxruntime session opened on first use. It is never pickled and never written with
skops: a model version keeps the ONNX file itself (artifact ``onnx``, content
addressed, its SHA-256 checked when read) and :func:`load_onnx_model` rebuilds the
estimator from those bytes. The graph must read one ``[rows, 1]`` input per column,
``float`` for numbers and ``string`` for categories, named as
:func:`mlops_nb.deploy._names.graph_input_names` names the column (the column name
itself when it is an identifier); a classifier answers ``label`` then
``probabilities`` (a tensor, not ZipMap's list of dicts), a regressor one tensor.
That is the shape of mlops_nb's own exports, so ``export_onnx`` hands the same bytes
back and every ONNX consumer (server, edge bundles) runs it unchanged.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator

from mlops_nb.errors import SchemaError, UnsupportedFormatError, listing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: ONNX tensor element types mlops_nb feeds: float32 numbers, text categories.
FLOAT, STRING = 1, 8
_TYPE_NAMES = {1: "float", 6: "int32", 7: "int64", 8: "string", 9: "bool", 11: "double"}


def graph_io(proto: Any) -> dict[str, Any]:
    """Describe a parsed ONNX model: inputs, outputs, task and class labels.

    Returns
    -------
    dict
        ``inputs``: ``[(graph name, element type, shape)]``; ``outputs``: output
        names; ``task``: ``"classification"`` or ``"regression"``; ``classes``: the
        labels an ONNX-ML classifier node names, or None.

    Raises
    ------
    UnsupportedFormatError
        When the outputs are not ``label, probabilities`` tensors or one tensor.
    """
    initializers = {t.name for t in proto.graph.initializer}
    inputs = []
    for i in proto.graph.input:
        if i.name in initializers:
            continue
        tensor = i.type.tensor_type
        shape = [
            d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim
        ]
        inputs.append((i.name, tensor.elem_type, shape))
    outputs = [o.name for o in proto.graph.output]
    kinds = [o.type.WhichOneof("value") for o in proto.graph.output]
    if kinds == ["tensor_type"]:
        task = "regression"
    elif kinds == ["tensor_type", "tensor_type"]:
        task = "classification"
    else:
        msg = (
            f"the ONNX graph answers {listing(outputs)} "
            f"({listing([k or '?' for k in kinds])}); mlops_nb reads a label and a "
            "probability tensor (classifier) or one tensor (regressor). A ZipMap "
            "output (a list of dicts) is what skl2onnx writes by default: convert "
            "again with options={id(model): {'zipmap': False}} (or "
            "options={'zipmap': False})."
        )
        raise UnsupportedFormatError(msg)
    classes = None
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.name == "classlabels_int64s" and attr.ints:
                classes = [int(v) for v in attr.ints]
            elif attr.name == "classlabels_strings" and attr.strings:
                try:
                    classes = [v.decode("utf-8") for v in attr.strings]
                except UnicodeDecodeError as err:
                    msg = (
                        f"the ONNX graph's class labels ({node.op_type} node "
                        f"{node.name!r}) are not UTF-8 text: {err}."
                    )
                    raise UnsupportedFormatError(msg) from err
    return {"inputs": inputs, "outputs": outputs, "task": task, "classes": classes}


def match_inputs(
    inputs: list[tuple[str, int, list[Any]]],
    columns: dict[str, str],
    *,
    what: str,
) -> tuple[list[str], list[str]]:
    """Map the graph's inputs to data columns; return (numeric, categorical).

    ``columns`` maps each data column the model may read to its kind
    (``numeric``, ``categorical``...). Raises :class:`SchemaError` naming the graph
    inputs no column feeds, those of a type mlops_nb does not feed, and the data
    columns the graph does not read.
    """
    from mlops_nb.deploy._names import graph_input_names

    by_graph = {graph_input_names([c])[c]: c for c in columns}
    if len(inputs) == 1 and len(inputs[0][2]) == 2 and (inputs[0][2][1] or 0) > 1:
        name, _, shape = inputs[0]
        msg = (
            f"{what}: the ONNX graph reads one tensor {name!r} of {shape[1]} columns; "
            "mlops_nb matches graph inputs to data columns by name. Convert the model "
            "with one [None, 1] input per column, e.g. skl2onnx "
            "initial_types=[(c, FloatTensorType([None, 1])) for c in numeric] + "
            "[(c, StringTensorType([None, 1])) for c in categorical]."
        )
        raise SchemaError(msg, [{"input": name, "problem": "one tensor for all"}])
    numeric, categorical, problems = [], [], []
    for name, elem, shape in inputs:
        column = by_graph.get(name)
        if column is None:
            problems.append({"input": name, "problem": "no such column in the data"})
        elif (
            elem not in (FLOAT, STRING) or len(shape) != 2 or shape[1] not in (1, None)
        ):
            kind = _TYPE_NAMES.get(elem, f"type {elem}")
            problems.append(
                {"input": name, "problem": f"{kind} {shape}, not float/string [N, 1]"}
            )
        elif elem == STRING:
            categorical.append(column)
        elif columns[column] == "numeric":
            numeric.append(column)
        else:
            problems.append(
                {"input": name, "problem": f"float input, {columns[column]} column"}
            )
    if problems:
        read = set(numeric + categorical)
        extra = [c for c in columns if c not in read]
        lines = "; ".join(f"{p['input']}: {p['problem']}" for p in problems)
        msg = (
            f"{what}: the ONNX graph's inputs do not match the data: {lines}. "
            f"Data columns the graph does not read: {listing(extra) or 'none'}. Pass "
            "data with a column per graph input (named as the input), or convert the "
            "model with one [None, 1] float (numbers) or string (categories) input per "
            "data column."
        )
        raise SchemaError(msg, problems)
    return numeric, categorical


class OnnxModel(BaseEstimator):
    """A scikit-learn-style estimator answering from an ONNX graph.

    Parameters
    ----------
    onnx_bytes : bytes
        The ONNX file (checked by :func:`mlops_nb.deploy._runtime.check_onnx` when
        the session opens).
    artifact : str
        How errors name the file (its SHA-256 in a project).

    Notes
    -----
    ``predict_proba`` / ``predict`` read a frame with the model's columns (typed by
    :func:`mlops_nb.model._prep.prepare_X`) and feed each column to its graph input.
    Copies share the bytes and open their own session; pickling is refused.
    """

    def __init__(self, onnx_bytes: bytes, *, artifact: str = "onnx"):
        from mlops_nb.deploy._runtime import check_onnx

        self.onnx_bytes = bytes(onnx_bytes)
        self.artifact = artifact
        io = graph_io(check_onnx(self.onnx_bytes, what=f"ONNX model {artifact}"))
        self.inputs = io["inputs"]
        self.task = io["task"]
        if io["classes"] is not None:
            import numpy as np

            self.classes_ = np.asarray(io["classes"])
        self._estimator_type = (
            "regressor" if self.task == "regression" else "classifier"
        )
        self._session: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OnnxModel({self.task}, {len(self.onnx_bytes):,} bytes)"

    def __getstate__(self) -> dict[str, Any]:
        msg = (
            "an imported ONNX model is never pickled: a model version stores its ONNX "
            "file (mlops_nb.interop._onnx_model)."
        )
        raise TypeError(msg)

    def __copy__(self) -> OnnxModel:
        return OnnxModel(self.onnx_bytes, artifact=self.artifact)

    def __deepcopy__(self, memo: dict[int, Any]) -> OnnxModel:
        return self.__copy__()

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = self._estimator_type
        return tags

    def fit(self, X: Any, y: Any = None) -> OnnxModel:
        """Refuse: an imported ONNX model is not trained by mlops_nb."""
        msg = "an imported ONNX model cannot be re-fitted; train a model instead."
        raise UnsupportedFormatError(msg)

    def session(self) -> Any:
        """Return the onnxruntime session (opened once, one thread)."""
        with self._lock:
            if self._session is None:
                from mlops_nb.deploy._runtime import make_session

                self._session = make_session(
                    self.onnx_bytes, what=f"ONNX model {self.artifact}"
                )
            return self._session

    def _run(self, X: pd.DataFrame) -> list[Any]:
        import numpy as np

        from mlops_nb.deploy._names import graph_input_names

        names = graph_input_names([str(c) for c in X.columns])
        by_graph = {g: c for c, g in names.items()}
        feeds = {}
        for name, elem, _ in self.inputs:
            if name not in by_graph:
                msg = (
                    f"ONNX model {self.artifact}: no column for graph input {name!r}; "
                    f"the rows have {listing(list(X.columns))}."
                )
                raise SchemaError(msg)
            col = X[by_graph[name]]
            values = (
                col.to_numpy(dtype=np.float32)
                if elem == FLOAT
                else col.to_numpy(dtype=object)
            )
            feeds[name] = values.reshape(-1, 1)
        return self.session().run(None, feeds)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities in the graph's column order (float64, rows sum to 1)."""
        import numpy as np

        if self.task == "regression":
            msg = f"ONNX model {self.artifact} is a regressor; use predict()."
            raise UnsupportedFormatError(msg)
        proba = np.asarray(self._run(X)[1], dtype=np.float64)
        # float32 sums miss 1 by ~1e-7, which scikit-learn's metrics warn about
        total = proba.sum(axis=1, keepdims=True)
        return np.divide(proba, total, out=proba, where=total > 0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Labels (the graph's own) or values (float64)."""
        import numpy as np

        out = self._run(X)[0].reshape(-1)
        return out.astype(np.float64) if self.task == "regression" else out


def load_onnx_model(data: bytes, *, artifact: str) -> Any:
    """Return a one-step scikit-learn pipeline around the ONNX model in ``data``."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("model", OnnxModel(data, artifact=artifact))])
