"""Model scores and CBPE on large data: per-partition sums, merged, then finalised.

The model is scored by ONNX Runtime (:func:`mlops_nb.deploy._batch.model_outputs`:
one session per process, kept by the export's SHA-256; only the ONNX bytes travel).
The reference is scored the same way in this process, so the calibrator and the
alert thresholds are fitted on the scores the workers produce.

CBPE (binary classification) is fitted on the reference exactly as the in-memory
monitor fits it (:func:`mlops_nb.drift._performance.estimate_cbpe`: nannyml's
isotonic calibrator when nannyml finds it helps, its thresholds from the reference
chunks' realized values, its sampling-error components). Each partition then adds,
per chunk, with ``p`` the calibrated probability of the second class and ``pred``
the decision at the monitor's threshold:

- ``tp = sum(p | pred=1)``, ``fp = sum(1-p | pred=1)``, ``fn = sum(p | pred=0)``,
  ``tn = sum(1-p | pred=0)`` and ``n``: the expected confusion matrix, and from it
  accuracy, precision, recall, F1 and specificity, **exactly** as nannyml computes
  them (equal up to floating-point summation order);
- per score bin (edges at the reference score's 1,000-quantiles; -inf/+inf outer
  bins): rows, ``sum(p)`` and ``sum(p(1-p))``. ROC AUC is nannyml's curve through
  the bins' boundaries, a straight line across each bin. Within a bin, nannyml's
  curve steps by ``((1-p_i)/N, p_i/P)`` per row, in an order the bins do not keep
  (rows of equal score are in no defined order even in memory); whatever the
  order, its area differs from the straight line's by at most half the cross
  terms, so the value lies within
  ``0.5 * sum_b (P_b N_b - sum_i p_i (1-p_i)) / (P N)`` of the exact one (plus
  nannyml's rounding of cumulative counts to 5 decimals; zero for bins of one
  row). That **bound** is reported with each value.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.drift._monitor import Monitor

SCORE_BINS = 1000
#: the estimated metrics besides ROC AUC (nannyml's names)
METRICS = ("accuracy", "precision", "recall", "f1", "specificity")
CELLS = (("tp", "true_positive"), ("fp", "false_positive"),
         ("fn", "false_negative"), ("tn", "true_negative"))  # fmt: skip
ROUNDING = 5e-6  # nannyml rounds cumulative expected counts to 5 decimals


# -- in this process: the plan ---------------------------------------------------------
def scoring_plan(
    mon: Monitor, reference: pd.DataFrame, ref_codes: np.ndarray
) -> tuple[dict[str, Any], bytes, np.ndarray, list[str]]:
    """Return the plan the workers follow, the ONNX bytes, the reference score, notes.

    The plan (JSON-ready) holds the scoring job, the score's class and threshold and,
    for a binary classifier whose reference holds both classes, ``cbpe``: the
    calibrator, the score bins' edges, and each metric's thresholds, limits and
    sampling-error components.
    """
    import numpy as np

    from mlops_nb.deploy._batch import _job, model_outputs
    from mlops_nb.drift._analysis import _decisions, _is_class
    from mlops_nb.drift._monitor import _canvas, decision_of

    model = mon.model
    what = f"Monitor {mon.name}.observe"
    job, data = _job(model, what)
    labels, proba = model_outputs(reference, job, data)
    plan: dict[str, Any] = {"job": job, "task": model.task, "cbpe": None}
    if model.task == "regression":
        return plan, data, np.asarray(labels, dtype="float64"), []
    canvas = _canvas(mon)
    decision = decision_of(model, mon.options, canvas)
    threshold = float(decision["threshold"]) if decision else 0.5
    proba = np.asarray(proba, dtype="float64")
    dec = _decisions(model, proba, canvas, threshold)
    plan.update(pos=int(dec["pos"]), threshold=threshold)
    classes = list(model.classes or [])
    if len(classes) != 2:
        note = (
            "Label-free performance (CBPE) on large data covers binary classifiers; "
            f"this model has {len(classes)} classes, so it is not estimated here."
        )
        return plan, data, dec["score"], [note]
    y = _is_class(reference[model.recipe["target"]], classes[1]).astype(int)
    pred = (dec["labels"] == np.asarray(classes, dtype=object)[1]).astype(int)
    if len(np.unique(y)) < 2:
        note = (
            "CBPE not estimated: the reference holds one class only; calibrating "
            "scores needs both. Anchor the monitor to a reference with both classes."
        )
        return plan, data, dec["score"], [note]
    plan["cbpe"] = _fit(proba[:, 1], pred, y, ref_codes)
    return plan, data, dec["score"], []


def _fit(
    p1: np.ndarray, pred: np.ndarray, y: np.ndarray, codes: np.ndarray
) -> dict[str, Any]:
    """Fit nannyml's CBPE on the reference; return what the estimate needs, as JSON."""
    import numpy as np
    import pandas as pd

    from mlops_nb._offline import import_nannyml
    from mlops_nb.drift._performance import CHUNK_COL, chunker_by_code

    nml = import_nannyml()
    ref = pd.DataFrame(
        {"__score_1": p1, "__pred__": pred, "__y__": y, CHUNK_COL: codes}
    )
    with warnings.catch_warnings():  # nannyml warns about few chunks and calibration
        warnings.simplefilter("ignore")
        est = nml.CBPE(
            y_pred_proba="__score_1", y_pred="__pred__", y_true="__y__",
            metrics=["roc_auc", *METRICS, "confusion_matrix"],
            problem_type="classification_binary", chunker=chunker_by_code(),
            normalize_confusion_matrix=None,
        )  # fmt: skip
        est.fit(ref)
    calibrator = None
    if est.needs_calibration:
        r = est.calibrator._regressor
        calibrator = {
            "x": r.X_thresholds_.tolist(),
            "y": r.y_thresholds_.tolist(),
            "lo": float(r.X_min_),
            "hi": float(r.X_max_),
        }
    metrics = {}
    for m in est.metrics:
        if m.name == "confusion_matrix":
            for cell, name in CELLS:
                metrics[cell] = {
                    "lower": _num(getattr(m, f"{name}_lower_threshold")),
                    "upper": _num(getattr(m, f"{name}_upper_threshold")),
                    "lower_limit": _num(m.lower_threshold_value_limit),
                    "upper_limit": _num(m.upper_threshold_value_limit),
                    "components": _plain(
                        getattr(m, f"_{name}_sampling_error_components")
                    ),
                }
            continue
        metrics[m.name] = {
            "lower": _num(m.lower_threshold_value),
            "upper": _num(m.upper_threshold_value),
            "lower_limit": _num(m.lower_threshold_value_limit),
            "upper_limit": _num(m.upper_threshold_value_limit),
            "components": _plain(m._sampling_error_components),
        }
    qs = np.quantile(p1, np.linspace(0, 1, SCORE_BINS + 1)[1:-1])
    return {
        "calibrator": calibrator,
        "edges": np.unique(qs).tolist(),
        "metrics": metrics,
        "reference_roc_auc": _num(_realized_auc(y, p1)),
    }


def _realized_auc(y: np.ndarray, p1: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p1))


def _num(v: Any) -> float | None:
    return None if v is None or v != v else float(v)


def _plain(components: Any) -> list[Any]:
    out = []
    for c in components:
        out.append(c if c is None or isinstance(c, str) else float(c))
    return out


# -- on the workers --------------------------------------------------------------------
def score_frame(
    frame: pd.DataFrame, plan: dict[str, Any], data: bytes
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """Score a partition: the reviewed score, and CBPE's row values (binary only)."""
    import numpy as np

    from mlops_nb.deploy._batch import model_outputs

    labels, proba = model_outputs(frame, plan["job"], data)
    if plan["task"] == "regression":
        return np.asarray(labels, dtype="float64"), None
    proba = np.asarray(proba, dtype="float64").reshape(len(frame), -1)
    pos, t = plan["pos"], plan["threshold"]
    score = proba[:, pos]
    if plan["cbpe"] is None:
        return score, None
    decided = score >= t
    pred1 = decided if pos == 1 else ~decided
    p1 = proba[:, 1]
    return score, {"raw": p1, "p": calibrate(p1, plan["cbpe"]["calibrator"]),
                   "pred": pred1}  # fmt: skip


def calibrate(p: np.ndarray, cal: dict[str, Any] | None) -> np.ndarray:
    """Apply the reference's isotonic calibrator (as scikit-learn's ``predict``)."""
    import numpy as np

    if cal is None:
        return p
    x = np.clip(p, cal["lo"], cal["hi"])
    ys = np.asarray(cal["y"], dtype="float64")
    if len(ys) == 1:
        return np.full(len(x), ys[0])
    from scipy.interpolate import interp1d

    f = interp1d(np.asarray(cal["x"], dtype="float64"), ys, kind="linear",
                 bounds_error=False)  # fmt: skip
    return np.asarray(f(x), dtype="float64")


def sums(rows: dict[str, np.ndarray], mask: np.ndarray, edges: list[float]) -> dict:
    """Return the mergeable CBPE sums of the rows in ``mask``."""
    import numpy as np

    p, pred, raw = rows["p"][mask], rows["pred"][mask], rows["raw"][mask]
    b = np.searchsorted(np.asarray(edges, dtype="float64"), raw, side="right")
    k = len(edges) + 1
    return {
        "n": int(mask.sum()),
        "tp": float(p[pred].sum()),
        "fp": float((1 - p[pred]).sum()),
        "fn": float(p[~pred].sum()),
        "tn": float((1 - p[~pred]).sum()),
        "bins_n": np.bincount(b, minlength=k).tolist(),
        "bins_p": np.bincount(b, weights=p, minlength=k).tolist(),
        "bins_q": np.bincount(b, weights=p * (1 - p), minlength=k).tolist(),
    }


def merge_sums(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict | None:
    """Add two chunks' sums (None is nothing)."""
    if a is None or b is None:
        return a if b is None else b
    out = {k: a[k] + b[k] for k in ("n", "tp", "fp", "fn", "tn")}
    for k in ("bins_n", "bins_p", "bins_q"):
        out[k] = [x + y for x, y in zip(a[k], b[k], strict=True)]
    return out


# -- in this process: the estimate -----------------------------------------------------
def _values(s: dict[str, Any]) -> dict[str, float]:
    """Apply nannyml's formulas to the sums (binary, cells not normalised)."""
    n, tp, fp, fn, tn = s["n"], s["tp"], s["fp"], s["fn"], s["tn"]

    def ratio(a: float, b: float) -> float:
        return a / b if b != 0 else 0.0

    return {
        "accuracy": (tp + tn) / n,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(tp, tp + 0.5 * (fp + fn)),
        "specificity": ratio(tn, tn + fp),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }  # fmt: skip


def binned_auc(s: dict[str, Any]) -> tuple[float | None, float | None]:
    """ROC AUC through the score bins' boundaries, and its bound (module doc)."""
    import numpy as np

    pb = np.asarray(s["bins_p"], dtype="float64")[::-1]  # highest scores first
    nb = np.asarray(s["bins_n"], dtype="float64")[::-1] - pb
    qb = np.asarray(s["bins_q"], dtype="float64")[::-1]
    p, n = float(pb.sum()), float(nb.sum())
    if p <= ROUNDING or n <= ROUNDING:
        return None, None
    before = np.cumsum(pb) - pb
    auc = float(np.sum(nb * (before + pb / 2)) / (p * n))
    within = 0.5 * float(np.sum(np.maximum(pb * nb - qb, 0))) / (p * n)
    rounding = 4 * ROUNDING * (1 / (p - ROUNDING) + 1 / (n - ROUNDING))
    return auc, within + rounding


_SE = {"roc_auc": "auroc", "tp": "true_positive", "fp": "false_positive",
       "fn": "false_negative", "tn": "true_negative"}  # fmt: skip


def _row(value: float | None, fitted: dict[str, Any], name: str, n: int) -> dict:
    """Value, sampling error, band, thresholds and alert, as nannyml reports them."""
    from mlops_nb._offline import import_nannyml

    import_nannyml()
    import nannyml.sampling_error.binary_classification as bse
    from nannyml.sampling_error import SAMPLING_ERROR_RANGE

    lo_t, hi_t = fitted["lower"], fitted["upper"]
    if value is None or n == 0:
        return {"estimated": None, "sampling_error": None, "upper_band": None,
                "lower_band": None, "upper_threshold": hi_t, "lower_threshold": lo_t,
                "alert": False}  # fmt: skip
    se_of = getattr(bse, f"{_SE.get(name, name)}_sampling_error")
    se = float(se_of(tuple(fitted["components"]), range(n)))
    lo_l, hi_l = fitted["lower_limit"], fitted["upper_limit"]
    upper = min(
        float("inf") if hi_l is None else hi_l, value + SAMPLING_ERROR_RANGE * se
    )
    lower = max(
        float("-inf") if lo_l is None else lo_l, value - SAMPLING_ERROR_RANGE * se
    )
    alert = (lo_t is not None and value < lo_t) or (hi_t is not None and value > hi_t)
    return {"estimated": value, "sampling_error": se, "upper_band": upper,
            "lower_band": lower, "upper_threshold": hi_t, "lower_threshold": lo_t,
            "alert": bool(alert)}  # fmt: skip


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}


def performance(
    chunk_sums: list[dict[str, Any] | None],
    plan: dict[str, Any],
    keys: list[str],
    *,
    consecutive: int,
    notes: list[str],
) -> dict[str, Any]:
    """Return the review's performance section, shaped as the in-memory path's.

    ``estimated`` (and its band, thresholds and alerts) is ROC AUC from the score
    bins, ``bound`` the bound of each value; ``confusion`` the expected cells and
    ``estimated_all`` accuracy, precision, recall, F1 and specificity (exact).
    """
    from mlops_nb.drift._performance import concept_verdict

    k = len(keys)
    none: list[Any] = [None] * k
    cbpe = plan.get("cbpe")
    if cbpe is None:
        return {
            "method": "not estimated on large data (see notes)",
            "metric": "rmse" if plan["task"] == "regression" else "roc_auc",
            "estimated": none, "lower_band": none, "upper_band": none,
            "lower_threshold": none, "upper_threshold": none,
            "sampling_error": none, "alert": [False] * k,
            "estimated_alert": [False] * k, "realized": none,
            "realized_alert": [False] * k, "realized_all": {},
            "concept": concept_verdict(none, none, none, keys, consecutive=consecutive),
            "confusion": None, "notes": list(notes), "reference_value": None,
        }  # fmt: skip
    fitted = cbpe["metrics"]
    auc_rows, bounds, all_rows, cells = [], [], {m: [] for m in METRICS}, []
    for s in chunk_sums:
        n = 0 if s is None else int(s["n"])
        auc, bound = (None, None) if not n else binned_auc(s)
        values = _values(s) if n else {}
        auc_rows.append(_row(auc, fitted["roc_auc"], "roc_auc", n))
        bounds.append(bound)
        for m in METRICS:
            all_rows[m].append(_row(values.get(m), fitted[m], m, n))
        cells.append({c: values.get(c) for c, _ in CELLS})
    m = _columns(auc_rows)
    lower_t = fitted["roc_auc"]["lower"]
    estimated_alert = [
        bool(a) and e is not None and lower_t is not None and e < lower_t
        for a, e in zip(m["alert"], m["estimated"], strict=True)
    ]
    return {
        "method": "CBPE (confidence-based performance estimation), from "
        "per-partition sums on the workers",
        "metric": "roc_auc",
        **m,
        "bound": bounds,
        "estimated_alert": estimated_alert,
        "estimated_all": {name: _columns(rows) for name, rows in all_rows.items()},
        "realized": none,
        "realized_alert": [False] * k,
        "realized_all": {},
        "concept": concept_verdict(none, none, none, keys, consecutive=consecutive),
        "confusion": _columns(cells),
        "notes": list(notes),
        "reference_value": cbpe["reference_roc_auc"],
        "large": (
            "expected confusion matrix, accuracy, precision, recall, F1 and "
            "specificity: exact (sums of calibrated probabilities over every row); "
            f"ROC AUC: from {len(cbpe['edges']) + 1:,} score bins, each value within "
            "its bound of the exact one"
        ),
    }
