"""Fairness of a model's decisions by sensitive group and intersection.

Per group: rows, the labels' positive rate (base rate), and the decision's selection
rate, true and false positive rates, precision and accuracy -- point values from
fairlearn's ``MetricFrame``, 95 % bootstrap intervals from the group's confusion
counts. Resampling rows with replacement gives each (group, outcome) cell a
multinomial count, so the bootstrap draws the cells directly: 200 replicates of any
number of rows take milliseconds and equal row resampling in distribution.

Disparities per sensitive column and for their intersection: demographic parity
difference (largest minus smallest selection rate) and ratio (smallest over largest),
equalized odds difference (the larger of the TPR and FPR ranges), each with its
bootstrap interval, over groups of at least ``min_group_size`` rows. fairlearn's own
values over all groups are kept beside them: one tiny group can make them 1.0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.human import _labels
from mlops_nb.human._common import (
    MIN_GROUP_SIZE,
    group_keys,
    jsonable,
    labelled_frame,
    require_asset,
    require_binary,
    selected_class,
    sensitive_columns,
)
from mlops_nb.human._groupstats import (
    DEFAULT_LIMITS,
    DISPARITIES,
    RATES,
    grouping_stats,
)
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View
from mlops_nb.ui._html import Coded

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model

__all__ = ["DEFAULT_LIMITS", "DISPARITIES", "RATES", "FairnessReport", "fairness"]


def fairness(
    model: Model,
    data: DataAsset,
    *,
    sensitive: str | list[str] | None = None,
    intersections: bool = True,
    pos_label: Any = None,
    min_group_size: int = MIN_GROUP_SIZE,
    n_boot: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> FairnessReport:
    """Review a binary classifier's decisions by sensitive group and intersection.

    Parameters
    ----------
    model : Model
        A binary classifier; its decisions are :meth:`Model.predict`'s, at the
        model's decision threshold (:attr:`Model.threshold_info`).
    data : DataAsset
        Labelled data the model did not learn from (e.g. the test split).
    sensitive : str or list of str, optional
        Columns to group by (default: the asset's sensitive columns).
    intersections : bool
        Also group by the combination of all sensitive columns (e.g. SEX x RAC1P).
    pos_label : optional
        The class whose prediction is the decision to act (default: the value
        canvas's positive class, else the model's second class).
    min_group_size : int
        Groups with fewer rows are flagged and left out of the disparity summaries.
    n_boot : int
        Bootstrap replicates for the intervals (0: none).
    ci : float
        Coverage of the intervals.
    seed : int
        Seeds the bootstrap.

    Returns
    -------
    FairnessReport
        Stored with the model; the same arguments return the stored report.

    Raises
    ------
    ValidationError, SchemaError
        For a model that is not a binary classifier, unlabelled data or unknown columns.
    """
    import numpy as np

    from mlops_nb.business._canvas import current_canvas

    what = f"{model.label}.fairness"
    require_binary(model, what)
    target = model.recipe["target"]
    require_asset(data, what, labelled=target)
    cols = sensitive_columns(data, sensitive, what)
    if (
        not (isinstance(n_boot, int) and n_boot >= 0)
        or not 0 < ci < 1
        or min_group_size < 1
    ):
        msg = (
            f"{what}: n_boot={n_boot!r}, ci={ci!r}, min_group_size={min_group_size!r}: "
            "expected a whole number >= 0, a share in (0, 1) and a size >= 1."
        )
        raise ValidationError(msg)
    pos, source = selected_class(model, pos_label, what)
    canvas = current_canvas(model.project)
    if canvas is not None and str(canvas.positive_class) != str(pos):
        canvas = None  # the canvas prices a different decision
    key = (
        f"fairness:{data.name}@{data.version}:cols={'+'.join(cols)}:x={int(intersections)}"
        f":pos={pos}:min={min_group_size}:boot={n_boot}:ci={ci}:seed={seed}"
        f":canvas={canvas.version if canvas else 0}"
    )
    threshold = model.threshold_info  # the decisions are Model.predict's, at it
    if threshold is not None:
        key += f":threshold={threshold['value']!r}@{threshold['positive_class']}"
    stored = model.project._report("model", model.id, key)
    if stored is not None:
        return FairnessReport(model.project, stored)
    start = time.perf_counter()
    frame = labelled_frame(data, target)
    y = (frame[target].astype(object) == pos).to_numpy()
    d = model.predict(frame).astype(object) == pos
    rng = np.random.default_rng(seed)
    groupings = [(c, [c]) for c in cols]
    if intersections and len(cols) > 1:
        groupings.append((" x ".join(cols), cols))
    rows, disparities, notes = [], [], []
    for name, gcols in groupings:
        r, disp = grouping_stats(
            y,
            d,
            group_keys(frame, gcols),
            name=name,
            min_size=min_group_size,
            n_boot=n_boot,
            ci=ci,
            rng=rng,
            canvas=canvas,
        )
        rows += r
        notes += disp.pop("notes", [])
        disparities.append(disp)
    overall_rows, _ = grouping_stats(
        y,
        d,
        np.full(len(y), "all rows", dtype=object),
        name="overall",
        min_size=1,
        n_boot=n_boot,
        ci=ci,
        rng=rng,
        canvas=canvas,
    )
    payload = {
        "model": model.label,
        "model_id": model.id,
        "data": data.label,
        "data_hash": data.content_hash,
        "n": len(frame),
        "sensitive": cols,
        "pos_label": pos,
        "pos_source": source,
        "threshold": threshold,
        "min_group_size": min_group_size,
        "n_boot": n_boot,
        "ci": ci,
        "seed": seed,
        "currency": canvas.currency if canvas else None,
        "overall": overall_rows[0],
        "groups": rows,
        "disparities": disparities,
        "notes": notes,
        "seconds": round(time.perf_counter() - start, 3),
    }
    payload = jsonable(payload)
    model.project._save_report("model", model.id, key, payload)
    return FairnessReport(model.project, payload)


def limits_of(project: Project) -> dict[str, float]:
    """Return the disparity limits of the project's release checklist."""
    from mlops_nb.human._checklist import checklist_config

    return dict(checklist_config(project)["limits"])


def _fmt(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if v is None or v != v:  # None or NaN: the one missing-value mark
        return "—"
    lo, hi = row.get(f"{key} low"), row.get(f"{key} high")
    if lo is None or hi is None or lo != lo or hi != hi:  # too few rows for one
        return f"{v:.3f}"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


@dataclass(frozen=True, repr=False)
class FairnessReport(Displayable):
    """A stored fairness review of one model version on one data version."""

    project: Project = field(repr=False)
    payload: dict[str, Any]

    @property
    def disparities(self) -> pd.DataFrame:
        """One row per grouping: the disparity summaries and their intervals."""
        import pandas as pd

        return pd.DataFrame(self.payload["disparities"])

    def to_frame(self) -> pd.DataFrame:
        """One row per group: counts, rates and their intervals."""
        import pandas as pd

        return pd.DataFrame(self.payload["groups"])

    def findings(self, limits: dict[str, float] | None = None) -> list[str]:
        """Sentences naming each disparity above its limit (empty: within limits)."""
        limits = limits if limits is not None else limits_of(self.project)
        out = []
        for disp in self.payload["disparities"]:
            for k, limit in limits.items():
                v = disp.get(k)
                if v is None:
                    continue
                bad = v < limit if k.endswith("ratio") else v > limit
                if bad:
                    out.append(
                        f"{k.replace('_', ' ')} by {disp['grouping']} is {v:.3f} "
                        f"({'below' if k.endswith('ratio') else 'above'} the limit "
                        f"{limit})"
                    )
        return out

    @property
    def notes(self) -> list[str]:
        """Rates a group's labels leave undefined, and what the disparities use."""
        return list(self.payload.get("notes", []))

    def _dictionary(self) -> Any:
        """Return the reviewed data's dictionary (groups show as labels)."""
        return _labels.of_data(self.project, self.payload.get("data"))

    def within(self, limits: dict[str, float] | None = None) -> bool:
        """Tell whether every disparity is within ``limits`` (default: checklist's)."""
        return not self.findings(limits)

    def plot(self, grouping: str | None = None) -> Any:
        """Plot selection rate, TPR and FPR by group with bootstrap intervals."""
        import plotly.graph_objects as go

        p = self.payload
        grouping = grouping or p["disparities"][0]["grouping"]
        rows = [r for r in p["groups"] if r["grouping"] == grouping]
        if not rows:
            names = [d["grouping"] for d in p["disparities"]]
            msg = f"FairnessReport.plot(grouping={grouping!r}): use one of {names}."
            raise ValidationError(msg)
        prefix = f"{grouping}=" if " x " not in grouping else ""
        shown = _labels.groups(self._dictionary(), [r["group"] for r in rows], grouping)
        x = [
            (str(s) if isinstance(s, Coded) else r["group"].removeprefix(prefix))
            + (" (small)" if r["small"] else "")
            for s, r in zip(shown, rows, strict=True)
        ]
        codes = [
            s.title if isinstance(s, Coded) else r["group"]
            for s, r in zip(shown, rows, strict=True)
        ]
        fig = go.Figure()
        for m, color in (
            ("selection rate", "#4c78a8"),
            ("TPR", "#54a24b"),
            ("FPR", "#e45756"),
        ):
            y = [r[m] for r in rows]
            err = {}
            if f"{m} low" in rows[0]:
                err = {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        None
                        if r[f"{m} high"] is None or r[m] is None
                        else r[f"{m} high"] - r[m]
                        for r in rows
                    ],
                    "arrayminus": [
                        None
                        if r[f"{m} low"] is None or r[m] is None
                        else r[m] - r[f"{m} low"]
                        for r in rows
                    ],
                }
            fig.add_bar(
                x=x,
                customdata=codes,
                hovertemplate=f"%{{x}}<br>%{{customdata}}<br>{m}: %{{y:.3f}}"
                "<extra></extra>",
                y=y,
                name=m,
                marker_color=color,
                error_y=err or None,
                marker_opacity=[0.35 if r["small"] else 1.0 for r in rows],
            )
        overall = p["overall"]["selection rate"]
        fig.add_hline(
            y=overall,
            line_dash="dot",
            line_color="#4c78a8",
            annotation_text=f"overall selection {overall:.3f}",
        )
        fig.update_layout(
            title=f"Decisions by {grouping} (selected: predicted {p['pos_label']})",
            barmode="group",
            template="plotly_white",
            height=340 + (100 if max(map(len, x)) > 14 else 0),
            margin={"l": 50, "r": 10, "t": 40, "b": 60},
            xaxis_automargin=True,  # room for long group labels below the bars
            yaxis_range=[0, 1.05],
        )
        return fig

    def _view(self) -> View:
        import pandas as pd

        from mlops_nb.model._threshold import describe as describe_threshold

        p = self.payload
        dictionary = self._dictionary()
        limits = limits_of(self.project)
        findings = self.findings(limits)
        overall = p["overall"]
        head = KeyValues(
            [
                ("model", p["model"]),
                ("data", f"{p['data']} ({p['n']:,} labelled rows)"),
                (
                    "decision reviewed",
                    f"predicted {p['pos_label']!r}: {p['pos_source']}",
                ),
                *(
                    [("decided at", describe_threshold(p["threshold"]))]
                    if p.get("threshold")
                    else []
                ),
                (
                    "sensitive columns",
                    ", ".join(
                        f"{c} ({dictionary.descriptions[c]})"
                        if c in dictionary.descriptions
                        else c
                        for c in p["sensitive"]
                    ),
                ),
                ("overall selection rate", _fmt(overall, "selection rate")),
                ("overall accuracy", _fmt(overall, "accuracy")),
                (
                    "intervals",
                    f"{p['ci']:.0%} bootstrap, {p['n_boot']} replicates"
                    if p["n_boot"]
                    else "none",
                ),
                (
                    "small groups",
                    f"fewer than {p['min_group_size']} rows: flagged, not compared",
                ),
            ]
        )
        if overall.get("value per 1,000") is not None:
            head.items.append(
                (
                    f"value per 1,000 decisions ({p['currency']})",
                    round(overall["value per 1,000"], 2),
                )
            )
        rows = []
        for d in p["disparities"]:
            ok = not any(f" by {d['grouping']} is" in f for f in findings)
            rows.append(
                {
                    "grouping": d["grouping"],
                    "groups compared": d["groups compared"],
                    "DP difference": _fmt(d, "demographic_parity_difference"),
                    "DP ratio": _fmt(d, "demographic_parity_ratio"),
                    "EO difference": _fmt(d, "equalized_odds_difference"),
                    "DP difference, all groups": d[
                        "demographic_parity_difference (all groups)"
                    ],
                    "within limits": ok,
                    "tone": "ok" if ok else "warning",
                }
            )
        blocks: list[Any] = [
            head,
            Table(
                pd.DataFrame(rows),
                caption="Disparities (DP: demographic parity, EO: equalized odds)",
                tone_column="tone",
            ),
        ]
        blocks.append(
            Text(
                "Limits (release checklist): "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in limits.items()),
                "muted",
            )
        )
        for f in findings:
            blocks.append(Text(f, "warning"))
        blocks += [
            Text(f"Note: {_labels.in_text(dictionary, n, p['groups'])}", "warning")
            for n in self.notes
        ]
        for d in p["disparities"]:
            if d["small groups"]:
                blocks.append(
                    Text(
                        f"{d['grouping']}: {len(d['small groups'])} group(s) below "
                        f"{p['min_group_size']} rows "
                        "not compared: "
                        + "; ".join(
                            _labels.group_text(dictionary, g, d["grouping"])
                            for g in d["small groups"][:8]
                        )
                        + (" ..." if len(d["small groups"]) > 8 else ""),
                        "muted",
                    )
                )
            if d.get("base rate range"):
                lo, hi = d["base rate range"]
                blocks.append(
                    Text(
                        f"{d['grouping']}: the labels themselves differ — positive "
                        "rate "
                        f"(of {p['pos_label']!r}) from {lo:.3f} to {hi:.3f} across "
                        "compared groups.",
                        "info",
                    )
                )
        tabs = [Tab("Summary", blocks)]
        for d in p["disparities"]:
            frame = self.to_frame()
            frame = frame[frame["grouping"] == d["grouping"]]
            shown = pd.DataFrame(
                {
                    "group": _labels.groups(dictionary, frame["group"], d["grouping"]),
                    "rows": frame["count"],
                    "base rate": frame["base rate"].round(3),
                    **{
                        m: [_fmt(r, m) for r in frame.to_dict("records")] for m in RATES
                    },
                    "small": frame["small"],
                }
            )
            if "value per 1,000" in frame:
                shown[f"value per 1,000 ({p['currency']})"] = frame[
                    "value per 1,000"
                ].round(1)
            tabs.append(
                Tab(
                    f"By {d['grouping']}",
                    [Table(shown, max_rows=40), Figure(self.plot(d["grouping"]))],
                )
            )
        worst = max(
            p["disparities"], key=lambda d: d.get("equalized_odds_difference") or 0
        )
        summary = (
            f"{p['n']:,} rows of {p['data']}; largest EO difference "
            f"{worst.get('equalized_odds_difference') or float('nan'):.3f} by "
            f"{worst['grouping']}; "
            + (
                "within limits"
                if not findings
                else f"{len(findings)} disparity(ies) above limits"
            )
            + (f"; {len(self.notes)} note(s): see .notes" if self.notes else "")
        )
        badge = ("within limits", "ok") if not findings else ("above limits", "warning")
        return View("Fairness", f"{p['model']} on {p['data']}", summary, [badge], tabs)


def stored_fairness(model: Model) -> list[FairnessReport]:
    """Every fairness review stored for ``model``, oldest first."""
    from mlops_nb.human._common import stored_reports

    return [
        FairnessReport(model.project, r["payload"])
        for r in stored_reports(model, "fairness:")
    ]
