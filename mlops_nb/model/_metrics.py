"""Metrics of classification and regression models (scikit-learn's implementations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: the metric gates compare, and whether higher is better
PRIMARY = {
    "binary": ("roc_auc", True),
    "multiclass": ("balanced_accuracy", True),
    "regression": ("rmse", False),
}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "roc_auc": True,
    "pr_auc": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


def classification_metrics(
    y_true: Any, proba: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC, PR AUC, F1, log loss.

    Binary tasks also get the Brier score.
    """
    import numpy as np
    from sklearn import metrics as m

    y_obj = np.asarray(y_true)
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    out = {
        "accuracy": m.accuracy_score(y_obj, pred),
        "balanced_accuracy": m.balanced_accuracy_score(y_obj, pred),
        "log_loss": m.log_loss(y_obj, proba, labels=list(classes)),
    }
    if len(classes) == 2:
        pos = y_obj == classes[1]
        if 0 < pos.sum() < len(pos):
            out["roc_auc"] = m.roc_auc_score(pos, proba[:, 1])
            out["pr_auc"] = m.average_precision_score(pos, proba[:, 1])
        out["f1"] = m.f1_score(pos, pred == classes[1], zero_division=0)
        out["brier"] = m.brier_score_loss(pos, proba[:, 1])
    else:
        present = set(y_obj.tolist())
        if present == set(classes):
            out["roc_auc"] = m.roc_auc_score(
                y_obj, proba, multi_class="ovr", labels=list(classes)
            )
        out["f1"] = m.f1_score(y_obj, pred, average="macro", zero_division=0)
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y_true: Any, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R²."""
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y_true, dtype="float64")
    return {
        "rmse": float(np.sqrt(m.mean_squared_error(y, y_pred))),
        "mae": float(m.mean_absolute_error(y, y_pred)),
        "r2": float(m.r2_score(y, y_pred)),
    }
