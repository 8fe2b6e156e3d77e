"""A small, fast learner that DataOps uses to measure data, not to ship models.

Synthetic data is judged by train-on-synthetic/test-on-real accuracy and generated
features by cross-validated gain; both need a model. Model Ops lives above DataOps
(imports flow store <- data <- model), so this module keeps its own minimal version:
the feature columns of a schema (the same rule as Model Ops: no target, time, id or
sensitive column; numeric, categorical and boolean kinds), ordinal codes for
categories, and a single-threaded LightGBM sized for notebooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._schema import Schema

MISSING = "(missing)"


def feature_columns(schema: Schema) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature columns (Model Ops' rule, sensitive left out)."""
    numeric, categorical = [], []
    for c in schema.columns:
        if c.role:
            continue
        if c.kind == "numeric":
            numeric.append(c.name)
        elif c.kind in ("categorical", "boolean"):
            categorical.append(c.name)
    return numeric, categorical


def as_text(series: pd.Series) -> pd.Series:
    """Category values as strings, missing values as ``"(missing)"``."""
    import numpy as np
    import pandas as pd

    if isinstance(
        series.dtype, pd.CategoricalDtype
    ):  # map the few categories, not the rows
        names = np.asarray(series.cat.categories.astype(str), dtype=object)
        codes = series.cat.codes.to_numpy()
        text = np.where(codes >= 0, names[np.maximum(codes, 0)], MISSING)
        return pd.Series(text, index=series.index, dtype=object)
    return series.astype(object).where(series.notna(), MISSING).astype(str)


def encode(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    levels: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Floats for numbers and ordinal codes for categories (unseen -> -1).

    Returns the encoded frame and the category levels used (pass them back to encode
    other rows the same way).
    """
    import numpy as np
    import pandas as pd

    levels = dict(levels or {})
    out: dict[str, Any] = {}
    for name in numeric:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in categorical:
        text = as_text(frame[name])
        if name not in levels:
            levels[name] = sorted(text.unique().tolist())
        lookup = {v: i for i, v in enumerate(levels[name])}
        out[name] = text.map(lookup).fillna(-1).astype("float64")
    index = frame.index
    return pd.DataFrame(out, index=index, columns=[*numeric, *categorical]).astype(
        np.float64
    ), levels


def lgbm(task: str, seed: int, **params: Any) -> Any:
    """Return a LightGBM estimator for fast measurements (one thread: see Model Ops)."""
    import lightgbm as lgb

    base: dict[str, Any] = {"n_estimators": 150, "learning_rate": 0.08,
                            "num_leaves": 31, "min_child_samples": 20,
                            "random_state": seed, "n_jobs": 1,
                            "verbose": -1}  # fmt: skip
    base.update(params)
    return (lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier)(**base)


def metric_name(task: str) -> str:
    """Name a task's score: ROC AUC (binary), accuracy (multiclass), R² (regression)."""
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "r2")


def score(task: str, y_true: Any, pred: np.ndarray, classes: Any = None) -> float:
    """Score predictions: probabilities for classification, values for regression."""
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y_true, pred))
    if task == "binary":
        if len(np.unique(y_true)) < 2:
            return float("nan")
        return float(roc_auc_score(y_true, pred if pred.ndim == 1 else pred[:, 1]))
    labels = np.asarray(classes)[np.asarray(pred).argmax(axis=1)]
    return float(accuracy_score(y_true, labels))
