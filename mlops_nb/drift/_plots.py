"""plotly figures of a drift review, each built from the stored review payload."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from mlops_nb.drift._univariate import LABELS
from mlops_nb.ui._palette import BLUE, GREEN, GREY, ORANGE, RED

if TYPE_CHECKING:
    import plotly.graph_objects as go

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}
# the one palette (mlops_nb.ui._palette): reference blue, chunk orange, alert red,
# realized (labelled) green, reference lines grey
REF_COLOR, CHUNK_COLOR, ALERT_COLOR = BLUE, ORANGE, RED
REALIZED_COLOR, LINE_COLOR = GREEN, GREY


def ratios(p: dict[str, Any]) -> list[list[float | None]]:
    """Return per column and chunk the largest value / threshold of alerting stats."""
    uni = p["univariate"]
    out = []
    for i in range(len(uni["columns"])):
        row = []
        for c in range(len(p["chunks"]["keys"])):
            best = None
            for stat in uni["alert_on"]:
                s = uni["statistics"].get(stat)
                if not s:
                    continue
                v, hi = s["values"][i][c], s["upper"][i]
                if v is not None and hi:
                    best = max(best or 0.0, v / hi)
            row.append(best)
        out.append(row)
    return out


def heatmap(p: dict[str, Any]) -> go.Figure:
    """Plot columns x chunks, coloured by drift relative to the alert threshold."""
    import plotly.graph_objects as go

    uni = p["univariate"]
    keys = [str(k) for k in p["chunks"]["keys"]]
    z = ratios(p)
    text = [
        ["▲" if uni["alerts"][i][c] else "" for c in range(len(keys))]
        for i in range(len(z))
    ]
    hover = [
        [
            f"{uni['columns'][i]} · chunk {keys[c]}<br>"
            + "<br>".join(
                f"{LABELS[s]}: {_f(uni['statistics'][s]['values'][i][c])} "
                f"(threshold {_f(uni['statistics'][s]['upper'][i])})"
                for s in uni["statistics"]
                if uni["statistics"][s]["values"][i][c] is not None
            )
            for c in range(len(keys))
        ]
        for i in range(len(z))
    ]
    scale = [
        [0.0, "#f7fbff"],
        [0.35, "#c6dbef"],
        [0.5, "#fee391"],
        [0.75, "#fc8d59"],
        [1.0, "#b30000"],
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=keys,
            y=uni["columns"],
            zmin=0,
            zmax=2,
            colorscale=scale,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            xgap=1,
            ygap=1,
            colorbar={"title": "drift / threshold", "tickvals": [0, 1, 2]},
        )
    )
    stats = ", ".join(LABELS[s] for s in uni["alert_on"])
    fig.update_layout(
        **_LAYOUT,
        height=max(300, 28 * len(z) + 120),
        title=f"Drift by column and chunk (▲ alert; colour: {stats} / threshold)",
        xaxis={"type": "category", "title": "chunk"},
        yaxis={"autorange": "reversed"},
    )
    return fig


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def distribution(p: dict[str, Any], column: str, chunk: int) -> go.Figure:
    """Plot a column's distribution in the reference and one chunk, on the same bins."""
    import plotly.graph_objects as go

    h = p["univariate"]["histograms"][column]
    key = p["chunks"]["keys"][chunk]
    fig = go.Figure()
    if h["kind"] == "continuous" and h["edges"]:
        edges = h["edges"]
        x = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        width = [b - a for a, b in itertools.pairwise(edges)]
        shares = h["chunks"][chunk]
        fig.add_bar(
            x=x,
            y=h["reference"],
            width=width,
            name="reference",
            marker_color=REF_COLOR,
            opacity=0.55,
        )
        fig.add_bar(
            x=x,
            y=shares[:-1],
            width=width,
            name=f"chunk {key}",
            marker_color=CHUNK_COLOR,
            opacity=0.55,
        )
        outside = shares[-1] if shares else 0
        title = f"{column}: reference vs chunk {key}" + (
            f" ({outside:.1%} outside the reference range)" if outside else ""
        )
        fig.update_layout(barmode="overlay")
    else:
        cats = h.get("categories", [])
        fig.add_bar(x=cats, y=h["reference"], name="reference", marker_color=REF_COLOR)
        fig.add_bar(
            x=cats,
            y=h["chunks"][chunk] if h.get("chunks") else [],
            name=f"chunk {key}",
            marker_color=CHUNK_COLOR,
        )
        fig.update_layout(barmode="group", xaxis={"type": "category"})
        title = f"{column}: reference vs chunk {key}"
    fig.update_layout(
        **_LAYOUT,
        height=300,
        title=title,
        yaxis_title="share of rows",
        xaxis_title=column,
    )
    return fig


def performance(p: dict[str, Any]) -> go.Figure:
    """Plot the estimated metric with its band and thresholds, and realized values."""
    import plotly.graph_objects as go

    perf = p["performance"]
    keys = [str(k) for k in p["chunks"]["keys"]]
    name = {"roc_auc": "ROC AUC", "rmse": "RMSE"}.get(perf["metric"], perf["metric"])
    fig = go.Figure()
    fig.add_scatter(
        x=keys,
        y=perf["upper_band"],
        mode="lines",
        line={"width": 0},
        showlegend=False,
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=keys,
        y=perf["lower_band"],
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(76,120,168,0.18)",
        name="confidence band (±3 sampling errors)",
    )
    fig.add_scatter(
        x=keys,
        y=perf["estimated"],
        mode="lines+markers",
        name=f"estimated ({perf['method'].split()[0]})",
        line={"color": REF_COLOR},
    )
    if any(r is not None for r in perf["realized"]):
        colors = [
            ALERT_COLOR if a or c in perf["concept"]["chunks"] else REALIZED_COLOR
            for c, a in enumerate(perf["realized_alert"])
        ]
        fig.add_scatter(
            x=keys,
            y=perf["realized"],
            mode="markers",
            name="realized (labels)",
            marker={"size": 9, "symbol": "diamond", "color": colors},
        )
    for key, label in (
        ("lower_threshold", "lower threshold"),
        ("upper_threshold", "upper threshold"),
    ):
        v = perf[key][0] if perf[key] else None
        if v is not None:
            fig.add_hline(
                y=v,
                line={"dash": "dash", "color": ALERT_COLOR, "width": 1},
                annotation_text=label,
            )
    if perf.get("reference_value") is not None:
        fig.add_hline(
            y=perf["reference_value"],
            line={"dash": "dot", "color": LINE_COLOR},
            annotation_text="reference",
        )
    fig.update_layout(
        **_LAYOUT,
        height=340,
        title=f"{name}: estimated without labels, realized when labels arrive",
        xaxis={"type": "category", "title": "chunk"},
        yaxis_title=name,
    )
    return fig


def fairness(p: dict[str, Any], column: str) -> go.Figure:
    """Plot the selection rate per group over chunks (the groups compared)."""
    import plotly.graph_objects as go

    f = p["fairness"][column]
    words = (p.get("labels") or {}).get(column, {})
    keys = [str(k) for k in p["chunks"]["keys"]]
    fig = go.Figure()
    values = f["rates"]["selection_rate"]["values"]
    for g, group in enumerate(f["groups"]):
        if group not in f["compared"]:
            continue
        fig.add_scatter(
            x=keys,
            y=[row[g] for row in values],
            mode="lines+markers",
            # the group's label from the data dictionary, its code on hover
            name=words.get(str(group), f"{column}={group}"),
            hovertemplate=f"{column} = {group}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        )
    gap = f["rates"]["selection_rate"]
    fig.add_scatter(
        x=keys,
        y=gap["disparity"],
        mode="lines",
        name="gap (max - min)",
        line={"dash": "dot", "color": LINE_COLOR},
    )
    if gap["upper"] is not None:
        fig.add_hline(
            y=gap["upper"],
            line={"dash": "dash", "color": ALERT_COLOR, "width": 1},
            annotation_text="gap band",
        )
    fig.update_layout(
        **_LAYOUT,
        height=320,
        title=f"Selection rate by {column} (needs no labels)",
        xaxis={"type": "category", "title": "chunk"},
        yaxis_title="share decided positive",
    )
    return fig


def value(p: dict[str, Any]) -> go.Figure:
    """Plot money value per 1,000 decisions: estimated, realized, reference."""
    import plotly.graph_objects as go

    v = p["value"]
    keys = [str(k) for k in p["chunks"]["keys"]]
    fig = go.Figure()
    fig.add_scatter(
        x=keys,
        y=v["estimated_per_1000"],
        mode="lines+markers",
        name="estimated",
        line={"color": REF_COLOR},
    )
    if any(r is not None for r in v["realized_per_1000"]):
        fig.add_scatter(
            x=keys,
            y=v["realized_per_1000"],
            mode="markers",
            name="realized",
            marker={"size": 9, "symbol": "diamond", "color": REALIZED_COLOR},
        )
    fig.add_hline(
        y=v["reference_per_1000"],
        line={"dash": "dot", "color": LINE_COLOR},
        annotation_text="reference",
    )
    fig.update_layout(
        **_LAYOUT,
        height=320,
        title=f"Money value per 1,000 decisions ({v['currency']})",
        xaxis={"type": "category", "title": "chunk"},
        yaxis_title=v["currency"],
    )
    return fig


def multivariate(p: dict[str, Any], method: str) -> go.Figure:
    """Plot a multivariate drift measure per chunk with its thresholds."""
    import plotly.graph_objects as go

    m = p["multivariate"][method]
    keys = [str(k) for k in p["chunks"]["keys"]]
    colors = [ALERT_COLOR if a else REF_COLOR for a in m["alert"]]
    fig = go.Figure()
    fig.add_scatter(
        x=keys,
        y=m["values"],
        mode="lines+markers",
        name=m["label"],
        marker={"color": colors, "size": 8},
        line={"color": REF_COLOR},
    )
    for key in ("upper", "lower"):
        if m[key] and m[key][0] is not None:
            fig.add_hline(
                y=m[key][0],
                line={"dash": "dash", "color": ALERT_COLOR, "width": 1},
                annotation_text=f"{key} threshold",
            )
    fig.update_layout(
        **_LAYOUT,
        height=300,
        title=m["label"],
        xaxis={"type": "category", "title": "chunk"},
    )
    return fig
