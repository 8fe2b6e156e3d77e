"""Partner parameters: extraction from models, sanitation, weights (T32, T33).

Each partner sends a model with the same schema: a scikit-learn linear model
(``coef_``, ``intercept_``), a small neural network (``MLPClassifier`` /
``MLPRegressor``: ``coefs_``, ``intercepts_``), a mapping of names to arrays, or one
array. Before any aggregation every update is checked, and each problem is logged
with the partner's id and the reason:

- structure (names and shapes) must match the majority; classes must match;
- dtype must be floating point; no NaN or infinity: otherwise the update is rejected;
- its distance from the centre (the current global model when given, else the
  coordinate-wise median) is clipped to ``clip_norm`` (default: 3x the median
  distance), which bounds model-replacement updates scaled by n/eta;
- self-reported weights are capped at ``weight_cap`` x their median in low-trust mode.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("mlops_nb.secure")


def params_of(model: Any) -> tuple[list[tuple[str, Any]], list[Any] | None]:
    """``([(name, array), ...], classes)`` of a partner model, arrays not copied."""
    import numpy as np

    classes = getattr(model, "classes_", None)
    classes = (
        [c.item() if hasattr(c, "item") else c for c in classes]
        if classes is not None
        else None
    )
    if hasattr(model, "coefs_") and hasattr(model, "intercepts_"):
        out = [(f"coefs_{i}", np.asarray(a)) for i, a in enumerate(model.coefs_)]
        return out + [
            (f"intercepts_{i}", np.asarray(a)) for i, a in enumerate(model.intercepts_)
        ], classes
    if hasattr(model, "coef_"):
        return [
            ("coef_", np.asarray(model.coef_)),
            ("intercept_", np.atleast_1d(np.asarray(model.intercept_))),
        ], classes
    if isinstance(model, Mapping):
        return [(str(k), np.asarray(v)) for k, v in model.items()], None
    if isinstance(model, (np.ndarray, list, tuple)):
        return [("weights", np.asarray(model))], None
    msg = (
        f"aggregate: cannot read parameters from a {type(model).__name__}. Send a "
        f"fitted linear "
        "model (coef_/intercept_), an MLP (coefs_/intercepts_), a dict of arrays or "
        "an array."
    )
    raise ValidationError(msg)


def with_params(template: Any, params: list[tuple[str, np.ndarray]]) -> Any:
    """Return a copy of ``template`` carrying ``params`` (the partners' kind)."""
    import copy

    import numpy as np

    values = dict(params)
    if hasattr(template, "coefs_"):
        out = copy.deepcopy(template)
        out.coefs_ = [values[f"coefs_{i}"] for i in range(len(template.coefs_))]
        out.intercepts_ = [
            values[f"intercepts_{i}"] for i in range(len(template.intercepts_))
        ]
        return out
    if hasattr(template, "coef_"):
        out = copy.deepcopy(template)
        out.coef_ = values["coef_"]
        scalar = np.ndim(template.intercept_) == 0
        out.intercept_ = values["intercept_"][0] if scalar else values["intercept_"]
        return out
    if isinstance(template, Mapping):
        return dict(values)
    return values["weights"]


def sanitize(
    partners: dict[str, Any], *, events: list[dict[str, Any]]
) -> tuple[dict[str, list[tuple[str, Any]]], Any]:
    """Reject malformed updates; return accepted parameters and a template model."""
    import numpy as np

    parsed, classes = {}, {}
    for pid, model in partners.items():
        try:
            parsed[pid], classes[pid] = params_of(model)
        except ValidationError as err:
            _event(events, pid, "structure", "rejected", str(err))
    signature = {pid: tuple((n, a.shape) for n, a in ps) for pid, ps in parsed.items()}
    if not signature:
        return {}, None
    majority, _ = Counter(signature.values()).most_common(1)[0]
    class_majority, _ = Counter(repr(c) for c in classes.values()).most_common(1)[0]
    accepted = {}
    for pid, ps in parsed.items():
        if signature[pid] != majority:
            got = ", ".join(f"{n}{a.shape}" for n, a in ps)
            want = ", ".join(f"{n}{s}" for n, s in majority)
            _event(
                events, pid, "shape", "rejected", f"parameters {got}; expected {want}"
            )
        elif repr(classes[pid]) != class_majority:
            _event(
                events,
                pid,
                "classes",
                "rejected",
                f"classes {classes[pid]}; expected {class_majority}",
            )
        elif any(a.dtype.kind != "f" for _, a in ps):
            bad = sorted({str(a.dtype) for _, a in ps if a.dtype.kind != "f"})
            _event(
                events,
                pid,
                "dtype",
                "rejected",
                f"dtype {', '.join(bad)}; expected floating point",
            )
        elif not all(np.isfinite(a).all() for _, a in ps):
            n_nan = sum(int(np.isnan(a).sum()) for _, a in ps)
            n_inf = sum(int(np.isinf(a).sum()) for _, a in ps)
            _event(
                events,
                pid,
                "finite",
                "rejected",
                f"{n_nan} NaN and {n_inf} infinite values",
            )
        else:
            accepted[pid] = ps
    template = next(iter(accepted), None)
    return accepted, (partners[template] if template is not None else None)


def clip(
    V: np.ndarray,
    ids: list[str],
    centre: np.ndarray,
    clip_norm: Any,
    *,
    events: list[dict[str, Any]],
) -> tuple[np.ndarray, float | None]:
    """Scale each row's distance from ``centre`` down to the bound; log every clip."""
    import numpy as np

    if clip_norm is None:
        return V, None
    dist = np.linalg.norm(V - centre, axis=1)
    if clip_norm == "auto":
        bound = 3.0 * float(np.median(dist))
    elif isinstance(clip_norm, (int, float)) and clip_norm > 0:
        bound = float(clip_norm)
    else:
        msg = (
            f"aggregate(clip_norm={clip_norm!r}): use 'auto', None or a positive "
            f"number."
        )
        raise ValidationError(msg)
    if bound <= 0:
        return V, bound
    out = V.copy()
    for i, d in enumerate(dist):
        if d > bound:
            out[i] = centre + (V[i] - centre) * (bound / d)
            _event(
                events,
                ids[i],
                "norm",
                "clipped",
                f"distance {d:.4g} from the centre clipped to {bound:.4g}",
            )
    return out, bound


def capped_weights(
    ids: list[str],
    weights: Any,
    *,
    low_trust: bool,
    cap: float,
    events: list[dict[str, Any]],
) -> np.ndarray:
    """Per-partner weights, validated; capped at ``cap`` x median in low-trust mode."""
    import numpy as np

    if weights is None or weights == "equal":
        return np.ones(len(ids))
    if isinstance(weights, Mapping):
        missing = [p for p in ids if p not in weights]
        if missing:
            msg = f"aggregate(weights=...): no weight for partner(s) {missing}."
            raise ValidationError(msg)
        w = np.array([weights[p] for p in ids], dtype=float)
    else:
        msg = (
            "aggregate(weights=...): pass a dict partner id -> number of "
            "examples, or 'equal'."
        )
        raise ValidationError(msg)
    if not np.isfinite(w).all() or (w < 0).any():
        msg = "aggregate(weights=...): weights must be finite and >= 0."
        raise ValidationError(msg)
    if low_trust:
        limit = cap * float(np.median(w))
        for i, pid in enumerate(ids):
            if w[i] > limit:
                _event(
                    events,
                    pid,
                    "weight",
                    "capped",
                    f"reported weight {w[i]:.6g} capped to {limit:.6g} "
                    f"({cap:g}x the median)",
                )
                w[i] = limit
    if w.sum() <= 0:
        msg = "aggregate(weights=...): all weights are zero."
        raise ValidationError(msg)
    return w


def _event(
    events: list[dict[str, Any]], pid: str, check: str, action: str, reason: str
) -> None:
    events.append({"partner": pid, "check": check, "action": action, "reason": reason})
    log.info("aggregate: partner %s %s (%s): %s", pid, action, check, reason)
