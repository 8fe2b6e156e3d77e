"""The decision threshold of a binary model version: one number every stage decides at.

A binary classifier decides "positive class" when ``P(positive class) >= threshold``.
Each binary version has one threshold:

- ``canvas``: recorded when the version was trained, the value canvas's
  value-maximising threshold on the validation rows (holdout, or the out-of-fold
  scores of cross-validation), when the project's canvas priced binary decisions;
- ``default``: 0.5 on the model's second class, when nothing was recorded;
- ``set``: chosen later with :meth:`Model.set_threshold` (audited; the newest wins);
- ``mitigation``: a fairness-mitigated version decides with its per-group thresholds
  (its scores are shifted so that 0.5 is each group's threshold).

The setting lives in the registry's ``model_thresholds`` table, not in the version's
files: versions stay immutable and a signed version's signature covers its files, not
its threshold. Every change is in the audit log.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

    from mlops_nb.business._canvas import ValueCanvas
    from mlops_nb.model._model import Model

DEFAULT = 0.5


def class_index(classes: list[Any], cls: Any) -> int:
    """Return the index of ``cls`` in ``classes`` (matched by value, then by text)."""
    for i, c in enumerate(classes):
        if c == cls and str(c) == str(cls):
            return i
    for i, c in enumerate(classes):
        if str(c) == str(cls):
            return i
    return -1


def decide(proba: np.ndarray, classes: list[Any], info: dict[str, Any]) -> np.ndarray:
    """Labels of a binary model: the positive class iff its probability >= threshold.

    Parameters
    ----------
    proba : ndarray of shape (n, 2)
        Class probabilities, columns in the order of ``classes``.
    classes : list
        The model's two classes.
    info : dict
        A threshold (``value`` and ``positive_class``), as :func:`threshold_info`
        returns it.
    """
    import numpy as np

    k = class_index(classes, info["positive_class"])
    k = len(classes) - 1 if k < 0 else k
    chosen = np.where(np.asarray(proba)[:, k] >= info["value"], k, 1 - k)
    return np.asarray(classes)[chosen]


def describe(info: dict[str, Any] | None) -> str:
    """Return one line: ``P(1) >= 0.1306 (the model's threshold, set from ...)``."""
    if not info:
        return "the most likely class"
    source = {
        "canvas": "set from the value canvas",
        "default": "the default",
        "set": f"set by {info.get('by') or 'a user'}",
        "mitigation": "per-group thresholds of the mitigation",
    }.get(info.get("source", ""), info.get("source", ""))
    return (
        f"P({info['positive_class']}) >= {info['value']:.4g} "
        f"(the model's threshold, {source})"
    )


def canvas_default(
    canvas: ValueCanvas | None,
    classes: list[Any] | None,
    y: Any,
    proba: np.ndarray | None,
    *,
    scheme: str,
) -> dict[str, Any] | None:
    """Return the canvas's value-maximising threshold on validation scores, or None.

    None unless ``canvas`` prices binary decisions (outcomes given) and its
    positive class is one of the two ``classes``.
    """
    import numpy as np

    if canvas is None or not canvas.outcomes or proba is None or not classes:
        return None
    if len(classes) != 2:
        return None
    k = class_index(classes, canvas.positive_class)
    if k < 0:
        return None
    positive = np.array([class_index(classes, v) == k for v in np.asarray(y).tolist()])
    best = canvas.best_threshold(positive, np.asarray(proba)[:, k])
    value = float(min(max(best.threshold, 0.0), 1.0))
    nobody = math.isinf(best.threshold)
    return {
        "value": value,
        "positive_class": classes[k],
        "source": "canvas",
        "reason": (
            f"value-maximising threshold of value canvas v{canvas.version} on the "
            f"{scheme} ({len(positive):,} rows)"
            + ("; acting on nobody was worth the most" if nobody else "")
        ),
        "canvas_version": canvas.version,
    }


def _latest(model: Model) -> dict[str, Any] | None:
    from mlops_nb.store._q_models import latest_threshold

    r = latest_threshold(model.project._store, model.id)
    if r is None:
        return None
    try:
        positive = json.loads(r["positive_class"])
        value = float(r["threshold"])
    except (TypeError, ValueError) as err:
        from mlops_nb.errors import IntegrityError

        msg = (
            f"model_thresholds row of {model.label} is not what mlops_nb wrote "
            f"({err}); set the threshold again with model.set_threshold(t, "
            "reason=...), or restore the project from a backup."
        )
        raise IntegrityError(msg) from err
    return {
        "value": value,
        "positive_class": positive,
        "source": "set",
        "reason": r["reason"],
        "by": r["by"],
        "at": r["at"],
    }


def threshold_info(model: Model) -> dict[str, Any] | None:
    """Return the decision threshold of ``model`` and its source (None unless binary).

    Returns
    -------
    dict or None
        ``value``, ``positive_class``, ``source`` (``canvas``, ``default``, ``set`` or
        ``mitigation``), ``reason``, ``by`` and ``at``.
    """
    if model.task != "binary" or not model.classes or len(model.classes) != 2:
        return None
    mitigation = model.recipe.get("mitigation") or {}
    if mitigation.get("method") == "threshold_optimizer":
        k = class_index(model.classes, mitigation.get("pos_label"))
        return {
            "value": DEFAULT,
            "positive_class": model.classes[k if k >= 0 else 1],
            "source": "mitigation",
            "reason": "per-group thresholds of the threshold_optimizer mitigation "
            "(scores are shifted so that 0.5 is each group's threshold)",
            "by": model.created_by,
            "at": model.created_at,
        }
    latest = _latest(model)
    if latest is not None:
        return latest
    recorded = model.recipe.get("threshold")
    if isinstance(recorded, dict) and "value" in recorded:
        return {
            **recorded,
            "by": model.created_by,
            "at": model.created_at,
        }
    return {
        "value": DEFAULT,
        "positive_class": model.classes[1],
        "source": "default",
        "reason": "no value canvas priced this version's decisions when it was "
        "trained; set one with model.set_threshold(t, reason=...)",
        "by": model.created_by,
        "at": model.created_at,
    }


def set_threshold(model: Model, threshold: float, *, reason: str) -> dict[str, Any]:
    """Record a new decision threshold of ``model``; see :meth:`Model.set_threshold`."""
    from mlops_nb.store._db import now

    what = f"{model.label}.set_threshold"
    if model.task != "binary" or not model.classes or len(model.classes) != 2:
        msg = (
            f"{what}: {model.label} is a {model.task} model; only a binary classifier "
            "decides at a threshold. Its decisions are "
            + ("its predicted values." if model.task == "regression" else "argmax.")
        )
        raise ValidationError(msg)
    if (model.recipe.get("mitigation") or {}).get("method") == "threshold_optimizer":
        msg = (
            f"{what}: {model.label} is a fairness-mitigated version that decides with "
            "per-group thresholds; set the threshold of the original version, or "
            "mitigate again."
        )
        raise ValidationError(msg)
    ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if not ok or not math.isfinite(threshold) or not 0 < threshold < 1:
        msg = (
            f"{what}: threshold={threshold!r} must be a number strictly between 0 "
            "and 1 (the probability of the positive class from which to decide "
            "positive), e.g. model.set_threshold(0.3, reason='...')."
        )
        raise ValidationError(msg)
    if not isinstance(reason, str) or not reason.strip():
        msg = (
            f"{what}: give a reason (who asked for it, which evaluation supports it), "
            "e.g. reason='value-maximising on test v1'; it goes into the audit log."
        )
        raise ValidationError(msg)
    store = model.project._store
    if store.read_only:
        msg = (
            f"{what}: the project {model.project.path} is open read-only "
            f"({store.read_only}); the threshold was not changed. Open it as a user "
            "who can write to it."
        )
        from mlops_nb.errors import StoreError

        raise StoreError(msg)
    before = threshold_info(model) or {}
    positive = before.get("positive_class", model.classes[1])
    at, by = now(), model.project._user()
    from mlops_nb.store._q_models import insert_threshold

    with store.write() as conn:
        positive_json = json.dumps(positive)
        insert_threshold(
            conn, model.id, float(threshold), positive_json, reason.strip(), at, by
        )
        store.audit(
            conn,
            "set_threshold",
            f"model:{model.name}@{model.version}",
            threshold=float(threshold),
            previous=before.get("value"),
            previous_source=before.get("source"),
            positive_class=str(positive),
            reason=reason.strip(),
        )
    return threshold_info(model) or {}
