"""Robust aggregation of partner models for federated or transfer learning (T30-T33).

Methods, on the flattened parameter vectors of ``n`` partners of whom up to ``f`` may
be hostile:

- ``mean``: (weighted) average. One partner can move it anywhere, so in low-trust mode
  (the default) it is refused unless ``unsafe=True``.
- ``median``: coordinate-wise median; needs ``f < n/2``.
- ``trimmed_mean``: per coordinate, drop the ``floor(beta n)`` lowest and highest
  values and average the rest; needs ``0 <= beta < 0.5`` and ``floor(beta n) >= f``.
- ``krum``: multi-Krum (Blanchard et al. 2017; El Mhamdi et al. 2018): score each
  partner by the summed squared distances to its ``n - f - 2`` nearest others and
  average the ``m`` best (default ``m = n - f``; ``m=1`` is classic Krum); needs
  ``n >= 2f + 3``.
- ``bulyan``: select ``n - 2f`` partners by repeated Krum, then average, per
  coordinate, the ``n - 4f`` values nearest the median; needs ``n >= 4f + 3``.

Preconditions are checked before anything is aggregated and raise
:class:`~mlops_nb.errors.ValidationError` (a ``ValueError``); nothing is silently
clamped. Each partner gets a trust score from its distance to the robust centre (the
coordinate-wise median): 1 within twice the median distance, falling as 1/distance
beyond.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from mlops_nb.errors import ValidationError
from mlops_nb.secure._sanitize import capped_weights, clip, sanitize, with_params

if TYPE_CHECKING:
    import numpy as np

    from mlops_nb.secure._aggregate_report import AggregationResult

METHODS = ("mean", "median", "trimmed_mean", "krum", "bulyan")


def max_faulty(method: str, n: int, beta: float) -> int:
    """Return the most hostile partners ``method`` tolerates among ``n``."""
    return {
        "mean": 0,
        "median": (n - 1) // 2,
        "trimmed_mean": math.floor(beta * n + 1e-9),
        "krum": max((n - 3) // 2, 0),
        "bulyan": max((n - 3) // 4, 0),
    }[method]


def check_preconditions(method: str, n: int, f: int, beta: float) -> None:
    """Raise before aggregating when ``method`` cannot resist ``f`` of ``n``."""
    what = f"aggregate(method={method!r}, f={f}) with {n} partners"
    if f < 0:
        msg = f"{what}: f must be >= 0."
        raise ValidationError(msg)
    if method == "median" and f >= n / 2:
        msg = (
            f"{what}: the median needs f < n/2; with {f} hostile partners use "
            f"more partners."
        )
        raise ValidationError(msg)
    if method == "trimmed_mean":
        if not 0 <= beta < 0.5:
            msg = (
                f"{what}: beta={beta!r} must be in [0, 0.5) (share trimmed on "
                f"each side)."
            )
            raise ValidationError(msg)
        k = math.floor(beta * n + 1e-9)
        if k < f:
            msg = (
                f"{what}: beta={beta} trims {k} value(s) per side, fewer than "
                f"f={f}; hostile values "
                f"would survive. Use beta >= {f / n:.2f} (below 0.5) or "
                f"method='median'."
            )
            raise ValidationError(msg)
    if method == "krum" and n < 2 * f + 3:
        msg_0 = f"{what}: Krum needs n >= 2f + 3 = {2 * f + 3} partners."
        raise ValidationError(msg_0)
    if method == "bulyan" and n < 4 * f + 3:
        msg_0 = f"{what}: Bulyan needs n >= 4f + 3 = {4 * f + 3} partners."
        raise ValidationError(msg_0)


def _krum_scores(V: np.ndarray, f: int) -> np.ndarray:
    import numpy as np

    n = len(V)
    d2 = ((V[:, None, :] - V[None, :, :]) ** 2).sum(axis=2)
    m = max(n - f - 2, 1)
    return np.array([np.sort(np.delete(d2[i], i))[:m].sum() for i in range(n)])


def _trimmed(V: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    import numpy as np

    order = np.argsort(V, axis=0, kind="stable")
    vals = np.take_along_axis(V, order, axis=0)[k : len(V) - k]
    ws = w[order][k : len(V) - k]
    return (vals * ws).sum(axis=0) / ws.sum(axis=0)


def combine(
    V: np.ndarray, w: np.ndarray, method: str, f: int, beta: float, m: int | None
) -> tuple[np.ndarray, list[int]]:
    """Return the aggregate vector and the rows that contributed to it."""
    import numpy as np

    n = len(V)
    if method == "mean":
        return (V * w[:, None]).sum(axis=0) / w.sum(), list(range(n))
    if method == "median":
        return np.median(V, axis=0), list(range(n))
    if method == "trimmed_mean":
        return _trimmed(V, w, math.floor(beta * n + 1e-9)), list(range(n))
    if method == "krum":
        chosen = np.argsort(_krum_scores(V, f), kind="stable")[: (m or n - f)]
        return (V[chosen] * w[chosen, None]).sum(axis=0) / w[chosen].sum(), sorted(
            chosen.tolist()
        )
    remaining, picked = list(range(n)), []
    for _ in range(n - 2 * f):  # bulyan: repeated krum
        scores = _krum_scores(V[remaining], f)
        picked.append(remaining.pop(int(np.argmin(scores))))
    S = V[picked]
    med = np.median(S, axis=0)
    keep = max(len(picked) - 2 * f, 1)
    nearest = np.argsort(np.abs(S - med), axis=0, kind="stable")[:keep]
    return np.take_along_axis(S, nearest, axis=0).mean(axis=0), sorted(picked)


def aggregate(
    models: Mapping[str, Any] | Sequence[Any],
    *,
    method: Literal[
        "mean", "median", "trimmed_mean", "krum", "bulyan"
    ] = "trimmed_mean",
    f: int | None = None,
    beta: float = 0.3,
    m: int | None = None,
    weights: Any = None,
    trust: Literal["low", "high"] = "low",
    unsafe: bool = False,
    clip_norm: Any = "auto",
    weight_cap: float = 2.0,
    reference: Any = None,
) -> AggregationResult:
    """Aggregate partner models with the same schema, robustly.

    Parameters
    ----------
    models : mapping of partner id to model, or sequence
        Fitted scikit-learn linear models or MLPs, dicts of arrays, or arrays.
    method : {"mean", "median", "trimmed_mean", "krum", "bulyan"}
        The aggregation rule (see the module notes).
    f : int, optional
        Hostile partners to tolerate (default: the most ``method`` can).
    beta : float
        Share trimmed on each side by ``trimmed_mean``.
    m : int, optional
        Partners averaged by multi-Krum (default ``n - f``).
    weights : dict, optional
        Partner id -> number of examples (self-reported). Used by mean, trimmed mean
        and Krum; capped at ``weight_cap`` x the median in low-trust mode.
    trust : {"low", "high"}
        ``low`` (default): the plain mean is refused unless ``unsafe=True``, weights
        are capped.
    unsafe : bool
        Allow the mean in low-trust mode.
    clip_norm : "auto", float or None
        Bound on each update's distance from the centre (``reference`` when given,
        else the coordinate-wise median); "auto" is 3x the median distance.
    reference : model, optional
        The current global model; it is never modified.

    Returns
    -------
    AggregationResult
        ``.model`` (same kind as the partners' models), ``.trust`` per partner and
        ``.log`` of every rejected, clipped or capped update.

    Raises
    ------
    ValidationError
        For an unknown method, a violated precondition, the mean in low-trust mode
        without ``unsafe=True``, or too few valid partners left (quorum): then nothing
        is aggregated and the global model is unchanged.
    """
    import numpy as np

    from mlops_nb.secure._aggregate_report import AggregationResult
    from mlops_nb.secure._sanitize import params_of

    if method not in METHODS:
        msg = f"aggregate(method={method!r}): use one of {', '.join(METHODS)}."
        raise ValidationError(msg)
    if trust not in ("low", "high"):
        msg = f"aggregate(trust={trust!r}): use 'low' or 'high'."
        raise ValidationError(msg)
    if method == "mean" and trust == "low" and not unsafe:
        msg = (
            "aggregate(method='mean'): in low-trust mode one hostile partner can "
            "move the plain mean "
            "anywhere. Use 'trimmed_mean', 'median' or 'krum', or pass unsafe=True "
            "if every partner "
            "is trusted."
        )
        raise ValidationError(msg)
    partners = (
        dict(models)
        if isinstance(models, Mapping)
        else {f"partner-{i + 1}": p for i, p in enumerate(models)}
    )
    partners = {str(k): v for k, v in partners.items()}
    events: list[dict[str, Any]] = []
    accepted, template = sanitize(partners, events=events)
    ids = list(accepted)
    n = len(ids)
    f_eff = max_faulty(method, n, beta) if f is None else int(f)
    if n == 0 or (method != "mean" and n < 3):
        why = "; ".join(
            f"{e['partner']}: {e['reason']}"
            for e in events
            if e["action"] == "rejected"
        )
        msg = (
            f"aggregate: quorum not met: {n} valid partner(s) of {len(partners)}"
            + (f" (rejected: {why})" if why else "")
            + "; nothing was aggregated and the global "
            "model is unchanged."
        )
        raise ValidationError(msg)
    try:
        check_preconditions(method, n, f_eff, beta)
    except ValidationError as err:
        rejected = len(partners) - n
        note = f" ({rejected} partner(s) rejected by sanitation)" if rejected else ""
        msg_0 = f"{err}{note} Nothing was aggregated; the global model is unchanged."
        raise ValidationError(msg_0) from None
    names = [(name, a.shape) for name, a in accepted[ids[0]]]
    V = np.stack(
        [np.concatenate([a.ravel().astype(float) for _, a in accepted[p]]) for p in ids]
    )
    raw = V.copy()
    centre = np.median(V, axis=0)
    if reference is not None:
        ref = params_of(reference)[0]
        if [(k, a.shape) for k, a in ref] != names:
            msg_0 = (
                "aggregate(reference=...): the global model's parameters do not "
                "match the partners'."
            )
            raise ValidationError(msg_0)
        centre_for_clip = np.concatenate([a.ravel().astype(float) for _, a in ref])
    else:
        centre_for_clip = centre
    V, bound = clip(V, ids, centre_for_clip, clip_norm, events=events)
    w = capped_weights(
        ids, weights, low_trust=trust == "low", cap=weight_cap, events=events
    )
    vector, used = combine(V, w, method, f_eff, beta, m)
    dist = np.linalg.norm(raw - centre, axis=1)
    typical = float(np.median(dist)) or 1e-12
    trust_scores = np.minimum(1.0, 2 * typical / np.maximum(dist, 1e-12))
    params, start = [], 0
    for name, shape in names:
        size = int(np.prod(shape))
        params.append((name, vector[start : start + size].reshape(shape)))
        start += size
    rows = []
    actions: dict[str, list[str]] = {}
    for e in events:
        actions.setdefault(e["partner"], []).append(e["action"])
    for pid in partners:
        if pid in ids:
            i = ids.index(pid)
            rows.append(
                {
                    "partner": pid,
                    "status": ", ".join(dict.fromkeys(actions.get(pid, ["accepted"]))),
                    "distance": float(dist[i]),
                    "trust": round(float(trust_scores[i]), 3),
                    "weight": float(w[i]),
                    "used": i in used,
                }
            )
        else:
            rows.append(
                {
                    "partner": pid,
                    "status": "rejected",
                    "distance": None,
                    "trust": 0.0,
                    "weight": 0.0,
                    "used": False,
                }
            )
    info = {
        "method": method,
        "f": f_eff,
        "beta": beta if method == "trimmed_mean" else None,
        "n": n,
        "partners": len(partners),
        "trust_mode": trust,
        "clip_bound": bound,
        "unsafe": unsafe,
    }
    return AggregationResult(with_params(template, params), params, rows, events, info)
