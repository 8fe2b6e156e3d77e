"""Import an MLflow model whose flavor is ``onnx``: the ONNX file is the model.

The graph's inputs are matched to the data's columns by name
(:func:`mlops_nb.interop._onnx_model.match_inputs`); the version stores the ONNX bytes
as they are (artifact ``onnx``) and answers through onnxruntime, never through a
pickle. Its ``export_onnx`` hands the same bytes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, ValidationError, listing

if TYPE_CHECKING:
    from mlops_nb.data import DataAsset


def from_onnx(raw: bytes, data: DataAsset, uri: str) -> dict[str, Any]:
    """Return what :func:`mlops_nb.interop._mlflow_store.store_imported` stores.

    Raises
    ------
    SchemaError
        When the graph's inputs do not match the data's columns (each missing or
        mistyped input named, with the data columns the graph does not read).
    UnsupportedFormatError, UnsafeFormatError
        When the bytes are no ONNX model, use operators outside ONNX / ONNX-ML, keep
        weights in external files, or answer ZipMap dictionaries.
    """
    from mlops_nb.interop._onnx_model import OnnxModel, match_inputs
    from mlops_nb.model._prep import Features, prepare_X

    what = f"from_mlflow({uri!r})"
    est = OnnxModel(raw, artifact=f"{uri} (onnx)")
    target = data.schema.target
    columns = {c.name: c.kind for c in data.schema.columns if c.name != target}
    numeric, categorical = match_inputs(est.inputs, columns, what=what)
    features = Features(tuple(numeric), tuple(categorical))
    task, classes = "regression", None
    if est.task == "classification":
        y = data.frame[target].dropna()
        X = prepare_X(data.frame.head(2), features, what=what)
        width = est.predict_proba(X).shape[1]
        if hasattr(est, "classes_"):
            classes = [c.item() if hasattr(c, "item") else c for c in est.classes_]
        else:  # no ONNX-ML classifier node names them: the target's sorted labels
            classes = sorted(y.unique().tolist())
        if len(classes) != width:
            msg = (
                f"{what}: the graph answers {width} probability column(s) but "
                f"{data.label} has {len(classes)} label(s) ({listing(classes)}) in "
                f"{target!r}; pass the data the model was built for."
            )
            raise SchemaError(msg)
        task = "binary" if width == 2 else "multiclass"
    elif not len(numeric) + len(categorical):  # pragma: no cover - no inputs
        msg = f"{what}: the ONNX graph reads no inputs."
        raise ValidationError(msg)
    return {
        "flavor": "sklearn",  # predicts through objects["pipeline"], as scikit-learn
        "blobs": {"onnx": bytes(raw)},
        "features": features.to_dict(),
        "task": task,
        "classes": classes,
        "threshold": None,
        "estimator": "onnx",
        "lineage": None,
    }
