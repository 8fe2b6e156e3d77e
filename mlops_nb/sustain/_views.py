"""How the ledger and the warm-start comparison render: plotly charts and views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.ui import Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from mlops_nb.sustain._ledger import SustainabilityReport
    from mlops_nb.sustain._warm import WarmStartReport

_LAYOUT = {
    "template": "plotly_white",
    "height": 320,
    "margin": {"l": 60, "r": 10, "t": 40, "b": 40},
}
_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b"]
_ENTRY_COLUMNS = ["at", "stage", "object", "variant", "note", "duration_s", "Wh"]
_ENTRY_COLUMNS += ["g CO2e", "predictions", "within", "method", "outcome"]
PLOTS = ("cumulative", "stage", "model", "per_1000")


def _where(settings: dict[str, Any]) -> str:
    return settings["country"] + (
        f"/{settings['region']}" if settings["region"] else ""
    )


def ledger_figure(report: SustainabilityReport, kind: str) -> go.Figure:
    """One chart of the ledger (see :meth:`SustainabilityReport.plot`)."""
    import plotly.graph_objects as go

    if kind not in PLOTS:
        msg = (
            f"SustainabilityReport.plot(kind={kind!r}): use 'cumulative', 'stage', "
            "'model' or 'per_1000'."
        )
        raise ValidationError(msg)
    fig = go.Figure()
    frame = report.to_frame()
    stages = list(dict.fromkeys(frame["stage"]))
    color = {s: _COLORS[i % len(_COLORS)] for i, s in enumerate(stages)}
    if kind == "cumulative":
        labels = [
            f"{s}: {o}" for s, o in zip(frame["stage"], frame["object"], strict=True)
        ]
        fig.add_scatter(
            x=list(range(1, len(frame) + 1)),
            y=frame["self_energy_kwh"].fillna(0).cumsum() * 1000,
            mode="lines+markers",
            line={"shape": "hv", "color": "#4c78a8"},
            marker={"color": [color[s] for s in frame["stage"]], "size": 8},
            text=labels,
            hovertemplate="%{text}<br>%{y:.4f} Wh so far<extra></extra>",
        )
        fig.update_layout(
            title="Cumulative energy of the project (Wh)",
            xaxis_title="measured action, in order",
            yaxis_title="Wh",
        )
        fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, len(frame) // 10))
    elif kind == "stage":
        t = report.by_stage()
        fig.add_bar(
            x=t["stage"],
            y=t["Wh"],
            marker_color=[color[s] for s in t["stage"]],
            text=[f"{v:.3g} g" for v in t["g CO2e"]],
        )
        fig.update_layout(title="Energy by ops stage (Wh; labels: g CO2e)")
    elif kind == "model":
        t = report.by_model()
        for s in stages:
            if f"{s} Wh" in t:
                y = t[f"{s} Wh"].fillna(0)
                fig.add_bar(x=t["model version"], y=y, name=s, marker_color=color[s])
        fig.update_layout(
            barmode="stack", title="Energy by model version and stage (Wh)"
        )
    else:
        t = report.per_1000_predictions()
        fig.add_bar(
            x=t["object"] + " · " + t["variant"],
            y=t["Wh per 1,000"],
            text=[f"{v:.3g} g" for v in t["g CO2e per 1,000"]],
            marker_color="#54a24b",
        )
        fig.update_layout(
            title="Energy per 1,000 predictions (Wh, log scale; labels: g CO2e)",
            yaxis_type="log",
        )
    if kind != "cumulative":
        fig.update_layout(yaxis_title="Wh")
    fig.update_layout(**_LAYOUT)
    return fig


def _how(report: SustainabilityReport) -> str:
    s = report.settings
    default = (
        " (a default: set yours with proj.sustainability(country='FRA'))"
        if s["default"]
        else ""
    )
    methods = {(e.get("method") or {}).get("summary", "") for e in report.entries}
    text = (
        "Measured with CodeCarbon's offline tracker (no network); emissions use the "
        f"{_where(s)} grid's carbon intensity from CodeCarbon's offline table"
        f"{default}. "
    )
    if report.estimated:
        text += "These figures are estimates, not meter readings: "
    return text + " ".join(sorted(methods - {""}))


def ledger_view(report: SustainabilityReport) -> View:
    """Describe the ledger: overview, by model version, by stage, per 1,000, entries."""
    frame = report.to_frame()
    s = report.settings
    if frame.empty:
        tip = (
            "No measured actions yet. Training and evaluation are measured "
            "automatically; measure anything else with "
            "mlops_nb.sustain.measure(proj, 'stage', obj)."
        )
        kv = KeyValues(
            [("grid", _where(s)), ("tracking", "on" if s["track"] else "off")]
        )
        tabs = [Tab("Overview", [kv, Text(tip, "muted")])]
        return View(
            "Sustainability", report.project, "no measured actions yet", [], tabs
        )
    estimated = report.estimated
    totals = KeyValues(
        [
            ("energy (Wh)", round(report.energy_kwh * 1000, 4)),
            ("emissions (g CO2e)", round(report.emissions_kg * 1000, 4)),
            ("measured time (s)", round(float(frame["self_duration_s"].sum()), 2)),
            ("measured actions", len(frame)),
            ("grid", _where(s) + (" (default)" if s["default"] else "")),
            ("how", "estimated by CodeCarbon" if estimated else "measured"),
            (
                "tracking",
                "on" if s["track"] else "off: proj.sustainability(track=True)",
            ),
        ]
    )
    how = Text(_how(report), "warning" if estimated else "info")
    tabs = [Tab("Overview", [totals, Figure(report.plot("cumulative")), how])]
    by_model = report.by_model()
    if len(by_model):
        blocks = [Table(by_model.round(6)), Figure(report.plot("model"))]
        tabs.append(Tab("By model version", blocks))
    blocks = [Table(report.by_stage().round(6)), Figure(report.plot("stage"))]
    tabs.append(Tab("By stage", blocks))
    per = report.per_1000_predictions()
    if len(per):
        blocks = [Table(per.round(6)), Figure(report.plot("per_1000"))]
        tabs.append(Tab("Per 1,000 predictions", blocks))
    shown = frame.assign(
        Wh=frame["self_energy_kwh"] * 1000,
        at=frame["at"].str[:19].str.replace("T", " "),
        **{"g CO2e": frame["self_emissions_kg"] * 1000},
    )[_ENTRY_COLUMNS]
    caption = "Wh and g CO2e exclude nested entries (within)"
    tabs.append(Tab("Entries", [Table(shown.round(6), caption, max_rows=40)]))
    summary = (
        f"{report.energy_kwh * 1000:.3f} Wh, {report.emissions_kg * 1000:.3f} g CO2e "
        f"over {len(frame)} measured actions "
        f"({'estimated' if estimated else 'measured'}, grid {_where(s)})"
    )
    badges = [("estimated", "warning")] if estimated else [("measured", "ok")]
    return View("Sustainability", report.project, summary, badges, tabs)


def warm_figure(report: WarmStartReport) -> go.Figure:
    """Energy (Wh) and the primary metric of each option, side by side."""
    from plotly.subplots import make_subplots

    t = report.to_frame()
    key = report.payload["primary"]
    from mlops_nb.ui._html import header_label

    titles = ["energy (Wh)", f"{header_label(key)} on {report.payload['test']}"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    colors = ["#9d9da1", "#54a24b", "#e45756"][: len(t)]
    fig.add_bar(
        x=t["option"], y=t["Wh"], marker_color=colors, row=1, col=1, showlegend=False
    )
    # the metric as dots on a zoomed axis: a bar cut off above zero would exaggerate
    fig.add_scatter(
        x=t["option"],
        y=t[key],
        mode="markers+text",
        marker={"color": colors, "size": 14},
        text=[f"{v:.4f}" for v in t[key]],
        textposition="top center",
        row=1,
        col=2,
        showlegend=False,
    )
    lo, hi = float(t[key].min()), float(t[key].max())
    fig.update_yaxes(range=[lo - 0.05 * abs(lo), hi * 1.01], row=1, col=2)
    fig.update_layout(
        template="plotly_white",
        height=340,
        title="Warm start vs full retrain",
        margin={"l": 50, "r": 10, "t": 60, "b": 40},
    )
    return fig


def _num(value: float | None, scale: float = 1.0, fmt: str = "{:+.4f}") -> str:
    return "not measured" if value is None else fmt.format(value * scale)


def _less(share: float) -> str:
    return f"{share:.0%} less" if share >= 0 else f"{-share:.0%} more"


def _share(value: float | None, text: str) -> str:
    return "" if value is None else f" ({value:.0%}{text})"


def warm_view(report: WarmStartReport) -> View:
    """Describe the comparison: savings, options, chart and how it was measured."""
    p = report.payload
    key = p["primary"]
    blocks: list[Any] = []
    if p.get("full"):
        cur = next((r["currency"] for r in p["rows"] if r["currency"]), None)
        value = _num(p.get("value_change_per_1000"), 1, "{:+,.2f}")
        energy = _num(p.get("energy_saved_kwh"), 1000, "{:.4f}")
        cpu = _num(p.get("cpu_saved_s"), 1, "{:.2f}")
        emissions = _num(p.get("emissions_saved_kg"), 1000, "{:.4f}")
        items = [
            (
                "energy saved by warm start",
                f"{energy} Wh" + _share(p.get("energy_saved_share"), " of the full"),
            ),
            ("emissions saved", f"{emissions} g CO2e"),
            ("time saved", f"{_num(p.get('time_saved_s'), 1, '{:.2f}')} s"),
            ("CPU time saved", f"{cpu} s{_share(p.get('cpu_saved_share'), '')}"),
            (f"{key}: warm minus full", _num(p.get("metric_change"))),
            ("accuracy: warm minus full", _num(p.get("accuracy_change"))),
            (
                f"value per 1,000 cases: warm minus full ({cur or 'no canvas'})",
                value if cur else "no value canvas",
            ),
        ]
        blocks.append(KeyValues(items))
    blocks += [Table(report.to_frame().round(6)), Figure(report.plot())]
    note = (
        f"Both fitted on {p['train']} and evaluated on {p['test']}; the warm start "
        f"added {p['extra_trees']} boosting rounds to {p['parent']} and kept its "
        "preprocessing. Energy is measured around each whole training action "
        f"(grid {p['grid']}); CPU time is steadier than wall-clock time when other "
        "programs share the machine. "
    )
    if p.get("estimated"):
        note += "The energy figures are CodeCarbon estimates, not meter readings: "
        note += p["method"]
    blocks.append(Text(note, "warning" if p.get("estimated") else "info"))
    if p.get("full") and p.get("energy_saved_share") is not None:
        summary = (
            f"warm start {p['warm']} used {_less(p['energy_saved_share'])} energy "
            f"than a full retrain ({p['full']})"
        )
        if p.get("cpu_saved_share") is not None:
            summary += f", {_less(p['cpu_saved_share'])} CPU time"
        if p.get("metric_change") is not None:
            summary += f"; {key} {p['metric_change']:+.4f}"
    else:
        summary = f"warm start {p['warm']} from {p['parent']} on {p['train']}"
    title = f"{p['parent']} → {p['warm']}"
    return View("WarmStart", title, summary, [], [Tab("Comparison", blocks)])
