"""The report of one poisoning screen (see :mod:`mlops_nb.secure._poisoning`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.ui._blocks import Tone


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


@dataclass(frozen=True, repr=False)
class PoisoningReport(Displayable):
    """Suspected flipped labels and outliers in one data version.

    Attributes
    ----------
    asset : DataAsset
        The screened version.
    payload : dict
        Everything the screen found, as stored with the version.
    """

    asset: DataAsset
    payload: dict[str, Any]

    @property
    def suspicious_rate(self) -> float | None:
        """Share of screened rows with a suspected wrong label (None: not screened)."""
        return self.payload.get("suspicious_rate")

    @property
    def noise_rate(self) -> float | None:
        """Confident learning's estimate of the share of wrong labels."""
        return self.payload.get("noise_rate")

    @property
    def base_model(self) -> str | None:
        """The model whose out-of-fold probabilities were used."""
        return self.payload.get("base_model")

    @property
    def label_issues(self) -> pd.DataFrame:
        """Suspected label errors, least confident first.

        Columns: id, row, given, suggested, confidence.
        """
        import pandas as pd

        cols = ["id", "row", "given", "suggested", "confidence"]
        return pd.DataFrame(self.payload.get("label_issues", []), columns=cols)

    @property
    def unscreened(self) -> int:
        """Rows left out of the screen: over ``max_rows``, or without a label."""
        u = self.payload.get("unscreened")
        if u is None:  # a report stored before every row was screened
            return int(self.payload["rows_total"] - self.payload["rows_screened"])
        return int(u["max_rows"] + u["no_label"])

    @property
    def scores(self) -> pd.DataFrame:
        """One row per screened row: row, label_quality, outlier_score.

        ``label_quality`` is the out-of-fold probability of the row's given label (low:
        the label looks wrong); ``outlier_score`` the robust |z| or IsolationForest
        score. Empty for reports stored before per-row scores were kept.
        """
        import pandas as pd

        s = self.payload.get("scores") or {"row": []}
        n = len(s["row"])
        return pd.DataFrame(
            {
                "row": s["row"],
                "label_quality": s.get("label_quality") or [None] * n,
                "outlier_score": s.get("outlier_score") or [None] * n,
            }
        )

    def _unscreened_text(self) -> str:
        """How many rows went unscreened and why ('' when none)."""
        u = self.payload.get("unscreened") or {}
        parts = []
        if u.get("max_rows"):
            cap = self.payload["options"]["max_rows"]
            parts.append(f"{u['max_rows']:,} over max_rows={cap:,}")
        if u.get("no_label"):
            parts.append(f"{u['no_label']:,} without a label")
        if not u and self.payload.get("sampled"):  # stored before the cap was visible
            parts.append("outside the seeded sample")
        if not parts:
            return ""
        return f"{self.unscreened:,} rows NOT screened ({'; '.join(parts)})"

    @property
    def outliers(self) -> pd.DataFrame:
        """Outlying rows, most extreme first: id, row, column, score."""
        import pandas as pd

        return pd.DataFrame(
            self.payload.get("outliers", []), columns=["id", "row", "column", "score"]
        )

    def drop_flagged(
        self,
        *,
        labels: bool = True,
        outliers: bool = True,
        name: str | None = None,
        note: str = "",
    ) -> DataAsset:
        """Make a new version without the suspected rows (this one stays as it is).

        Parameters
        ----------
        labels, outliers : bool
            Which findings to drop.
        name : str, optional
            Register under another name; by default a new version of this asset.
        note : str
            Recorded in lineage.
        """
        import numpy as np

        rows: set[int] = set()
        if labels:
            rows |= {int(r["row"]) for r in self.payload.get("label_issues", [])}
        if outliers:
            rows |= {int(r["row"]) for r in self.payload.get("outliers", [])}
        frame = self.asset.frame
        keep = np.ones(len(frame), dtype=bool)
        keep[sorted(rows)] = False
        params = {
            "dropped_rows": len(rows),
            "labels": labels,
            "outliers": outliers,
            "screen": self.base_model or self.payload.get("outlier_method"),
        }
        return self.asset._derive(
            frame[keep],
            self.asset.name if name is None else name,
            "drop suspected poisoning",
            params,
            note or f"dropped {len(rows)} rows suspected of poisoning",
        )

    def _view(self) -> View:
        import pandas as pd

        p = self.payload
        n_issues, n_out = len(p.get("label_issues", [])), len(p.get("outliers", []))
        gap = self._unscreened_text()
        overview = KeyValues(
            [
                ("data", self.asset.label),
                (
                    "rows screened",
                    f"{p['rows_screened']:,} of {p['rows_total']:,}"
                    + (f"; {gap}" if gap else " (every row)"),
                ),
                (
                    "suspected label errors",
                    f"{n_issues:,} ({_pct(p.get('suspicious_rate'))})"
                    if p.get("base_model")
                    else p.get("label_note", "not screened (no classification target)"),
                ),
                ("estimated noise rate", _pct(p.get("noise_rate"))),
                ("base model", p.get("base_model") or "—"),
                (
                    "method",
                    "confident learning, prune by noise rate (Northcutt et al. 2021)"
                    if p.get("base_model")
                    else "—",
                ),
                (
                    "outliers",
                    f"{n_out:,} ({_pct(p.get('outlier_rate'))})"
                    if p.get("outlier_method")
                    else "not screened",
                ),
                ("outlier rule", p.get("outlier_method") or "—"),
            ]
        )
        tabs = [
            Tab(
                "Overview",
                [overview, *([Text(gap + ".", "warning")] if gap else [])],
            )
        ]
        if p.get("base_model"):
            blocks: list[Any] = [
                Table(
                    pd.DataFrame(p["per_class"]),
                    caption="suspected errors by given label",
                )
            ]
            if n_issues:
                blocks.append(
                    Table(
                        self.label_issues, caption="least confident first", max_rows=20
                    )
                )
            else:
                blocks.append(Text("No label looks flipped.", "ok"))
            import plotly.graph_objects as go

            names = [str(c) for c in p["classes"]]
            fig = go.Figure(
                go.Heatmap(
                    z=p["confident_joint"],
                    x=names,
                    y=names,
                    colorscale="Blues",
                    text=p["confident_joint"],
                    texttemplate="%{text}",
                )
            )
            fig.update_layout(
                title="Confident joint: given label (rows) x likely true label "
                "(columns)",
                height=320,
                xaxis_title="likely true",
                yaxis_title="given",
            )
            blocks.append(Figure(fig))
            tabs.append(Tab("Labels", blocks))
        if p.get("outlier_method"):
            tabs.append(
                Tab(
                    "Outliers",
                    [Table(self.outliers, caption="most extreme first", max_rows=20)]
                    if n_out
                    else [Text("No outliers.", "ok")],
                )
            )
        rate = p.get("suspicious_rate")
        summary = (
            f"{n_issues:,} suspected label errors ({_pct(rate)}), {n_out:,} outliers"
            if p.get("base_model")
            else f"{n_out:,} outliers"
        ) + (f"; {gap}" if gap else f" in all {p['rows_screened']:,} rows")
        badges: list[tuple[str, Tone]] = (
            [
                (
                    f"{_pct(rate)} suspicious",
                    "warning" if rate and rate > 0.05 else "info",
                )
            ]
            if rate is not None
            else []
        )
        if gap:
            badges.append((f"{self.unscreened:,} rows unscreened", "warning"))
        return View("PoisoningReport", self.asset.label, summary, badges, tabs)
