"""From numbers to decisions: chunk status, ranked alerts and the recommendation.

Status of a chunk:

- without labels it is always ``"unverified: label-free estimate assumes no concept
  drift"`` — a label-free estimate cannot see a change in P(y | x), so such a chunk
  is never called healthy;
- with labels: ``"concept drift"`` (realized performance left the estimate's band in
  consecutive chunks), ``"performance drop"`` (realized below the reference band),
  ``"drift, performance holds"`` (other alerts) or ``"healthy"``.

Alerts are ranked by the money value at risk in their chunk (see
:func:`value_at_risk`, the one definition every view uses), then by kind.
The recommendation is *retrain* when labelled chunks show a performance drop or
concept drift, *investigate* when something else alerts (drift, an estimated drop,
a fairness gap, money at risk), and *no action* otherwise.
"""

from __future__ import annotations

from typing import Any

from mlops_nb.drift._univariate import LABELS

SCORE = "model score"  # the score's row (mlops_nb.drift._analysis.SCORE)

UNVERIFIED = "unverified: label-free estimate assumes no concept drift"
#: alert kinds, most severe first (ties in value at risk are ranked by this)
KINDS = (
    "concept drift",
    "realized performance",
    "estimated performance",
    "fairness",
    "multivariate drift",
    "score drift",
    "target drift",
    "data drift",
)
METRIC_NAMES = {"roc_auc": "ROC AUC", "rmse": "RMSE", "mae": "MAE"}


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _crossing(stat: str, s: dict[str, Any], i: int, c: int) -> str:
    """Describe statistic ``stat`` of column ``c`` in chunk ``i`` against its band."""
    v, hi, lo = s["values"][i][c], s["upper"][i], s["lower"][i]
    above = hi is not None and v is not None and v > hi
    side = f"above {_fmt(hi)}" if above else f"below {_fmt(lo)}"
    return f"{LABELS[stat]} {_fmt(v)} {side}"


def value_at_risk(
    value: dict[str, Any] | None, decisions: list[int]
) -> tuple[list[float | None], float | None]:
    """Money value at risk against the reference, per chunk and in total.

    The one definition used by the summary, the chunk table, the Business value
    tab, the alerts' ranking and the review's JSON summary.

    Parameters
    ----------
    value : dict or None
        The review's ``value`` section: ``reference_per_1000``,
        ``realized_per_1000`` and ``estimated_per_1000`` (one per chunk).
    decisions : list of int
        The number of decisions (rows) in each chunk.

    Returns
    -------
    per_chunk : list of float or None
        Signed value lost against the reference: ``(reference value per 1,000
        decisions - the chunk's value per 1,000 decisions) x its decisions /
        1,000``, in the canvas currency, rounded to cents. Positive means value
        lost, negative means the chunk earned more than the reference. The chunk's
        value is realized once its labels arrived, else the label-free estimate;
        ``None`` when neither exists.
    total : float or None
        The sum over the chunks that have a value (``None`` when none has one).
    """
    if not value:
        return [None] * len(decisions), None
    ref = value["reference_per_1000"]
    per_chunk: list[float | None] = []
    for real, est, n in zip(
        value["realized_per_1000"],
        value["estimated_per_1000"],
        decisions,
        strict=True,
    ):
        basis = real if real is not None else est
        per_chunk.append(
            None if basis is None or ref is None else round((ref - basis) * n / 1000, 2)
        )
    known = [v for v in per_chunk if v is not None]
    return per_chunk, (round(sum(known), 2) if known else None)


def describe_value_at_risk(p: dict[str, Any]) -> str | None:
    """Describe the total value at risk: ``"1,234 EUR over 4 chunk(s) (...)"``.

    ``None`` without a canvas or when no chunk has a value.
    """
    value = p.get("value")
    per_chunk, total = value_at_risk(value, p["chunks"]["sizes"])
    if value is None or total is None:
        return None
    n = sum(v is not None for v in per_chunk)
    lost = sum(v is not None and v > 0 for v in per_chunk)
    return (
        f"{total:,.0f} {value['currency']} over {n} chunk(s) "
        f"({lost} losing value against the reference)"
    )


def _column_kinds(uni: dict[str, Any]) -> list[str]:
    """Return the alert kind of each column: features, the model score, the target.

    In memory the score and the target come last; a large version's review has no
    target row (labels of large data are not reviewed yet), so the score is last.
    """
    names = list(uni["columns"])
    score = len(names) - 2
    if names and names[-1] == SCORE:
        score = len(names) - 1
    return [
        "data drift" if i < score else "score drift" if i == score else "target drift"
        for i in range(len(names))
    ]


def _univariate_alerts(p: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    uni = p["univariate"]
    out = []
    kinds = _column_kinds(uni)
    for i, col in enumerate(uni["columns"]):
        kind = kinds[i]
        for c, alert in enumerate(uni["alerts"][i]):
            if not alert:
                continue
            parts = []
            for stat in uni["alert_on"]:
                s = uni["statistics"].get(stat)
                if s and s["alert"][i][c]:
                    parts.append(_crossing(stat, s, i, c))
            out.append(
                {
                    "chunk": keys[c],
                    "index": c,
                    "kind": kind,
                    "what": col,
                    "detail": "; ".join(parts),
                }
            )
    return out


def quiet_crossings(p: dict[str, Any]) -> list[dict[str, Any]]:
    """Threshold crossings of computed statistics that are not in ``alert_on``.

    They are not alerts (the monitor alerts on ``alert_on`` only), but they are
    evidence: a shift that Kolmogorov-Smirnov and Wasserstein see and
    Jensen-Shannon's bins do not is still a change of the inputs. A single crossing
    is often noise (many statistics, many columns), so a column counts only where
    it crosses in ``consecutive`` chunks in a row (the concept-drift rule, 2).

    Returns
    -------
    list of dict
        One per (column, chunk): ``index``, ``chunk``, ``kind`` (``"data drift"``,
        ``"score drift"`` or ``"target drift"``), ``what`` (the column) and
        ``detail`` (each statistic with its value and threshold).
    """
    uni = p["univariate"]
    keys = p["chunks"]["keys"]
    kinds = _column_kinds(uni)
    run = int(p["performance"]["concept"].get("consecutive", 2))
    out = []
    for i, col in enumerate(uni["columns"]):
        kind = kinds[i]
        crossed = [
            any(
                s["alert"][i][c]
                for stat, s in uni["statistics"].items()
                if stat not in uni["alert_on"]
            )
            for c in range(len(keys))
        ]
        for c in _in_runs(crossed, run):
            parts, names = [], []
            for stat, s in uni["statistics"].items():
                if stat in uni["alert_on"] or not s["alert"][i][c]:
                    continue
                names.append(stat)
                parts.append(_crossing(stat, s, i, c))
            if parts:
                out.append(
                    {
                        "index": c,
                        "chunk": keys[c],
                        "kind": kind,
                        "what": col,
                        "detail": "; ".join(parts),
                        "statistics": names,
                    }
                )
    return out


def _in_runs(flags: list[bool], run: int) -> list[int]:
    """Return the indices of True flags in runs of ``run`` or more in a row."""
    out: list[int] = []
    start = None
    for c, f in enumerate([*flags, False]):
        if f and start is None:
            start = c
        elif not f and start is not None:
            if c - start >= run:
                out.extend(range(start, c))
            start = None
    return out


def _input_evidence(
    alerts: list[dict[str, Any]], quiet: list[dict[str, Any]], chunks: list[int]
) -> list[str]:
    """Name every input change (alerting or not) seen in ``chunks``."""
    seen: dict[str, list[str]] = {}
    for a in [*alerts, *quiet]:
        if a["kind"] == "data drift" and a["index"] in chunks:
            seen.setdefault(a["what"], []).append(f"{a['chunk']}: {a['detail']}")
    return [
        f"{col} ({'; '.join(d[:2])}{' ...' if len(d) > 2 else ''})"
        for col, d in seen.items()
    ]


def _explain_concept(
    perf: dict[str, Any],
    alerts: list[dict[str, Any]],
    quiet: list[dict[str, Any]],
    alert_on: list[str],
) -> None:
    """Rewrite the concept-drift verdict with every statistic computed."""
    concept = perf["concept"]
    flagged = concept["chunks"]
    if not flagged:
        return
    evidence = _input_evidence(alerts, quiet, flagged)
    head = concept["verdict"].split("; the change of the inputs", 1)[0]
    if evidence:
        quiet_only = not any(
            a["kind"] == "data drift" and a["index"] in flagged for a in alerts
        )
        concept["verdict"] = (
            f"{head}. The inputs changed in those chunks: {', '.join(evidence[:4])}"
            f"{' ...' if len(evidence) > 4 else ''}"
            + (
                f" (statistics that do not alert; alerts come from "
                f"{', '.join(LABELS[s] for s in alert_on)})"
                if quiet_only
                else ""
            )
            + ". The label-free estimate already accounts for the scores those "
            "inputs give, so either the inputs moved where the reference cannot "
            "calibrate the scores, or how the inputs relate to the target changed "
            "(concept drift); look at those features first"
        )
    else:
        concept["verdict"] = (
            f"{head}; no computed statistic of any input crossed its threshold "
            "there, so the change of the inputs does not explain it"
        )
    concept["input_evidence"] = evidence


def _other_alerts(p: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for method, res in (p.get("multivariate") or {}).items():
        for c, alert in enumerate(res["alert"]):
            if alert:
                out.append(
                    {
                        "chunk": keys[c],
                        "index": c,
                        "kind": "multivariate drift",
                        "what": method,
                        "detail": f"{res['label']} {_fmt(res['values'][c])} outside "
                        f"[{_fmt(res['lower'][c])}, {_fmt(res['upper'][c])}]",
                    }
                )
    perf = p["performance"]
    name = METRIC_NAMES.get(perf["metric"], perf["metric"])
    for c in range(len(keys)):
        if perf["estimated_alert"][c]:
            out.append(
                {
                    "chunk": keys[c],
                    "index": c,
                    "kind": "estimated performance",
                    "what": name,
                    "detail": f"estimated {name} {_fmt(perf['estimated'][c])} beyond "
                    f"the reference band [{_fmt(perf['lower_threshold'][c])}, "
                    f"{_fmt(perf['upper_threshold'][c])}]"
                    " (label-free, unverified)",
                }
            )
        if perf["realized_alert"][c]:
            out.append(
                {
                    "chunk": keys[c],
                    "index": c,
                    "kind": "realized performance",
                    "what": name,
                    "detail": f"realized {name} {_fmt(perf['realized'][c])} beyond "
                    f"the reference band [{_fmt(perf['lower_threshold'][c])}, "
                    f"{_fmt(perf['upper_threshold'][c])}]",
                }
            )
    for c in perf["concept"]["chunks"]:
        out.append(
            {
                "chunk": keys[c],
                "index": c,
                "kind": "concept drift",
                "what": name,
                "detail": f"realized {name} {_fmt(perf['realized'][c])} outside "
                f"the estimate's band [{_fmt(perf['lower_band'][c])}, "
                f"{_fmt(perf['upper_band'][c])}]",
            }
        )
    for col, fair in (p.get("fairness") or {}).items():
        for rate, res in fair["rates"].items():
            for c, alert in enumerate(res["alert"]):
                if alert:
                    out.append(
                        {
                            "chunk": keys[c],
                            "index": c,
                            "kind": "fairness",
                            "what": f"{rate} by {col}",
                            "detail": f"gap between groups {_fmt(res['disparity'][c])} "
                            f"above the reference band {_fmt(res['upper'])}",
                        }
                    )
    return out


def judge(p: dict[str, Any]) -> dict[str, Any]:
    """Status per chunk, ranked alerts and the recommendation for a review payload."""
    keys = p["chunks"]["keys"]
    alerts = _univariate_alerts(p, keys) + _other_alerts(p, keys)
    at_risk, _ = value_at_risk(p.get("value"), p["chunks"]["sizes"])
    for a in alerts:
        a["value_at_risk"] = at_risk[a["index"]]
    alerts.sort(
        key=lambda a: (
            -(a["value_at_risk"] if a["value_at_risk"] is not None else float("-inf")),
            KINDS.index(a["kind"]),
            a["index"],
        )
    )
    perf = p["performance"]
    quiet = quiet_crossings(p)
    _explain_concept(perf, alerts, quiet, p["univariate"]["alert_on"])
    by_chunk: dict[int, set[str]] = {}
    for a in alerts:
        by_chunk.setdefault(a["index"], set()).add(a["kind"])
    status = []
    for c in range(len(keys)):
        kinds = by_chunk.get(c, set())
        if perf["realized"][c] is None:
            status.append(UNVERIFIED)
        elif "concept drift" in kinds:
            status.append("concept drift")
        elif "realized performance" in kinds:
            status.append("performance drop")
        elif kinds:
            status.append("drift, performance holds")
        else:
            status.append("healthy")
    return {
        "status": status,
        "alerts": alerts,
        "quiet_crossings": quiet,
        "recommendation": _recommend(p, alerts, status, quiet),
    }


def _recommend(
    p: dict[str, Any],
    alerts: list[dict[str, Any]],
    status: list[str],
    quiet: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    keys = p["chunks"]["keys"]
    counts: dict[str, list[str]] = {}
    for a in alerts:
        counts.setdefault(a["kind"], [])
        if a["chunk"] not in counts[a["kind"]]:
            counts[a["kind"]].append(a["chunk"])
    name = METRIC_NAMES.get(p["performance"]["metric"], p["performance"]["metric"])
    reasons = []
    if "concept drift" in counts:
        reasons.append(p["performance"]["concept"]["verdict"] + ".")
    if "realized performance" in counts:
        reasons.append(
            f"Realized {name} fell below the reference band in "
            f"{_chunks(counts['realized performance'])}."
        )
    action = "retrain" if reasons else None
    if "estimated performance" in counts:
        reasons.append(
            f"Estimated {name} (label-free) falls below the reference band in "
            f"{_chunks(counts['estimated performance'])}."
        )
    drifted = sorted({a["what"] for a in alerts if a["kind"] == "data drift"})
    if drifted:
        reasons.append(
            f"Data drift in {len(drifted)} feature(s): {', '.join(drifted[:8])}"
            f"{' ...' if len(drifted) > 8 else ''}."
        )
    for kind, text in (
        ("multivariate drift", "The features' joint distribution changed"),
        ("score drift", "The model's score distribution changed"),
        ("target drift", "The share of each class changed"),
        ("fairness", "A gap between sensitive groups left its reference band"),
    ):
        if kind in counts:
            reasons.append(f"{text} in {_chunks(counts[kind])}.")
    quiet_inputs = sorted(
        {a["what"] for a in quiet or [] if a["kind"] == "data drift"} - set(drifted)
    )
    if quiet_inputs:
        stats = sorted(
            {
                LABELS[s]
                for a in quiet or []
                if a["what"] in quiet_inputs
                for s in a["statistics"]
            }
        )
        quiet_chunks = sorted(
            {a["index"] for a in quiet or [] if a["what"] in quiet_inputs}
        )
        reasons.append(
            f"Below alert level: {', '.join(quiet_inputs[:8])}"
            f"{' ...' if len(quiet_inputs) > 8 else ''} crossed the thresholds of "
            f"statistics that do not alert ({', '.join(stats)}) in "
            f"{_chunks([keys[i] for i in quiet_chunks])}. Alerts come from "
            f"{', '.join(LABELS[s] for s in p['univariate']['alert_on'])} "
            "(alert_on=...); look at these columns' distributions."
        )
    _, total = value_at_risk(p.get("value"), p["chunks"]["sizes"])
    if total is not None and total > 0:
        reasons.append(f"Money value at risk {describe_value_at_risk(p)}.")
    if action is None:
        action = "investigate" if reasons else "no action"
    unverified = sum(s == UNVERIFIED for s in status)
    if unverified:
        reasons.append(
            f"{unverified} of {len(status)} chunk(s) have no labels yet: their "
            "performance is a "
            "label-free estimate that assumes no concept drift; add labels with "
            "add_targets()."
        )
    if action == "no action" and not alerts:
        reasons.insert(0, f"No alert in {len(keys)} chunk(s).")
    if action == "retrain":
        reasons.append(
            "mon.retrain() hands the labelled analysis data to Model Ops' retraining."
        )
    return {"action": action, "reasons": reasons}


def _chunks(keys: list[str]) -> str:
    shown = ", ".join(keys[:6]) + (
        f" and {len(keys) - 6} more" if len(keys) > 6 else ""
    )
    return f"{len(keys)} chunk(s) ({shown})"
