"""Decision policies priced with one canvas version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.business._canvas import OUTCOMES
from mlops_nb.business._canvas_html import money_text
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, View

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.business._canvas import ValueCanvas


@dataclass(frozen=True, repr=False)
class PolicyComparison(Displayable):
    """Decision policies priced with one canvas version (see ``compare_policies``)."""

    canvas: ValueCanvas
    rows: tuple[dict[str, Any], ...]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per policy: share acted on, counts, value, value per 1,000."""
        import pandas as pd

        return pd.DataFrame(list(self.rows))

    @property
    def best(self) -> str:
        """The name of the policy with the highest value per 1,000 cases."""
        return max(self.rows, key=lambda r: r["value per 1,000"])["policy"]

    def plot(self) -> go.Figure:
        """Return a bar chart of value per 1,000 cases, one bar per policy."""
        import plotly.graph_objects as go

        values = [r["value per 1,000"] for r in self.rows]
        colors = ["#1e6b34" if v >= 0 else "#8a1c1c" for v in values]
        fig = go.Figure(
            go.Bar(
                x=values,
                y=[r["policy"] for r in self.rows],
                orientation="h",
                marker_color=colors,
                text=[money_text(v, self.canvas.currency) for v in values],
                textposition="auto",
            )
        )
        fig.update_layout(
            title=f"Value per 1,000 cases ({self.canvas.currency}), "
            f"canvas {self.canvas._title()}",
            height=120 + 40 * len(values),
            margin={"l": 10, "r": 10, "t": 40, "b": 30},
            yaxis={"autorange": "reversed"},
            template="plotly_white",
        )
        return fig

    def _view(self) -> View:
        frame = self.to_frame()
        frame["acts on"] = frame["acts on"].map(lambda v: f"{v:.1%}")
        best = max(self.rows, key=lambda r: r["value per 1,000"])
        money = money_text(best["value per 1,000"], self.canvas.currency)
        summary = f"best: {best['policy']}, {money} per 1,000 cases"
        facts = KeyValues(
            [
                ("canvas", f"{self.canvas._title()} · {self.canvas.process}"),
                ("positive class", repr(self.canvas.positive_class)),
                ("cases", sum(self.rows[0][k] for k in OUTCOMES)),
            ]
        )
        blocks: list[Any] = [facts, Table(frame), Figure(self.plot())]
        return View(
            "Policies",
            f"priced with canvas {self.canvas._title()}",
            summary,
            [(f"best: {best['policy']}", "ok")],
            [Tab("Value", blocks)],
        )
