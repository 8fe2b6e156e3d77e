"""The trade-off of a mitigation: accuracy, money value and disparity, before/after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.human import _labels
from mlops_nb.human._common import OTHER, jsonable
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View
from mlops_nb.ui._html import header_label

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

#: the disparity each constraint narrows (the x axis of the trade-off)
TARGET = {"demographic_parity": "demographic_parity_difference"}


def measure_tradeoff(
    original: Model,
    new: Model,
    data: DataAsset,
    test: DataAsset | None,
    cols: list[str],
    pos: Any,
    seconds: float,
) -> Mitigation:
    from mlops_nb.human._fairness import fairness
    from mlops_nb.model._registry import _evaluation_data

    test = test if test is not None else (_evaluation_data(original, None) or data)
    grouping = cols[0] if len(cols) == 1 else " x ".join(cols)
    rows = []
    for m in (original, new):
        ev = m.evaluate(test)
        rep = fairness(m, test, sensitive=cols, pos_label=pos).payload
        disp = next(d for d in rep["disparities"] if d["grouping"] == grouping)
        o = rep["overall"]
        rows.append(
            {
                "version": m.label,
                "method": (m.recipe.get("mitigation") or {}).get("method", "original"),
                "accuracy": o["accuracy"],
                "roc_auc": ev.metrics.get("roc_auc"),
                "selection rate": o["selection rate"],
                f"value per 1,000 ({rep['currency']})"
                if rep["currency"]
                else "value per 1,000": o.get("value per 1,000"),
                "demographic_parity_difference": disp["demographic_parity_difference"],
                "equalized_odds_difference": disp["equalized_odds_difference"],
            }
        )
    mit = new.recipe["mitigation"]
    payload = jsonable(
        {
            "original": original.label,
            "mitigated": new.label,
            "mitigated_version": new.version,
            "method": mit["method"],
            "constraint": mit["constraint"],
            "grouping": grouping,
            "fitted_on": data.label,
            "test": test.label,
            "seconds": seconds,
            "rows": rows,
            "in_sample": any(
                d["name"] == data.name and d["version"] == data.version
                for d in original.lineage["data"]
            ),
        }
    )
    new.project._save_report(
        "model", new.id, f"mitigation:{test.name}@{test.version}", payload
    )
    return Mitigation(new.project, payload)


@dataclass(frozen=True, repr=False)
class Mitigation(Displayable):
    """A mitigated version and its trade-off against the original on the same data."""

    project: Project = field(repr=False)
    payload: dict[str, Any]

    @property
    def model(self) -> Model:
        """The new, mitigated model version."""
        return self.project.model(
            self.payload["original"].rsplit(" v", 1)[0],
            version=self.payload["mitigated_version"],
        )

    def to_frame(self) -> pd.DataFrame:
        """Return both versions' accuracy, ROC AUC, selection, value, disparities."""
        import pandas as pd

        return pd.DataFrame(self.payload["rows"])

    def reduction(self, metric: str | None = None) -> float:
        """How much the targeted disparity fell (original minus mitigated)."""
        metric = metric or TARGET.get(
            self.payload["constraint"], "equalized_odds_difference"
        )
        a, b = (r[metric] for r in self.payload["rows"])
        return float(a - b)

    def plot(self) -> Any:
        """Plot accuracy and money value against the targeted disparity."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        frame = self.to_frame()
        metric = TARGET.get(self.payload["constraint"], "equalized_odds_difference")
        value_col = next(
            (c for c in frame.columns if c.startswith("value per 1,000")), None
        )
        panels = ["accuracy"] + (
            [value_col] if value_col and frame[value_col].notna().all() else []
        )
        fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
        for i, col in enumerate(panels, start=1):
            fig.add_trace(
                go.Scatter(
                    x=frame[metric],
                    y=frame[col],
                    mode="lines+markers+text",
                    text=[f"v{v.rsplit(' v', 1)[1]}" for v in frame["version"]],
                    textposition="middle right",
                    marker={"size": 11, "color": ["#999", "#4c78a8"]},
                    line={"dash": "dot", "color": "#bbb"},
                    showlegend=False,
                ),
                row=1,
                col=i,
            )
            lo, hi = float(frame[metric].min()), float(frame[metric].max())
            pad = max(hi - lo, 0.01) * 0.25
            fig.update_xaxes(
                title_text=header_label(metric) + f" by {self.payload['grouping']}",
                range=[lo - pad, hi + pad],
                row=1,
                col=i,
            )
            lo, hi = float(frame[col].min()), float(frame[col].max())
            pad = max(hi - lo, abs(hi) * 0.001, 1e-3) * 0.3
            fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=i)
        fig.update_layout(
            title=f"Trade-off on {self.payload['test']}",
            template="plotly_white",
            height=340,
            margin={"l": 50, "r": 20, "t": 60, "b": 50},
        )
        return fig

    def _view(self) -> View:
        import pandas as pd

        p, mit = self.payload, self.model.recipe["mitigation"]
        metric = TARGET.get(p["constraint"], "equalized_odds_difference")
        a, b = p["rows"]
        head = KeyValues(
            [
                (
                    "new version",
                    f"{p['mitigated']} (candidate, derived from {p['original']})",
                ),
                ("method", f"{p['method']} for {p['constraint']} by {p['grouping']}"),
                ("fitted on", p["fitted_on"]),
                ("measured on", p["test"]),
                (header_label(metric), f"{a[metric]:.3f} -> {b[metric]:.3f}"),
                ("accuracy", f"{a['accuracy']:.4f} -> {b['accuracy']:.4f}"),
                ("time", f"{p['seconds']:.1f} s"),
            ]
        )
        value_col = next((c for c in a if c.startswith("value per 1,000")), None)
        if value_col and a[value_col] is not None:
            head.items.append(
                (value_col, f"{a[value_col]:,.1f} -> {b[value_col]:,.1f}")
            )
        blocks: list[Any] = [head, Table(self.to_frame().round(4)), Figure(self.plot())]
        if p["in_sample"]:
            blocks.append(
                Text(
                    f"Fitted on {p['fitted_on']}, data the original learnt from: its "
                    "in-sample scores are "
                    "sharper than on new data. Prefer a validation split.",
                    "warning",
                )
            )
        tabs = [Tab("Trade-off", blocks)]
        if mit["method"] == "threshold_optimizer":
            dictionary = _labels.of_data(self.project, p["test"])
            rules = pd.DataFrame(
                [
                    {"group": g, "threshold": t, **mit["fairlearn_rules"].get(g, {})}
                    for g, t in mit["thresholds"].items()
                ]
            ).round(4)
            if len(rules):  # groups as labels, the codes on hover
                rules["group"] = _labels.groups(
                    dictionary, rules["group"], p["grouping"]
                )
            notes = [
                Text(
                    "Each group is selected when the original's probability of "
                    f"{mit['pos_label']!r} exceeds the group's threshold; fairlearn's "
                    "randomized rule (two thresholds mixed with probabilities p0, p1) "
                    "is shown beside it.",
                    "muted",
                )
            ]
            if mit["pooled"]:
                notes.append(
                    Text(
                        f"Pooled into {OTHER!r} (small or single-label groups): "
                        + "; ".join(
                            _labels.group_text(dictionary, g, p["grouping"])
                            for g in mit["pooled"]
                        ),
                        "muted",
                    )
                )
            tabs.append(Tab("Thresholds", [Table(rules), *notes]))
        else:
            tabs.append(
                Tab(
                    "Ensemble",
                    [
                        KeyValues(
                            [
                                ("learner", mit["estimator"]),
                                ("rows sampled", mit["rows"]),
                                ("fits", mit["fits"]),
                                ("members with weight", mit["members"]),
                                (
                                    "weights",
                                    ", ".join(f"{w:.3f}" for w in mit["weights"]),
                                ),
                                ("eps / max_iter", f"{mit['eps']} / {mit['max_iter']}"),
                            ]
                        )
                    ],
                )
            )
        tabs.append(
            Tab(
                "Export and serving",
                [
                    Text(
                        mit["serving"],
                        "warning" if mit["method"] == "threshold_optimizer" else "info",
                    )
                ],
            )
        )
        summary = (
            f"{p['mitigated']}: {header_label(metric)} {a[metric]:.3f} -> "
            f"{b[metric]:.3f}, "
            f"accuracy {a['accuracy']:.4f} -> {b['accuracy']:.4f} on {p['test']}"
        )
        return View(
            "Mitigation",
            f"{p['original']} -> {p['mitigated']}",
            summary,
            [(p["method"], "info")],
            tabs,
        )
