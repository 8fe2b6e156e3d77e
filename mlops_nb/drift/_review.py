"""The drift review: one stored payload, rendered as text, static HTML and a widget.

Tabs: a summary (recommendation, reasons, one row per chunk with its status), the
drift heatmap (columns x chunks), distributions (reference against a chunk; the
widget lets you choose any column and chunk, the static page shows the strongest
alerts), performance (estimated with its band, realized, concept-drift verdict),
multivariate drift, fairness over time, business value and the ranked alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.drift import _plots
from mlops_nb.drift._verdict import (
    METRIC_NAMES,
    UNVERIFIED,
    describe_value_at_risk,
    value_at_risk,
)
from mlops_nb.errors import ValidationError, did_you_mean
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.ui._blocks import Tone

N_DISTRIBUTIONS = 4
_TONE: dict[str, Tone] = {
    "retrain": "error",
    "investigate": "warning",
    "no action": "ok",
}


def compute_review(mon: Monitor) -> DriftReview:
    """Compute the review of the monitor's current state (or load the stored one)."""
    from mlops_nb.business._canvas import current_canvas
    from mlops_nb.data._dictionary import group_words, training_dictionary
    from mlops_nb.drift._analysis import analyze
    from mlops_nb.drift._data import frames
    from mlops_nb.drift._monitor import decision_of

    doc = mon._doc()
    canvas = current_canvas(mon.project)
    key = f"drift-review:canvas={canvas.version if canvas else 0}"
    decision = decision_of(mon.model, doc["payload"]["options"], canvas)
    if decision is not None:  # decisions at the model's threshold (it may change)
        key += f":threshold={decision['threshold']!r}"
    stored = mon.project._report("document", doc["id"], key)
    if stored is not None:
        return DriftReview(stored)
    s = doc["payload"]
    inputs = _inputs_key(mon, s)
    reference, analysis = frames(mon)
    ref_key = s["reference"]["content_hash"]
    options = dict(s["options"])
    if decision is not None:
        options["decision_threshold"] = decision["threshold"]
    payload = analyze(
        mon.model,
        reference,
        analysis,
        options,
        canvas=canvas,
        keys=(ref_key, inputs),
        reuse=_reusable(mon, inputs),
    )
    if decision is not None and payload.get("decision"):
        payload["decision"].update(source=decision["source"], text=decision["text"])
    payload["inputs"] = inputs
    s = doc["payload"]
    payload["monitor"] = {
        "name": mon.name,
        "version": doc["version"],
        "reference": f"{s['reference']['name']} v{s['reference']['version']}",
        "batches": [f"{n} v{v}" for n, v in s["batches"]],
        "targets": [f"{t['name']} v{t['version']}" for t in s["targets"]],
    }
    # the words for the groups' codes, from the training data's dictionary
    payload["labels"] = group_words(
        training_dictionary(mon.model),
        {c: f["groups"] for c, f in (payload.get("fairness") or {}).items()},
    )
    mon.project._save_report("document", doc["id"], key, payload)
    return DriftReview(mon.project._report("document", doc["id"], key) or payload)


def _inputs_key(mon: Monitor, state: dict[str, Any]) -> str:
    """Hash what label-free sections depend on: data, chunking, methods."""
    import hashlib
    import json

    batches = [mon.project.asset(n, v).content_hash for n, v in state["batches"]]
    o = state["options"]
    what = [state["reference"]["content_hash"], batches, o["chunk"], o["multivariate"]]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _reusable(mon: Monitor, inputs: str) -> dict[str, Any] | None:
    """Label-free sections of the newest stored review of the same inputs."""
    import json

    from mlops_nb.store._q_reports import drift_review_payloads

    for text in drift_review_payloads(mon.project._store, mon.name):
        payload = json.loads(text)
        if payload.get("inputs") == inputs:
            return {"multivariate": payload.get("multivariate")}
    return None


@dataclass(frozen=True, repr=False)
class DriftReview(Displayable):
    """A drift review: what drifted, how performance and fairness moved, what to do.

    Attributes
    ----------
    payload : dict
        Everything computed, JSON-ready (stored with the monitor).
    """

    payload: dict[str, Any]

    @property
    def recommendation(self) -> dict[str, Any]:
        """``{"action": "retrain" | "investigate" | "no action", "reasons": [...]}``."""
        return self.payload["recommendation"]

    @property
    def status(self) -> list[str]:
        """The status of each chunk (see :mod:`mlops_nb.drift._verdict`)."""
        return list(self.payload["status"])

    @property
    def notes(self) -> list[str]:
        """What the review could not compute or calibrate, and what to do about it.

        Reference chunks too small to set thresholds (with a chunking to use
        instead), classes CBPE or realized performance could not cover, rates
        fairness could not compute.
        """
        return list(self.payload.get("notes", []))

    @property
    def chunks(self) -> list[str]:
        """The chunk labels, in order."""
        return list(self.payload["chunks"]["keys"])

    @property
    def value_at_risk(self) -> dict[str, Any] | None:
        """Money value at risk against the reference (``None`` without a canvas).

        ``{"currency", "per_chunk", "total"}``: per chunk, the value lost against
        the reference per 1,000 decisions times the chunk's decisions / 1,000
        (signed: positive is lost), and their sum. The summary, chunk table,
        Business value tab, alerts and JSON summary all show these numbers.
        """
        value = self.payload.get("value")
        if not value:
            return None
        per_chunk, total = value_at_risk(value, self.payload["chunks"]["sizes"])
        return {"currency": value["currency"], "per_chunk": per_chunk, "total": total}

    def to_frame(self) -> pd.DataFrame:
        """Univariate drift, long form: column, chunk, statistic, value, thresholds.

        ``crossed`` is True where the value left its statistic's thresholds;
        ``alert`` only where that statistic is one the monitor alerts on
        (``alert_on``, Jensen-Shannon by default): a chi-squared statistic grows
        with the chunk's size, so its crossings are shown but raise no alert.
        """
        import pandas as pd

        uni = self.payload["univariate"]
        alert_on = set(uni.get("alert_on", uni["statistics"]))
        rows = []
        for stat, s in uni["statistics"].items():
            for i, col in enumerate(uni["columns"]):
                for c, key in enumerate(self.chunks):
                    if (
                        s["values"][i][c] is None
                        and s["reference"][i]
                        and all(v is None for v in s["reference"][i])
                    ):
                        continue
                    rows.append(
                        {
                            "column": col,
                            "kind": uni["kinds"][i],
                            "chunk": key,
                            "statistic": stat,
                            "value": s["values"][i][c],
                            "lower": s["lower"][i],
                            "upper": s["upper"][i],
                            "crossed": s["alert"][i][c],
                            "alert": bool(s["alert"][i][c]) and stat in alert_on,
                        }
                    )
        return pd.DataFrame(rows)

    def chunk_table(self) -> pd.DataFrame:
        """Tabulate each chunk: rows, labels, metric, status, alerts, value at risk."""
        import pandas as pd

        p = self.payload
        perf, ch, value = p["performance"], p["chunks"], p.get("value")
        name = METRIC_NAMES.get(perf["metric"], perf["metric"])
        counts = [0] * len(ch["keys"])
        for a in p["alerts"]:
            counts[a["index"]] += 1
        frame = pd.DataFrame(
            {
                "chunk": [str(k) for k in ch["keys"]],
                "from": ch["starts"],
                "to": ch["ends"],
                "rows": ch["sizes"],
                "labelled": ch["labelled"],
                f"estimated {name}": perf["estimated"],
                "band": [
                    f"{lo:.3f} to {hi:.3f}"
                    if lo is not None and hi is not None
                    else "—"
                    for lo, hi in zip(
                        perf["lower_band"], perf["upper_band"], strict=True
                    )
                ],
                f"realized {name}": perf["realized"],
                "status": p["status"],
                "alerts": counts,
            }
        )
        if value:
            frame[f"value at risk ({value['currency']})"] = value_at_risk(
                value, ch["sizes"]
            )[0]
        frame["_tone"] = [
            "muted"
            if s == UNVERIFIED and not n
            else (
                "ok"
                if s == "healthy"
                else (
                    "error" if s in ("concept drift", "performance drop") else "warning"
                )
            )
            for s, n in zip(p["status"], counts, strict=True)
        ]
        return frame

    def alerts(self) -> pd.DataFrame:
        """Return the alerts, ranked by money value at risk, then by kind."""
        import pandas as pd

        cols = ["chunk", "kind", "what", "detail", "value_at_risk"]
        per_chunk, _ = value_at_risk(
            self.payload.get("value"), self.payload["chunks"]["sizes"]
        )
        rows = [
            {**{k: a[k] for k in cols}, "value_at_risk": per_chunk[a["index"]]}
            for a in self.payload["alerts"]
        ]
        return pd.DataFrame(rows, columns=cols)

    def plot(
        self,
        kind: str = "heatmap",
        *,
        column: str | None = None,
        chunk: str | int | None = None,
    ) -> go.Figure:
        """Return a plotly figure of the review.

        ``kind`` is ``heatmap``, ``performance``, ``distribution`` (of ``column`` in
        ``chunk``), ``fairness`` (by ``column``), ``value`` or ``multivariate``
        (``column`` names the method).
        """
        p = self.payload
        if kind == "heatmap":
            return _plots.heatmap(p)
        if kind == "performance":
            return _plots.performance(p)
        if kind == "distribution":
            cols = p["univariate"]["columns"]
            if column not in cols:
                msg = (
                    f"DriftReview.plot('distribution', column={column!r}): not a "
                    "monitored "
                    f"column.{did_you_mean(str(column), cols)}"
                )
                raise ValidationError(msg)
            return _plots.distribution(p, str(column), self._chunk_index(chunk))
        if kind == "fairness" and p["fairness"]:
            return _plots.fairness(p, column or next(iter(p["fairness"])))
        if kind == "value" and p.get("value"):
            return _plots.value(p)
        if kind == "multivariate" and p.get("multivariate"):
            return _plots.multivariate(p, column or next(iter(p["multivariate"])))
        msg = (
            f"DriftReview.plot(kind={kind!r}): no such chart in this review. Kinds: "
            "heatmap, "
            "performance, distribution, fairness, value, multivariate."
        )
        raise ValidationError(msg)

    def _chunk_index(self, chunk: str | int | None) -> int:
        keys = [str(k) for k in self.chunks]
        if chunk is None:
            return len(keys) - 1
        if (
            isinstance(chunk, int)
            and not isinstance(chunk, bool)
            and -len(keys) <= chunk < len(keys)
        ):
            return chunk % len(keys)
        if str(chunk) in keys:
            return keys.index(str(chunk))
        msg = (
            f"DriftReview: no chunk {chunk!r}; chunks are {', '.join(keys[:12])}"
            f"{' ...' if len(keys) > 12 else ''}."
        )
        raise ValidationError(msg)

    def _strongest(self, n: int) -> list[tuple[str, int]]:
        """Return the (column, chunk) cells with most drift relative to threshold."""
        cols = self.payload["univariate"]["columns"]
        cells = [
            (r, cols[i], c)
            for i, row in enumerate(_plots.ratios(self.payload))
            for c, r in enumerate(row)
            if r is not None
        ]
        cells.sort(key=lambda x: -x[0])
        seen, out = set(), []
        for _, col, c in cells:  # one view per column: the chunk where it drifts most
            if col not in seen:
                seen.add(col)
                out.append((col, c))
            if len(out) == n:
                break
        return out

    # -- rendering -------------------------------------------------------------------
    def _view(self) -> View:
        p = self.payload
        rec = self.recommendation
        m = p["monitor"]
        perf = p["performance"]
        name = METRIC_NAMES.get(perf["metric"], perf["metric"])
        overview = KeyValues(
            [
                ("model", p["model"]),
                (
                    "reference (anchored)",
                    f"{m['reference']} ({p['rows']['reference']:,} rows)",
                ),
                (
                    "analysis",
                    f"{p['rows']['analysis']:,} rows in {len(m['batches'])} batch(es); "
                    f"{p['rows']['labelled']:,} labelled",
                ),
                ("chunking", f"{p['chunking']}: {len(self.chunks)} chunks"),
                ("thresholds from", p["reference_chunks"]["note"]),
                (
                    "performance",
                    f"{perf['method']}; reference {name} "
                    f"{_f(perf.get('reference_value'))}",
                ),
                ("concept drift", perf["concept"]["verdict"]),
            ]
        )
        summary_blocks: list[Any] = [
            Text(f"Recommendation: {rec['action'].upper()}", _TONE[rec["action"]]),
            *[Text(r, "muted") for r in rec["reasons"]],
            *[Text(f"Note: {n}", "warning") for n in self.notes],
            overview,
            Table(
                self.chunk_table(),
                caption="Chunks",
                max_rows=60,
                tone_column="_tone",
                plain_columns=("chunk", "from", "to"),
            ),
        ]
        tabs = [
            Tab("Summary", summary_blocks),
            Tab("Drift heatmap", [Figure(self.plot("heatmap"))]),
        ]
        strongest = self._strongest(N_DISTRIBUTIONS)
        tabs.append(
            Tab(
                "Distributions",
                [
                    Text(
                        "Reference against the chunk where each column drifts most "
                        "(in a live notebook, choose any column and chunk).",
                        "muted",
                    ),
                    *[Figure(_plots.distribution(p, col, c)) for col, c in strongest],
                ],
            )
        )
        perf_blocks: list[Any] = [
            Figure(self.plot("performance")),
            Text(
                perf["concept"]["verdict"],
                "error" if perf["concept"]["chunks"] else "info",
            ),
        ]
        perf_blocks += [Text(n, "warning") for n in perf.get("notes", [])]
        if (p.get("decision") or {}).get("text"):  # accuracy, F1, CBPE's confusion
            perf_blocks.append(Text(f"Decisions at {p['decision']['text']}.", "muted"))
        if any(s == UNVERIFIED for s in p["status"]):
            perf_blocks.append(
                Text(
                    f"Chunks without labels are {UNVERIFIED!r}: CBPE and DLE "
                    "explain changes of "
                    "the inputs, not of how inputs relate to the target.",
                    "warning",
                )
            )
        tabs.append(Tab("Performance", perf_blocks))
        if p.get("multivariate"):
            tabs.append(
                Tab(
                    "Multivariate",
                    [Figure(_plots.multivariate(p, k)) for k in p["multivariate"]],
                )
            )
        if p["fairness"]:
            tabs.append(Tab("Fairness over time", self._fairness_blocks()))
        if p.get("value"):
            v = p["value"]
            tabs.append(
                Tab(
                    "Business value",
                    [
                        KeyValues(
                            [
                                (
                                    "reference value per 1,000 decisions "
                                    f"({v['currency']})",
                                    round(v["reference_per_1000"], 2),
                                ),
                                (
                                    "value at risk, all chunks",
                                    describe_value_at_risk(p) or "—",
                                ),
                                (
                                    "decision",
                                    "decisions at "
                                    + p["decision"].get(
                                        "text",
                                        f"P({p['decision']['positive_class']}) "
                                        f">= {p['decision']['threshold']:g}",
                                    ),
                                ),
                            ]
                        ),
                        Figure(self.plot("value")),
                    ],
                )
            )
        alerts = self.alerts()
        tabs.append(
            Tab(
                "Alerts",
                [
                    Table(
                        alerts,
                        caption=f"{len(alerts)} alert(s), ranked by value at risk",
                        max_rows=40,
                        plain_columns=("chunk",),
                    )
                ]
                if len(alerts)
                else [Text("No alert.", "ok")],
            )
        )
        n_alerts = len(p["alerts"])
        alert_tone: Tone = "warning" if n_alerts else "ok"
        badges = [
            (rec["action"], _TONE[rec["action"]]),
            (f"{n_alerts} alerts", alert_tone),
        ]
        summary = (
            f"{len(self.chunks)} chunks, {n_alerts} alerts; "
            f"recommendation: {rec['action']}"
        )
        at_risk = describe_value_at_risk(p)
        if at_risk:
            summary += f"; value at risk {at_risk}"
        if self.notes:
            summary += f"; {len(self.notes)} note(s) on what it could not compute"
            badges.append((f"{len(self.notes)} notes", "warning"))
        return View(
            "DriftReview",
            f"{m['name']} (monitor v{m['version']})",
            summary,
            badges,
            tabs,
        )

    def _fairness_blocks(self) -> list[Any]:
        import pandas as pd

        blocks: list[Any] = []
        for col, f in self.payload["fairness"].items():
            words = (self.payload.get("labels") or {}).get(col, {})
            blocks.append(Figure(self.plot("fairness", column=col)))
            rows = []
            for rate, res in f["rates"].items():
                alerts = sum(res["alert"])
                rows.append(
                    {
                        "rate": rate,
                        "by": col,
                        "reference gap band (upper)": res["upper"],
                        "largest gap": max(
                            (d for d in res["disparity"] if d is not None), default=None
                        ),
                        "chunks above band": alerts,
                    }
                )
            blocks.append(
                Table(
                    pd.DataFrame(rows),
                    caption=f"Gaps between {col} groups ("
                    + ", ".join(words.get(str(g), str(g)) for g in f["compared"])
                    + ")",
                )
            )
        return blocks

    def widget(self) -> Any:
        """Return the live view; its Distributions tab lets you choose a cell."""
        import ipywidgets as w

        from mlops_nb.ui._widget import figure_output, view_widget

        box = view_widget(self._view())
        strongest = self._strongest(1)
        cols = self.payload["univariate"]["columns"]
        col0, c0 = strongest[0] if strongest else (cols[0], len(self.chunks) - 1)
        column = w.Dropdown(options=cols, value=col0, description="column")
        chunk = w.Dropdown(
            options=[(str(k), i) for i, k in enumerate(self.chunks)],
            value=c0,
            description="chunk",
        )
        holder = w.VBox([figure_output(_plots.distribution(self.payload, col0, c0))])

        def update(change: Any = None) -> None:
            holder.children = (
                figure_output(
                    _plots.distribution(self.payload, column.value, chunk.value)
                ),
            )

        column.observe(update, names="value")
        chunk.observe(update, names="value")
        tabs = box.children[1]
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        page = tabs.children[titles.index("Distributions")]
        # the static tab's charts follow the chooser, except the one it already shows
        # (the strongest cell is both the chooser's start and the first static chart)
        charts = zip(self._strongest(N_DISTRIBUTIONS), page.children[1:], strict=False)
        others = [chart for cell, chart in charts if cell != (col0, c0)]
        page.children = (w.HBox([column, chunk]), holder, *others)
        box.column_choice, box.chunk_choice, box.distribution = (
            column,
            chunk,
            holder,
        )  # for tests
        return box


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"
