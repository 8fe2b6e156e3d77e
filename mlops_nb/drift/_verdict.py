"""From numbers to decisions: chunk status, ranked alerts and the recommendation.

Status of a chunk:

- without labels it is always ``"unverified: label-free estimate assumes no concept
  drift"`` — a label-free estimate cannot see a change in P(y | x), so such a chunk
  is never called healthy;
- with labels: ``"concept drift"`` (realized performance left the estimate's band in
  consecutive chunks), ``"performance drop"`` (realized below the reference band),
  ``"drift, performance holds"`` (other alerts) or ``"healthy"``.

Alerts are ranked by the money value at risk in their chunk (reference value per
1,000 decisions minus the chunk's estimated value, times its rows), then by kind.
The recommendation is *retrain* when labelled chunks show a performance drop or
concept drift, *investigate* when something else alerts (drift, an estimated drop,
a fairness gap, money at risk), and *no action* otherwise.
"""

from __future__ import annotations

from typing import Any

from mlops_nb.drift._univariate import LABELS

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


def _univariate_alerts(p: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    uni = p["univariate"]
    out = []
    n_features = len(uni["columns"]) - 2  # the model score and the target come last
    for i, col in enumerate(uni["columns"]):
        kind = (
            "data drift"
            if i < n_features
            else ("score drift" if i == n_features else "target drift")
        )
        for c, alert in enumerate(uni["alerts"][i]):
            if not alert:
                continue
            parts = []
            for stat in uni["alert_on"]:
                s = uni["statistics"].get(stat)
                if s and s["alert"][i][c]:
                    v, hi, lo = s["values"][i][c], s["upper"][i], s["lower"][i]
                    side = (
                        f"above {_fmt(hi)}"
                        if hi is not None and v is not None and v > hi
                        else f"below {_fmt(lo)}"
                    )
                    parts.append(f"{LABELS[stat]} {_fmt(v)} {side}")
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
    at_risk = (p.get("value") or {}).get("value_at_risk") or [None] * len(keys)
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
        "recommendation": _recommend(p, alerts, status, at_risk),
    }


def _recommend(
    p: dict[str, Any],
    alerts: list[dict[str, Any]],
    status: list[str],
    at_risk: list[float | None],
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
    losses = [(v, keys[i]) for i, v in enumerate(at_risk) if v is not None and v > 0]
    value = p.get("value")
    if value and losses:
        total = sum(v for v, _ in losses)
        reasons.append(
            f"Money value at risk against the reference: {total:,.0f} "
            f"{value['currency']} over "
            f"{len(losses)} chunk(s)."
        )
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
