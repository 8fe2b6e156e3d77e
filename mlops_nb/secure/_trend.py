"""The poisoning trend across the versions of an asset, with change-point alerts.

Slow poisoning hides in small steps: each new version adds a few flipped labels,
none alarming alone. :func:`poisoning_trend` screens every version (each screen is
stored, so only new versions cost time) and follows the suspicious-label rate,
overall and per given label (a targeted attack flips one class), with a one-sided
CUSUM against an *anchored* baseline: the first ``baseline`` versions, never the
previous version, so the reference cannot drift along with the attack.

For version ``t`` with rate ``x_t`` on ``n_t`` rows, ``z_t = (x_t - mu0) / s_t`` where
``mu0`` is the baseline mean and ``s_t`` the largest of the binomial standard error
``sqrt(mu0 (1 - mu0) / n_t)``, the spread of the baseline versions, ``rel_floor * mu0``
and ``abs_floor`` (screens vary more than sampling alone).
``S_t = max(0, S_{t-1} + z_t - k)``;
an alert is raised when ``S_t > h``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.ui._blocks import Tone


def cusum(
    rates: list[float],
    sizes: list[int],
    *,
    baseline: int,
    k: float,
    h: float,
    rel_floor: float,
    abs_floor: float,
) -> tuple[list[float], int | None, float, float]:
    """One-sided CUSUM of rates against the mean of the first ``baseline`` of them.

    Returns
    -------
    (scores, first alarm index or None, baseline mean, baseline spread)
    """
    base = rates[:baseline]
    mu0 = sum(base) / len(base)
    spread = (
        math.sqrt(sum((r - mu0) ** 2 for r in base) / (len(base) - 1))
        if len(base) > 1
        else 0.0
    )
    scores, s, first = [], 0.0, None
    for t, (x, n) in enumerate(zip(rates, sizes, strict=True)):
        if t < baseline:
            scores.append(0.0)
            continue
        sd = max(
            math.sqrt(max(mu0 * (1 - mu0), 1e-6) / max(n, 1)),
            spread,
            rel_floor * mu0,
            abs_floor,
        )
        s = max(0.0, s + (x - mu0) / sd - k)
        scores.append(round(s, 3))
        if first is None and s > h:
            first = t
    return scores, first, mu0, spread


def poisoning_trend(
    project: Project,
    name: str,
    *,
    baseline: int = 3,
    k: float = 0.5,
    h: float = 5.0,
    rel_floor: float = 0.25,
    abs_floor: float = 0.003,
    versions: list[int] | None = None,
    **options: Any,
) -> PoisoningTrend:
    """Follow the suspicious-label rate across the versions of ``name``.

    Parameters
    ----------
    project : Project
    name : str
        The asset.
    baseline : int
        The first versions that form the anchored reference (they are assumed clean:
        check them with ``asset.poisoning()`` first).
    k, h : float
        CUSUM slack and alarm threshold, in standard errors.
    rel_floor, abs_floor : float
        Lower bounds of the standard error: a share of the baseline rate, and an
        absolute rate (0.3 percentage points: smaller moves are not told apart).
    versions : list of int, optional
        Versions to follow (default: all, oldest first).
    **options
        Passed to :func:`mlops_nb.secure.poisoning` for every version.

    Returns
    -------
    PoisoningTrend
        Rates per version and series, CUSUM scores, and alerts.
    """
    from mlops_nb.secure._poisoning import poisoning

    project.asset(name)  # clear error for an unknown name
    if versions is None:
        from mlops_nb.store._q_assets import asset_version_numbers

        versions = [int(v) for v in asset_version_numbers(project._store, name)]
    if not isinstance(baseline, int) or baseline < 1:
        msg = f"poisoning_trend(baseline={baseline!r}): use a whole number >= 1."
        raise ValidationError(msg)
    if len(versions) <= baseline:
        msg = (
            f"poisoning_trend({name!r}): {len(versions)} version(s) and "
            f"baseline={baseline}; a trend "
            f"needs more versions than the baseline. Register more versions or "
            f"lower baseline."
        )
        raise ValidationError(msg)
    rows = []
    for v in versions:
        report = poisoning(project.asset(name, v), **options)
        p = report.payload
        if p.get("suspicious_rate") is None:
            msg = (
                f"poisoning_trend({name!r}): version {v} has no classification "
                f"target to screen."
            )
            raise ValidationError(msg)
        row = {
            "version": v,
            "rows": p["rows_screened"],
            "unscreened": report.unscreened,
            "all": p["suspicious_rate"],
            "outliers": p.get("outlier_rate"),
        }
        for c in p["per_class"]:
            row[f"label {c['class']}"] = c["rate"]
            row[f"n {c['class']}"] = c["rows"]
        rows.append(row)
    series = ["all", *sorted({k2 for r in rows for k2 in r if k2.startswith("label ")})]
    result: dict[str, Any] = {
        "name": name,
        "rows": rows,
        "series": {},
        "alerts": [],
        "params": {
            "baseline": baseline,
            "k": k,
            "h": h,
            "rel_floor": rel_floor,
            "abs_floor": abs_floor,
        },
    }
    for s in series:
        sizes = [r["rows"] if s == "all" else r.get("n " + s[6:], 0) for r in rows]
        rates = [r.get(s) or 0.0 for r in rows]
        scores, first, mu0, spread = cusum(
            rates,
            sizes,
            baseline=baseline,
            k=k,
            h=h,
            rel_floor=rel_floor,
            abs_floor=abs_floor,
        )
        result["series"][s] = {
            "scores": scores,
            "baseline_rate": mu0,
            "baseline_spread": spread,
        }
        if first is not None:
            result["alerts"].append(
                {
                    "series": s,
                    "version": rows[first]["version"],
                    "rate": rates[first],
                    "baseline_rate": round(mu0, 5),
                    "cusum": scores[first],
                }
            )
    result["alerts"].sort(key=lambda a: a["version"])
    return PoisoningTrend(result)


@dataclass(frozen=True, repr=False)
class PoisoningTrend(Displayable):
    """Suspicious-label rates across versions, CUSUM scores and change-point alerts."""

    result: dict[str, Any] = field(default_factory=dict)

    @property
    def alarm(self) -> bool:
        """True when any series crossed the CUSUM threshold."""
        return bool(self.result["alerts"])

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """One dict per alarmed series: series, first version, rate, baseline, cusum."""
        return list(self.result["alerts"])

    @property
    def first_alarm(self) -> int | None:
        """The first version at which any series alarmed."""
        return min((a["version"] for a in self.result["alerts"]), default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per version: rows screened, rate per series, CUSUM per series."""
        import pandas as pd

        frame = pd.DataFrame(self.result["rows"])
        frame = frame[[c for c in frame.columns if not c.startswith("n ")]]
        for s, info in self.result["series"].items():
            frame[f"cusum {s}"] = info["scores"]
        return frame

    def _view(self) -> View:
        import plotly.graph_objects as go

        r = self.result
        frame = self.to_frame()
        fig = go.Figure()
        for s in r["series"]:
            fig.add_scatter(
                x=frame["version"], y=frame[s], mode="lines+markers", name=s
            )
        for a in r["alerts"]:
            fig.add_vline(x=a["version"], line_dash="dash", line_color="#8a1c1c")
            fig.add_annotation(
                x=a["version"],
                y=a["rate"],
                text=f"alert: {a['series']}",
                showarrow=True,
            )
        base = r["params"]["baseline"]
        fig.add_vrect(
            x0=frame["version"].iloc[0] - 0.5,
            x1=frame["version"].iloc[base - 1] + 0.5,
            fillcolor="#e8f5ec",
            opacity=0.5,
            line_width=0,
            annotation_text="anchored baseline",
        )
        fig.update_layout(
            title=f"Suspicious-label rate per version of {r['name']}",
            height=340,
            xaxis_title="version",
            yaxis_title="share of rows",
            yaxis_tickformat=".1%",
        )
        overview = KeyValues(
            [
                ("asset", r["name"]),
                ("versions", len(frame)),
                ("baseline", f"first {base} versions (anchored)"),
                (
                    "rule",
                    f"one-sided CUSUM, k={r['params']['k']}, h={r['params']['h']}",
                ),
                ("first alert", self.first_alarm or "none"),
            ]
        )
        blocks: list[Any] = [overview]
        if r["alerts"]:
            import pandas as pd

            blocks.append(
                Text(
                    "Change point: the suspicious-label rate has risen above the "
                    "anchored "
                    "baseline. Inspect the flagged rows of the alerting versions "
                    "and the "
                    "sources that supplied them before training on them.",
                    "error",
                )
            )
            blocks.append(Table(pd.DataFrame(r["alerts"]), caption="alerts"))
        else:
            blocks.append(
                Text("No change point: rates stay within the baseline's range.", "ok")
            )
        tabs = [
            Tab("Trend", [*blocks, Figure(fig)]),
            Tab("Versions", [Table(frame, max_rows=100)]),
        ]
        badge: tuple[str, Tone] = (
            (f"alert at v{self.first_alarm}", "error")
            if self.alarm
            else ("no alert", "ok")
        )
        summary = (
            f"{len(frame)} versions; change point at v{self.first_alarm}"
            if self.alarm
            else f"{len(frame)} versions; no change point"
        )
        return View("PoisoningTrend", r["name"], summary, [badge], tabs)
