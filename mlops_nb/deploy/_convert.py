"""Converting a model version to ONNX: preprocessing and estimator in one graph.

Every estimator Model Ops trains by name converts, together with its
ColumnTransformer (imputers, scalers, one-hot and ordinal encoders):

- scikit-learn pipelines (logistic/linear, histogram gradient boosting, random
  forest, or any estimator skl2onnx knows) through skl2onnx;
- LightGBM boosters through onnxmltools' converter, registered with skl2onnx
  (``update_registered_converter``) so that preprocessing and booster convert as one
  scikit-learn pipeline.

The ONNX graph has one input per feature column, named by
:func:`mlops_nb.deploy._names.graph_input_names` (the column name itself when it is a
valid identifier) and shaped ``[rows, 1]``: ``float32``
for numeric columns and ``string`` for categorical ones, exactly the columns and
types :func:`mlops_nb.model._prep.prepare_X` produces (a missing category is the
text ``"(missing)"``, a missing number is NaN and imputed inside the graph). The
outputs are ``label`` and ``probabilities`` (classification) or ``variable``
(regression).

Explainable Boosting Machines have no ONNX converter; exporting one raises an error
that names the alternatives.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy._names import graph_input_names
from mlops_nb.errors import UnsupportedFormatError
from mlops_nb.model._prep import MISSING, Features

if TYPE_CHECKING:
    from mlops_nb.model import Model

#: ONNX operator sets the exports target: onnxruntime 1.13 and later load them.
TARGET_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}
FORMAT = "mlops-nb-onnx/1"

_LOCK = threading.Lock()
_REGISTERED: list[bool] = []


class _BoosterEstimator:
    """A fitted LightGBM booster as skl2onnx sees a LightGBM estimator.

    onnxmltools' converter reads ``booster_`` (and ``classes_`` for classifiers);
    nothing is refitted and nothing here is saved.
    """

    def __init__(self, booster: Any, classes: list[Any] | None = None):
        self.booster_ = _json_safe(booster)
        try:
            average_output = booster.attr("average_output")
        except AttributeError:  # pragma: no cover - older LightGBM
            average_output = booster.params.get("average_output")
        self.boosting_type = "rf" if average_output else "gbdt"
        if classes is not None:
            import numpy as np

            self.classes_ = np.asarray(classes)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """No parameters (skl2onnx asks)."""
        return {}


def _json_safe(booster: Any) -> Any:
    """Return the booster, or a copy whose feature names survive its JSON dump.

    onnxmltools reads the booster through ``dump_model``, which writes feature names
    unescaped: a backslash or a quote in a column name breaks the JSON. The graph
    reads features by position, so the copy is named ``f0``, ``f1``... instead.
    """
    names = booster.feature_name()
    if not any(ch in '"\\' or ord(ch) < 32 for n in names for ch in n):
        return booster
    import lightgbm as lgb

    lines = booster.model_to_string().split("\n")
    safe = "feature_names=" + " ".join(f"f{i}" for i in range(len(names)))
    lines = [safe if ln.startswith("feature_names=") else ln for ln in lines]
    return lgb.Booster(model_str="\n".join(lines))


def _shim_classes() -> tuple[type, type]:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class BoosterClassifier(ClassifierMixin, _BoosterEstimator, BaseEstimator):
        """A LightGBM classification booster for skl2onnx."""

    class BoosterRegressor(RegressorMixin, _BoosterEstimator, BaseEstimator):
        """A LightGBM regression booster for skl2onnx."""

    return BoosterClassifier, BoosterRegressor


_SHIMS: dict[str, type] = {}


def register_converters() -> None:
    """Register LightGBM with skl2onnx, once per process.

    Also works around a skl2onnx 1.20 bug with scikit-learn >= 1.8: histogram
    gradient boosting leaves get a Python ``False`` among integer "missing value
    tracks true" flags, and ONNX refuses the mixed list. The wrapper turns the flags
    into integers after each tree; on a fixed skl2onnx it changes nothing.
    """
    with _LOCK:
        if _REGISTERED:
            return
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import (
            convert_lightgbm,
        )
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )

        clf, reg = _shim_classes()
        _SHIMS.update(classifier=clf, regressor=reg)
        options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
        for cls, alias in (
            (LGBMClassifier, "LgbmClassifier"),
            (clf, "MlopsNbBoosterClassifier"),
        ):
            update_registered_converter(
                cls,
                alias,
                calculate_linear_classifier_output_shapes,
                convert_lightgbm,
                options=options,
            )
        for cls, alias in (
            (LGBMRegressor, "LgbmRegressor"),
            (reg, "MlopsNbBoosterRegressor"),
        ):
            update_registered_converter(
                cls, alias, calculate_linear_regressor_output_shapes, convert_lightgbm
            )
        _patch_hist_gradient_boosting()
        _REGISTERED.append(True)


def _patch_hist_gradient_boosting() -> None:
    import skl2onnx.operator_converters.random_forest as rf

    original = rf.add_tree_to_attribute_pairs_hist_gradient_boosting
    if getattr(original, "_mlops_nb_fixed", False):
        return

    def fixed(attr_pairs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        out = original(attr_pairs, *args, **kwargs)
        key = "nodes_missing_value_tracks_true"
        if key in attr_pairs:
            attr_pairs[key] = [int(v) for v in attr_pairs[key]]
        return out

    fixed._mlops_nb_fixed = True  # type: ignore[attr-defined]
    rf.add_tree_to_attribute_pairs_hist_gradient_boosting = fixed


def features_of(model: Model) -> Features:
    """Return the model's input columns."""
    return Features.from_dict(model.recipe["features"])


def preprocessor_of(model: Model) -> Any:
    """Return the fitted ColumnTransformer of a model version."""
    objects = model._predictor().objects
    if model.flavor == "lightgbm":
        return objects["prep"]
    return objects["pipeline"].steps[0][1]


def categories_of(model: Model) -> dict[str, list[str]]:
    """Return the categories seen in training, per categorical column (as text)."""
    features = features_of(model)
    if not features.categorical:
        return {}
    prep = preprocessor_of(model)
    encoder = getattr(prep, "named_transformers_", {}).get("cat")
    cats = getattr(encoder, "categories_", None)
    if cats is None:
        return {}
    return {
        name: [str(v) for v in values]
        for name, values in zip(features.categorical, cats, strict=True)
    }


def io_schema(model: Model) -> dict[str, Any]:
    """Describe the inputs and outputs of the model's ONNX graph, JSON-ready.

    Used by the server to validate requests and by edge bundles (``schema.json``).
    Each input holds its column ``name`` and its graph input ``onnx_name`` (see
    :mod:`mlops_nb.deploy._names`).
    """
    features = features_of(model)
    cats = categories_of(model)
    graph = graph_input_names(features.names)
    inputs: list[dict[str, Any]] = [
        {"name": n, "onnx_name": graph[n], "kind": "numeric", "onnx_type": "float32"}
        for n in features.numeric
    ]
    inputs += [
        {
            "name": n,
            "onnx_name": graph[n],
            "kind": "categorical",
            "onnx_type": "string",
            "categories": cats.get(n),
        }
        for n in features.categorical
    ]
    task = model.task
    return {
        "format": FORMAT,
        "model": {
            "name": model.name,
            "version": model.version,
            "label": model.label,
            "estimator": model.recipe["estimator"],
            "task": task,
            "target": model.recipe["target"],
            "classes": model.classes,
        },
        "inputs": inputs,
        "roles": roles_of(model),
        "missing_category": MISSING,
        "outputs": ["variable"] if task == "regression" else ["label", "probabilities"],
        "opset": dict(TARGET_OPSET),
    }


def roles_of(model: Model) -> dict[str, Any]:
    """Return the id, time, target and sensitive columns of the training data.

    Rows sent to a bundle or the server may carry them besides the inputs: the id is
    echoed and recorded, the target ignored (see :func:`_standalone.check_rows`).
    """
    roles: dict[str, Any] = {
        "id": None,
        "time": None,
        "target": model.recipe.get("target"),
        "sensitive": list(model.recipe.get("sensitive") or []),
    }
    try:
        d = model.lineage["data"][0]
        schema = model.project.asset(d["name"], d["version"]).schema
    except (KeyError, IndexError, LookupError):  # pragma: no cover - lineage lost
        return roles
    roles.update(id=schema.id, time=schema.time)
    return roles


def with_roles(model: Model, schema: dict[str, Any]) -> dict[str, Any]:
    """Return a stored schema, with roles added to exports made before them."""
    return schema if "roles" in schema else {**schema, "roles": roles_of(model)}


def is_ebm(estimator: Any) -> bool:
    """Whether an estimator is interpret's Explainable Boosting Machine."""
    return type(estimator).__module__.startswith("interpret")


def pipeline_for_export(model: Model) -> Any:
    """Return the pipeline to convert (for LightGBM: preprocessing + booster)."""
    from sklearn.pipeline import Pipeline

    register_converters()
    objects = model._predictor().objects
    if model.flavor == "sklearn":
        return objects["pipeline"]
    shim = _SHIMS["regressor" if model.task == "regression" else "classifier"]
    booster = shim(
        objects["booster"], model.classes if model.task != "regression" else None
    )
    return Pipeline([("prep", objects["prep"]), ("model", booster)])


def booster_pipeline(
    prep: Any, booster: Any, task: str, classes: list[Any] | None
) -> Any:
    """Join a fitted ColumnTransformer and a LightGBM booster, for export."""
    from sklearn.pipeline import Pipeline

    register_converters()
    shim = _SHIMS["regressor" if task == "regression" else "classifier"]
    return Pipeline(
        [
            ("prep", prep),
            ("model", shim(booster, classes if task != "regression" else None)),
        ]
    )


def convert_pipeline(pipe: Any, features: Features, task: str, *, what: str) -> bytes:
    """Convert a fitted pipeline to ONNX bytes.

    Raises
    ------
    UnsupportedFormatError
        When the estimator has no ONNX converter (EBM and custom estimators), naming
        what to use instead.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    register_converters()
    estimator = pipe.steps[-1][1]
    name = type(estimator).__name__
    if is_ebm(estimator):
        raise _ebm_error(what, name)
    graph = graph_input_names(features.names)
    pipe = _with_graph_names(pipe, graph)
    inputs = [(graph[c], FloatTensorType([None, 1])) for c in features.numeric]
    inputs += [(graph[c], StringTensorType([None, 1])) for c in features.categorical]
    options = {} if task == "regression" else {id(estimator): {"zipmap": False}}
    try:
        with _LOCK:
            onx = convert_sklearn(
                pipe,
                initial_types=inputs,
                options=options,
                target_opset=dict(TARGET_OPSET),
            )
    except Exception as err:
        if type(err).__name__ not in (
            "MissingShapeCalculator",
            "MissingConverter",
            "RuntimeError",
            "NotImplementedError",
        ):
            raise
        msg = (
            f"{what}: no ONNX converter for {name} ({type(err).__name__}: "
            f"{str(err).splitlines()[0]}). Exportable estimators: 'lightgbm', "
            "'logistic', "
            "'linear', 'hist_gradient_boosting', 'random_forest' and scikit-learn "
            "estimators that skl2onnx converts."
        )
        raise UnsupportedFormatError(msg) from err
    got = [i.name for i in onx.graph.input]
    if got != list(graph.values()):  # pragma: no cover - the names are identifiers
        msg = (
            f"{what}: the converted graph reads {got}, expected {list(graph.values())}."
        )
        raise UnsupportedFormatError(msg)
    outputs = [o.name for o in onx.graph.output]
    expected = ["variable"] if task == "regression" else ["label", "probabilities"]
    if outputs != expected:  # pragma: no cover - depends on converter versions
        msg = f"{what}: the converted graph has outputs {outputs}, expected {expected}."
        raise UnsupportedFormatError(msg)
    onx.doc_string = f"exported by mlops_nb from {what}"
    onx.graph.name = "mlops_nb"  # skl2onnx draws a random name: same model, same bytes
    return onx.SerializeToString()


def _with_graph_names(pipe: Any, graph: dict[str, str]) -> Any:
    """Return a copy of ``pipe`` whose ColumnTransformer reads graph names.

    skl2onnx matches the transformer's columns to the graph inputs by name; the
    fitted objects themselves are shared, not changed (they may be cached).
    """
    import copy

    from sklearn.pipeline import Pipeline

    first_name, prep = pipe.steps[0]
    if not hasattr(prep, "transformers_") or all(c == g for c, g in graph.items()):
        return pipe
    renamed = copy.copy(prep)
    renamed.transformers_ = [
        (
            name,
            step,
            [graph.get(c, c) if isinstance(c, str) else c for c in cols]
            if isinstance(cols, (list, tuple))
            else graph.get(cols, cols)
            if isinstance(cols, str)
            else cols,
        )
        for name, step, cols in prep.transformers_
    ]
    if hasattr(prep, "feature_names_in_"):
        import numpy as np

        renamed.feature_names_in_ = np.asarray(
            [graph.get(c, c) for c in prep.feature_names_in_], dtype=object
        )
    return Pipeline([(first_name, renamed), *pipe.steps[1:]])


def _ebm_error(what: str, name: str) -> UnsupportedFormatError:
    msg = (
        f"{what}: {name} (interpret's Explainable Boosting Machine) has no ONNX "
        "converter, so it cannot be exported, optimized, bundled or served. Train the "
        "same data with estimator='lightgbm' or 'hist_gradient_boosting' (both export "
        "with parity checks), or use the EBM in Python with model.predict()."
    )
    return UnsupportedFormatError(msg)


def convert_model(model: Model) -> bytes:
    """Convert a model version (preprocessing included) to ONNX bytes."""
    what = f"{model.label}.export_onnx"
    mitigation = model.recipe.get("mitigation") or {}
    if mitigation.get("method") == "threshold_optimizer":
        base = "{} v{}".format(*mitigation["base"])
        msg = (
            f"{what}: this version decides with a threshold per "
            f"{' x '.join(mitigation['sensitive'])} group applied after {base}'s "
            "score; an ONNX export covers the model alone and would not reproduce its "
            "decisions. "
            f"Export {base} and apply recipe['mitigation']['thresholds'] after it, or "
            "use this version in Python (model.predict)."
        )
        raise UnsupportedFormatError(msg)
    if model.recipe.get("estimator") == "ebm":
        raise _ebm_error(
            what,
            "ExplainableBoosting"
            + ("Regressor" if model.task == "regression" else "Classifier"),
        )
    if "onnx" in model.artifacts:  # an imported ONNX model exports as itself
        return model.project._store.read_blob(model.artifacts["onnx"])
    pipe = pipeline_for_export(model)
    return convert_pipeline(pipe, features_of(model), model.task, what=what)
