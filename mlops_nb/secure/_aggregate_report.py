"""The result of :func:`mlops_nb.secure.aggregate`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.ui._blocks import Tone

_TONES = {"accepted": "ok", "rejected": "error"}


@dataclass(frozen=True, repr=False)
class AggregationResult(Displayable):
    """An aggregated model with each partner's trust score and the sanitation log.

    Attributes
    ----------
    model : object
        The aggregate, of the same kind as the partners' models (a fitted estimator
        copy, a dict of arrays or an array).
    params : list of (str, ndarray)
        The aggregated parameters by name.
    """

    model: Any
    params: list[tuple[str, np.ndarray]]
    rows: list[dict[str, Any]]
    events: list[dict[str, Any]]
    info: dict[str, Any]

    @property
    def trust(self) -> pd.DataFrame:
        """One row per partner: status, distance to the centre, trust, weight, used."""
        import pandas as pd

        return pd.DataFrame(
            self.rows,
            columns=["partner", "status", "distance", "trust", "weight", "used"],
        )

    @property
    def log(self) -> pd.DataFrame:
        """Every rejected, clipped or capped update: partner, check, action, reason."""
        import pandas as pd

        return pd.DataFrame(
            self.events, columns=["partner", "check", "action", "reason"]
        )

    @property
    def rejected(self) -> list[str]:
        """Partners whose update was rejected."""
        return [r["partner"] for r in self.rows if r["status"] == "rejected"]

    @property
    def suspects(self) -> list[str]:
        """Partners with trust below 0.5 (over 4x the typical distance) or rejected."""
        return [r["partner"] for r in self.rows if r["trust"] < 0.5]

    def _view(self) -> View:
        import plotly.graph_objects as go

        i = self.info
        overview = KeyValues(
            [
                (
                    "method",
                    i["method"]
                    + (f" (beta={i['beta']})" if i["beta"] is not None else ""),
                ),
                ("partners", f"{i['n']} valid of {i['partners']}"),
                ("tolerated hostile partners f", i["f"]),
                (
                    "trust mode",
                    i["trust_mode"] + (" (unsafe mean allowed)" if i["unsafe"] else ""),
                ),
                (
                    "clip bound",
                    "none" if i["clip_bound"] is None else f"{i['clip_bound']:.4g}",
                ),
                ("suspects (trust < 0.5)", ", ".join(self.suspects) or "none"),
            ]
        )
        table = self.trust
        table["tone"] = [
            "error"
            if r["status"] == "rejected"
            else "warning"
            if r["trust"] < 0.5
            else ("muted" if r["status"] == "accepted" else "warning")
            for r in self.rows
        ]
        table.loc[table["tone"] == "muted", "tone"] = "ok"
        fig = go.Figure(
            go.Bar(
                x=table["partner"],
                y=table["trust"],
                marker_color=[
                    "#8a1c1c" if t < 0.5 else "#1e6b34" for t in table["trust"]
                ],
            )
        )
        fig.update_layout(
            title="Trust per partner (1 = near the robust centre)",
            height=300,
            yaxis_range=[0, 1.05],
        )
        blocks: list[Any] = [
            overview,
            Table(table, tone_column="tone", max_rows=100),
            Figure(fig),
        ]
        tabs = [Tab("Partners", blocks)]
        tabs.append(
            Tab(
                "Sanitation log",
                [Table(self.log, max_rows=100)]
                if self.events
                else [
                    Text(
                        "Every update was well-formed and within the clip bound.", "ok"
                    )
                ],
            )
        )
        summary = (
            f"{i['method']} of {i['n']} partners; suspects: "
            f"{', '.join(self.suspects) or 'none'}"
        )
        badge: tuple[str, Tone] = (
            (f"{len(self.suspects)} suspect partners", "warning")
            if self.suspects
            else ("no suspects", "ok")
        )
        return View("AggregationResult", i["method"], summary, [badge], tabs)
