"""eXtreme Model Optimization: smaller, faster or cheaper variants of a model version.

Variants built from the model's ONNX export (each checked like every ONNX model):

- **graph optimization levels** of onnxruntime (same file, different session);
- **pruned** tree ensembles: the first half or quarter of a LightGBM booster's trees
  or of a random forest's trees, without refitting;
- a **shallower refit** (fewer, smaller trees) on the model's training data;
- a **distilled student**: a small LightGBM fitted to the teacher's scores (its logits
  for binary tasks) on the training data, without the labels;
- **float16** weights, and onnxruntime **dynamic int8 quantization**.

Lower precision only helps some graphs: onnxruntime's tree-ensemble operators accept
float32/float64 thresholds, not float16, and dynamic quantization rewrites only
MatMul/Gemm-style operators (neural networks), not tree ensembles or the ONNX-ML
linear operators. Such variants stay in the table with what happened ("failed to
load", "no effect") instead of being hidden.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy._convert import (
    booster_pipeline,
    convert_pipeline,
    features_of,
    preprocessor_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.model import Model

log = logging.getLogger("mlops_nb")

KINDS = ("graph", "pruned", "refit", "distilled", "float16", "int8")
_QUANTIZABLE = {
    "MatMul",
    "Gemm",
    "Conv",
    "Attention",
    "LSTM",
    "GRU",
    "EmbedLayerNormalization",
}
_QUANTIZED = {
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "DynamicQuantizeMatMul",
    "QGemm",
    "ConvInteger",
    "QAttention",
    "DynamicQuantizeLSTM",
    "QLinearMatMul",
}
_TREE_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"}


@dataclass
class Candidate:
    """A variant before measurement."""

    name: str
    kind: str
    data: bytes | None
    level: str = "all"
    note: str = ""
    status: str = "measured"  # measured | failed | no effect | not applicable


def _estimator(model: Model) -> Any:
    objects = model._predictor().objects
    return (
        objects["booster"]
        if model.flavor == "lightgbm"
        else objects["pipeline"].steps[-1][1]
    )


def _family(model: Model) -> str:
    if model.flavor == "lightgbm":
        return "lightgbm"
    name = type(_estimator(model)).__name__
    if "Forest" in name or "Trees" in name:
        return "forest"
    if (
        "HistGradientBoosting" in name
        or "DecisionTree" in name
        or "GradientBoosting" in name
    ):
        return "tree"
    return "mlp" if "MLP" in name else "linear"


def _convert(model: Model, pipe: Any, what: str) -> bytes:
    return convert_pipeline(
        pipe, features_of(model), model.task, what=f"{model.label} {what}"
    )


def _fit_rows(training: tuple[pd.DataFrame, Any] | None) -> bool:
    return training is not None and len(training[0]) > 0


def pruned(model: Model) -> list[Candidate]:
    """Keep the first half and quarter of the trees (LightGBM, random forests)."""
    from sklearn.pipeline import Pipeline

    family, out = _family(model), []
    if family == "lightgbm":
        import lightgbm as lgb

        booster = _estimator(model)
        n_iter = booster.current_iteration()
        for k in sorted({n_iter // 4, n_iter // 2} - {0, n_iter}):
            small = lgb.Booster(model_str=booster.model_to_string(num_iteration=k))
            pipe = booster_pipeline(
                preprocessor_of(model), small, model.task, model.classes
            )
            out.append(
                Candidate(
                    f"pruned: first {k} of {n_iter} trees",
                    "pruned",
                    _convert(model, pipe, "pruned"),
                    note="trees kept in boosting order; no refit",
                )
            )
    elif family == "forest":
        est = _estimator(model)
        n = len(est.estimators_)
        for k in sorted({n // 4, n // 2} - {0, n}):
            small = copy.copy(est)
            small.estimators_, small.n_estimators = est.estimators_[:k], k
            pipe = Pipeline([("prep", preprocessor_of(model)), ("model", small)])
            out.append(
                Candidate(
                    f"pruned: {k} of {n} trees",
                    "pruned",
                    _convert(model, pipe, "pruned"),
                    note="the forest's first trees; no refit",
                )
            )
    return out


def refit_shallower(
    model: Model, training: tuple[pd.DataFrame, Any] | None, seed: int
) -> list[Candidate]:
    """Fewer, smaller trees fitted again on the training data version."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    family = _family(model)
    if family not in ("lightgbm", "forest", "tree") or not _fit_rows(training):
        return []
    X, y = training  # type: ignore[misc]
    prep = preprocessor_of(model)
    Xt = prep.transform(X)
    if family == "lightgbm":
        import lightgbm as lgb

        params: dict[str, Any] = {
            "n_estimators": 100,
            "num_leaves": 7,
            "learning_rate": 0.1,
            "n_jobs": 1,
            "verbose": -1,
            "random_state": seed,
        }
        cls = lgb.LGBMRegressor if model.task == "regression" else lgb.LGBMClassifier
        fitted = cls(**params).fit(Xt, y)
        pipe = booster_pipeline(prep, fitted.booster_, model.task, model.classes)
        note = "LightGBM refit: 100 trees of at most 7 leaves"
    else:
        est = clone(_estimator(model))
        smaller = (
            {"max_depth": 6, "n_estimators": 50}
            if family == "forest"
            else {"max_depth": 3, "max_iter": 50}
        )
        est.set_params(**{k: v for k, v in smaller.items() if k in est.get_params()})
        pipe = Pipeline([("prep", prep), ("model", est.fit(Xt, y))])
        note = "refit with " + ", ".join(f"{k}={v}" for k, v in smaller.items())
    return [
        Candidate(
            "refit: shallower trees", "refit", _convert(model, pipe, "refit"), note=note
        )
    ]


def distilled(
    model: Model, training: tuple[pd.DataFrame, Any] | None, seed: int
) -> list[Candidate]:
    """Fit a small LightGBM student to the teacher's scores (no labels used)."""
    import lightgbm as lgb
    import numpy as np

    if _family(model) in ("linear", "mlp") or not _fit_rows(training):
        return []
    X = training[0]  # type: ignore[index]
    prep = preprocessor_of(model)
    Xt = prep.transform(X)
    params: dict[str, Any] = {
        "n_estimators": 100,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "n_jobs": 1,
        "verbose": -1,
        "random_state": seed,
    }
    teacher = model._predictor()
    if model.task == "binary":
        p = np.clip(teacher.proba(X)[:, 1], 1e-6, 1 - 1e-6)
        student = lgb.LGBMRegressor(**params).fit(Xt, np.log(p / (1 - p)))
        text = student.booster_.model_to_string()
        # the student regresses the teacher's logit; read its output through a sigmoid
        text = text.replace(
            "\nobjective=regression\n", "\nobjective=binary sigmoid:1\n", 1
        )
        booster = lgb.Booster(model_str=text)
        note = "100 trees x 15 leaves fitted to the teacher's logits"
    elif model.task == "regression":
        booster = lgb.LGBMRegressor(**params).fit(Xt, teacher.predict(X)).booster_
        note = "100 trees x 15 leaves fitted to the teacher's predictions"
    else:
        labels = teacher.predict(X)
        booster = lgb.LGBMClassifier(**params).fit(Xt, labels).booster_
        note = "100 trees x 15 leaves fitted to the teacher's labels (hard labels)"
    pipe = booster_pipeline(prep, booster, model.task, model.classes)
    return [
        Candidate(
            "distilled student",
            "distilled",
            _convert(model, pipe, "student"),
            note=note,
        )
    ]


def float16(reference: bytes) -> Candidate:
    """Store weights as float16: tree thresholds/weights, or MatMul/Gemm weights."""
    import onnx
    from onnx import helper, numpy_helper

    proto = onnx.load_model_from_string(reference)
    ops = {n.op_type for n in proto.graph.node}
    name = "float16 weights"
    if ops & _TREE_OPS:
        for node in proto.graph.node:
            if node.op_type not in _TREE_OPS:
                continue
            kept = []
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.FLOATS and attr.name in (
                    "nodes_values",
                    "class_weights",
                    "target_weights",
                    "base_values",
                ):
                    import numpy as np

                    values = np.asarray(attr.floats, dtype=np.float16)
                    kept.append(
                        helper.make_attribute(
                            attr.name + "_as_tensor", numpy_helper.from_array(values)
                        )
                    )
                else:
                    kept.append(attr)
            del node.attribute[:]
            node.attribute.extend(kept)
        return Candidate(
            name,
            "float16",
            proto.SerializeToString(),
            note="tree thresholds and leaf weights as float16 tensors",
        )
    targets = [n for n in proto.graph.node if n.op_type in ("MatMul", "Gemm")]
    inits = {t.name: t for t in proto.graph.initializer}
    if not targets:
        linear = ", ".join(sorted(ops & {"LinearClassifier", "LinearRegressor"}))
        return Candidate(
            name,
            "float16",
            None,
            status="not applicable",
            note=f"no float16 form for {linear or 'these operators'}: "
            "ONNX-ML linear operators hold float32 coefficients",
        )
    import numpy as np

    new_nodes = []
    for node in proto.graph.node:
        if node in targets:
            for i, inp in enumerate(node.input):
                if inp in inits:
                    t = inits[inp]
                    t.CopyFrom(
                        numpy_helper.from_array(
                            numpy_helper.to_array(t).astype(np.float16), t.name
                        )
                    )
                else:
                    cast = f"{inp}_fp16_{node.name or id(node)}"
                    new_nodes.append(
                        helper.make_node(
                            "Cast", [inp], [cast], to=onnx.TensorProto.FLOAT16
                        )
                    )
                    node.input[i] = cast
            out = node.output[0]
            node.output[0] = f"{out}_fp16"
            new_nodes.append(node)
            new_nodes.append(
                helper.make_node(
                    "Cast", [node.output[0]], [out], to=onnx.TensorProto.FLOAT
                )
            )
        else:
            new_nodes.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(new_nodes)
    return Candidate(
        name,
        "float16",
        proto.SerializeToString(),
        note="MatMul/Gemm weights as float16",
    )


def int8(reference: bytes) -> Candidate:
    """Quantize weights to int8 with onnxruntime's dynamic quantization."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    name = "int8 dynamic quantization"
    ops = {n.op_type for n in onnx.load_model_from_string(reference).graph.node}
    with tempfile.TemporaryDirectory(prefix="mlops-nb-q-") as tmp:
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        src.write_bytes(reference)
        logging.disable(logging.WARNING)  # the quantizer logs advice on the root logger
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
        data = dst.read_bytes()
    new_ops = {n.op_type for n in onnx.load_model_from_string(data).graph.node}
    if not new_ops & _QUANTIZED:
        what = (
            ", ".join(
                sorted(ops & (_TREE_OPS | {"LinearClassifier", "LinearRegressor"}))
            )
            or "this graph"
        )
        return Candidate(
            name,
            "int8",
            None,
            status="no effect",
            note=f"nothing quantized: {what} has no MatMul/Gemm/Conv for int8",
        )
    return Candidate(
        name,
        "int8",
        data,
        note=f"weights of {', '.join(sorted(ops & _QUANTIZABLE))} as int8",
    )


def build(
    model: Model,
    reference: bytes,
    training: tuple[pd.DataFrame, Any] | None,
    *,
    kinds: tuple[str, ...],
    seed: int,
) -> list[Candidate]:
    """Build every candidate of the kinds asked for; a failing builder is a row."""
    out: list[Candidate] = []
    builders = {
        "graph": lambda: [
            Candidate(
                "ORT basic graph optimizations",
                "graph",
                reference,
                level="basic",
                note="same file; onnxruntime's basic graph rewrites only",
            ),
            Candidate(
                "ORT no graph optimizations",
                "graph",
                reference,
                level="disabled",
                note="same file; the graph as exported",
            ),
        ],
        "pruned": lambda: pruned(model),
        "refit": lambda: refit_shallower(model, training, seed),
        "distilled": lambda: distilled(model, training, seed),
        "float16": lambda: [float16(reference)],
        "int8": lambda: [int8(reference)],
    }
    from mlops_nb.ui._progress import progress

    with progress(len(kinds), "building variants") as bar:
        for kind in kinds:
            try:
                out.extend(builders[kind]())
            except Exception as err:
                # report the failure as a row, do not hide the variant
                log.warning(
                    "building the %s variant of %s failed",
                    kind,
                    model.label,
                    exc_info=True,
                )
                out.append(
                    Candidate(
                        kind,
                        kind,
                        None,
                        status="failed",
                        note=f"{type(err).__name__}: {err}"[:300],
                    )
                )
            bar.step(kind)
    return out
