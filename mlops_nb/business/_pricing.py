"""Pricing regression and multiclass predictions with the value canvas.

A regression model's predictions cost ``cost_per_unit_error`` per unit of absolute
error; a multiclass model's are worth ``class_values[c]["right"]`` or ``["wrong"]`` for
a case of class ``c``. Evaluation reports both per 1,000 cases.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_nb.business._canvas_html import money_text
from mlops_nb.errors import ValidationError, listing

if TYPE_CHECKING:
    from mlops_nb.business._canvas import ValueCanvas

_CLASS_KEYS = ("right", "wrong")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_class_values(table: Any, problems: list[tuple[str, Any, str]]) -> dict:
    """Validate ``{class: {"right": value, "wrong": value}}``; keys become text."""
    example = "{'red': {'right': 10, 'wrong': -5}, ...}"
    if not isinstance(table, Mapping) or not table:
        kind = type(table).__name__
        text = f"must be a non-empty dict {example}, got {kind}."
        problems.append(("class_values", table, text))
        return {}
    clean: dict[str, dict[str, float]] = {}
    for cls, row in table.items():
        name = f"class_values[{cls!r}]"
        if not isinstance(row, Mapping) or set(row) != set(_CLASS_KEYS):
            text = (
                "must be {'right': value, 'wrong': value}: the money value of a right "
                "and of a wrong prediction for a case of this class."
            )
            problems.append((name, row, text))
            continue
        bad = [
            k
            for k in _CLASS_KEYS
            if not _is_number(row[k]) or not math.isfinite(float(row[k]))
        ]
        if bad:
            problems.append((name, row, f"{listing(bad)} must be finite numbers."))
            continue
        clean[str(cls)] = {k: float(row[k]) for k in _CLASS_KEYS}
    return clean


def _paired(y_true: Any, y_pred: Any, what: str) -> tuple[Any, Any]:
    import numpy as np

    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        msg = (
            f"{what}: need one prediction per true value, got {t.shape} and {p.shape}."
        )
        raise ValidationError(msg)
    return t, p


def price_predictions(
    canvas: ValueCanvas, task: str, y_true: Any, y_pred: Any
) -> dict[str, Any] | None:
    """Price regression or multiclass predictions with the canvas, for evaluation.

    Returns ``None`` when the canvas has no price for ``task`` (binary decisions are
    priced by threshold in the evaluation itself), else the total ``value``, the
    value ``per_1000`` cases, the ``basis`` in words and, for multiclass, the value
    ``per_class``. A class the table lacks gives an ``error`` entry instead.
    """
    import numpy as np

    t, p = _paired(y_true, y_pred, "price_predictions()")
    n = len(t)
    head = {"canvas_version": canvas.version, "currency": canvas.currency, "n": n}
    if not n:
        return None
    if task == "regression" and canvas.cost_per_unit_error is not None:
        value = canvas.regression_value(t, p)
        return {
            **head,
            "kind": "regression",
            "value": value,
            "per_1000": value / n * 1000,
            "basis": f"{money_text(-canvas.cost_per_unit_error)} {canvas.currency} "
            "per unit of absolute error",
        }
    if task == "multiclass" and canvas.class_values:
        try:
            value = canvas.class_value(t, p)
        except ValidationError as err:
            return {**head, "error": str(err)}
        ts, ps = t.astype(str), p.astype(str)
        per_class = [
            {
                "class": c,
                "cases": int((ts == c).sum()),
                "right": int(((ts == c) & (ps == c)).sum()),
                "value": canvas.class_value(ts[ts == c], ps[ts == c]),
            }
            for c in sorted(np.unique(ts))
        ]
        return {
            **head,
            "kind": "multiclass",
            "value": value,
            "per_1000": value / n * 1000,
            "basis": "value of a right / wrong prediction per class (class_values)",
            "per_class": per_class,
        }
    return None
