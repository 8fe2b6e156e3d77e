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

    Binary tasks also get the Brier score. Labels of a class the model never
    learnt count as errors and are left out of log loss and ROC AUC. Multiclass
    ROC AUC is the mean of the one-vs-rest AUCs of the classes the labels hold
    (scikit-learn's macro average when they hold every class); a metric that
    cannot be computed is left out, and :func:`classification_notes` says why.
    """
    import numpy as np
    from sklearn import metrics as m

    y_obj = np.asarray(_as_classes(y_true, classes), dtype=object)
    pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    known = np.array([_index(v, classes) >= 0 for v in y_obj], dtype=bool)
    out = {
        "accuracy": m.accuracy_score(y_obj.astype(str), pred.astype(str)),
        "balanced_accuracy": _balanced_accuracy(y_obj, pred),
    }
    if known.any():
        out["log_loss"] = m.log_loss(
            [_index(v, classes) for v in y_obj[known]],
            proba[known],
            labels=list(range(len(classes))),
        )
    if len(classes) == 2:
        pos = np.array([v == classes[1] for v in y_obj], dtype=bool)
        if 0 < pos.sum() < len(pos):
            out["roc_auc"] = m.roc_auc_score(pos, proba[:, 1])
            out["pr_auc"] = m.average_precision_score(pos, proba[:, 1])
        out["f1"] = m.f1_score(pos, pred == classes[1], zero_division=0)
        out["brier"] = m.brier_score_loss(pos, proba[:, 1])
    else:
        aucs = []
        for i, c in enumerate(classes):
            pos = np.array([v == c for v in y_obj[known]], dtype=bool)
            if 0 < pos.sum() < len(pos):
                aucs.append(m.roc_auc_score(pos, proba[known][:, i]))
        if len(aucs) >= 2:
            out["roc_auc"] = float(np.mean(aucs))
        out["f1"] = m.f1_score(
            y_obj.astype(str), pred.astype(str), average="macro", zero_division=0
        )
    return {k: float(v) for k, v in out.items()}


def classification_notes(y_true: Any, classes: list[Any]) -> list[str]:
    """Say which classes the labels lack or add, and which metrics that changes."""
    y_obj = _as_classes(y_true, classes)
    present = {str(v) for v in y_obj}
    absent = [c for c in classes if str(c) not in present]
    unknown = sorted(present - {str(c) for c in classes})
    notes = []
    if unknown:
        n = sum(str(v) in unknown for v in y_obj)
        notes.append(
            f"{n} labelled row(s) hold class(es) {', '.join(map(repr, unknown))}, "
            "which the model never learnt: counted as errors in accuracy and F1, "
            "left out of log loss and ROC AUC. Retrain on data that holds them."
        )
    if absent and len(classes) == 2:
        only = [c for c in classes if c not in absent]
        notes.append(f"Every label is class {only[0]!r}" if only else "No known class")
        notes[-1] += (
            ": ROC AUC and PR AUC need both classes and are not computed; "
            "evaluate on data that holds both."
        )
    elif absent:
        kept = len(classes) - len(absent)
        notes.append(
            f"No label of class {', '.join(repr(c) for c in absent)}: ROC AUC "
            + (
                f"is the mean over the other {kept} classes' one-vs-rest AUCs"
                if kept >= 2
                else "is not computed (it needs two classes)"
            )
            + ", and balanced accuracy averages recall over the classes present."
        )
    return notes


def _as_classes(y_true: Any, classes: list[Any]) -> list[Any]:
    """Map labels read from data (e.g. 1.0 or "1") to the model's classes."""
    import numpy as np

    by_text = {str(c): c for c in classes}
    out = []
    for v in np.asarray(y_true, dtype=object).tolist():
        if isinstance(v, float) and v.is_integer() and str(int(v)) in by_text:
            v = int(v)
        out.append(by_text.get(str(v), v))
    return out


def _index(value: Any, classes: list[Any]) -> int:
    for i, c in enumerate(classes):
        if value == c and str(value) == str(c):
            return i
    return -1


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes the labels hold (scikit-learn's definition)."""
    import numpy as np

    ys, ps = y.astype(str), pred.astype(str)
    return float(np.mean([np.mean(ps[ys == c] == c) for c in np.unique(ys)]))


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
