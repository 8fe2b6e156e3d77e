"""Evaluation of a model version on labelled data, priced with the value canvas.

Classification: accuracy, balanced accuracy, ROC AUC, PR AUC, F1, log loss, Brier;
confusion matrix; ROC, precision-recall and calibration curves; per-segment metrics;
and, with a value canvas, the money value at every threshold and the value-maximising
one (the widget's slider moves the threshold and updates value and confusion matrix).
Regression: RMSE, MAE, R² and residual plots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, ValidationError
from mlops_nb.model._metrics import (
    PRIMARY,
    classification_metrics,
    classification_notes,
    regression_metrics,
)
from mlops_nb.model._threshold import describe
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.model._model import Model

GRID = 101  # thresholds 0.00, 0.01, ..., 1.00 for the slider
_MAX_POINTS = 200


def _thin(*arrays: Any) -> list[list[float]]:
    import numpy as np

    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, _MAX_POINTS)).astype(int))
    return [np.asarray(a)[idx].astype(float).tolist() for a in arrays]


def confusion_grid(
    positive: np.ndarray, scores: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Count (tp, fp, fn, tn) for the decision ``score >= t`` at each threshold."""
    import numpy as np

    order = np.sort(scores)
    pos_sorted = np.sort(scores[positive])
    n, n_pos = len(scores), int(positive.sum())
    predicted = n - np.searchsorted(order, thresholds, side="left")
    tp = n_pos - np.searchsorted(pos_sorted, thresholds, side="left")
    fp = predicted - tp
    fn = n_pos - tp
    tn = n - n_pos - fp
    return np.stack([tp, fp, fn, tn], axis=1)


def _grid(*exact: float | None) -> np.ndarray:
    """Return the slider's thresholds: 0.00, 0.01, ..., 1.00 and ``exact``."""
    import numpy as np

    extra = [float(t) for t in exact if t is not None and np.isfinite(t)]
    return np.unique(np.r_[np.linspace(0, 1, GRID).round(4), extra])


def _value_section(
    model: Model,
    y: pd.Series,
    proba: np.ndarray,
    info: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    import numpy as np

    from mlops_nb.business._canvas import current_canvas

    canvas = current_canvas(model.project)
    if canvas is None:
        return None
    if model.task != "binary":  # priced per unit of error or by the class table
        from mlops_nb.business._pricing import price_predictions

        pred = proba
        if model.task != "regression":
            pred = np.asarray(model.classes)[proba.argmax(axis=1)]
        return price_predictions(canvas, model.task, y.to_numpy(), pred)
    if not canvas.outcomes:
        return {
            "error": "the value canvas prices regression or multiclass predictions "
            "only; add binary outcomes (tp, fp, fn, tn) with proj.canvas(outcomes=...)."
        }
    classes = model.classes or []
    pos_class = canvas.positive_class
    matches = [
        i for i, c in enumerate(classes) if c == pos_class or str(c) == str(pos_class)
    ]
    if not matches:
        return {
            "error": f"the canvas's positive class {pos_class!r} is not a class of "
            f"the model ({classes})."
        }
    k = matches[0]
    scores = proba[:, k]
    positive = y.astype(object).to_numpy() == classes[k]
    best_t, best_value, best_conf = canvas.best_threshold(positive, scores)
    # the model's threshold, on the canvas's positive class (deciding the other
    # class when P(other) >= t decides the positive one when P(positive) > 1 - t)
    model_t = None
    if info is not None:
        same = str(info["positive_class"]) == str(classes[k])
        model_t = float(info["value"] if same else 1 - info["value"])
    thresholds = _grid(best_t, model_t)
    grid = confusion_grid(positive, scores, thresholds)
    per_1000 = [canvas.value_per_1000(*map(int, row)) for row in grid]
    half = grid[int(np.searchsorted(thresholds, 0.5))]
    out = {
        "canvas_version": canvas.version,
        "currency": canvas.currency,
        "positive_class": pos_class,
        "negative_class": classes[1 - k],
        "outcomes": {o: float(canvas.outcomes[o]) for o in ("tp", "fp", "fn", "tn")},
        "n": len(y),
        "best_threshold": float(best_t),
        "best_value": float(best_value),
        "best_confusion": {o: int(v) for o, v in dict(best_conf).items()},
        "best_per_1000": float(
            canvas.value_per_1000(**{o: int(v) for o, v in dict(best_conf).items()})
        ),
        "at_half_per_1000": float(canvas.value_per_1000(*map(int, half))),
        "grid": {
            "thresholds": [float(t) for t in thresholds],
            "counts": grid.astype(int).tolist(),
            "per_1000": [float(v) for v in per_1000],
        },
    }
    if model_t is not None:
        i = int(np.searchsorted(thresholds, model_t))
        out["model_threshold"] = model_t
        out["model_per_1000"] = float(per_1000[i])
    return out


#: metrics computed from decisions (not from probabilities)
DECISION_METRICS = ("accuracy", "balanced_accuracy", "f1")


def _one_hot(pred: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Probabilities whose most likely class is ``pred``: metrics of decisions."""
    import numpy as np

    return np.stack([np.asarray(pred) == c for c in classes], axis=1).astype(float)


def _segments(
    model: Model,
    frame: pd.DataFrame,
    y: pd.Series,
    out: np.ndarray,
    column: str,
    decisions: np.ndarray | None = None,
) -> list[dict[str, Any]]:

    rows = []
    groups = frame[column].astype(str).to_numpy()
    for g in sorted(set(groups)):
        m = groups == g
        row: dict[str, Any] = {column: g, "rows": int(m.sum())}
        if model.task == "regression":
            row.update(regression_metrics(y[m], out[m]))
        else:
            yy = y[m]
            pred = decisions[m]
            row["accuracy"] = float((pred == yy.astype(object).to_numpy()).mean())
            if model.task == "binary":
                row["positive rate"] = float(
                    (yy.astype(object) == model.classes[1]).mean()
                )
                row["predicted positive"] = float((pred == model.classes[1]).mean())
                is_pos = (yy.astype(object) == model.classes[1]).to_numpy()
                if 0 < is_pos.sum() < len(is_pos):
                    from sklearn.metrics import roc_auc_score

                    row["roc_auc"] = float(roc_auc_score(is_pos, out[m][:, 1]))
        rows.append(row)
    return rows


def _payload(
    model: Model, data: DataAsset, target: str, segment: str | None
) -> dict[str, Any]:
    """Compute metrics, curves, value and segments of ``model`` on ``data``.

    The result is JSON-ready.
    """
    import numpy as np
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    frame = data.frame
    frame = frame[frame[target].notna()]
    y = frame[target]
    payload: dict[str, Any] = {
        "model": model.label,
        "data": data.label,
        "task": model.task,
        "segment": segment,
        "n": len(y),
    }
    if model.task == "regression":
        pred = model.predict(frame)
        payload["metrics"] = regression_metrics(y, pred)
        pts = np.unique(np.linspace(0, len(y) - 1, min(len(y), 2000)).astype(int))
        payload["residuals"] = {
            "y": y.to_numpy()[pts].astype(float).tolist(),
            "pred": pred[pts].astype(float).tolist(),
        }
        payload["value"] = _value_section(model, y, pred)
        out = pred
    else:
        proba = model.predict_proba(frame)
        info = model.threshold_info
        payload["metrics"] = classification_metrics(y, proba, model.classes)
        payload["notes"] = classification_notes(y, model.classes)
        if info is None:
            pred = np.asarray(model.classes)[proba.argmax(axis=1)]
        else:  # decisions at the model's threshold: their metrics too
            from mlops_nb.model._threshold import decide

            pred = decide(proba, model.classes, info)
            payload["threshold"] = info
            at = classification_metrics(y, _one_hot(pred, model.classes), model.classes)
            payload["metrics"].update({k: at[k] for k in DECISION_METRICS if k in at})
        order = list(model.classes)
        labels = [str(c) for c in order]
        cm = [
            [
                int(((y.astype(object).to_numpy() == a) & (pred == b)).sum())
                for b in order
            ]
            for a in order
        ]
        payload["confusion"] = {"labels": labels, "matrix": cm}
        pos = (y.astype(object) == model.classes[-1]).to_numpy()
        if model.task == "binary" and 0 < pos.sum() < len(pos):
            fpr, tpr, _ = roc_curve(pos, proba[:, 1])
            prec, rec, _ = precision_recall_curve(pos, proba[:, 1])
            obs, mean_pred = calibration_curve(
                pos, proba[:, 1], n_bins=10, strategy="quantile"
            )
            payload["curves"] = {
                "roc": _thin(fpr, tpr),
                "pr": _thin(rec, prec),
                "calibration": [mean_pred.tolist(), obs.tolist()],
            }
        payload["value"] = _value_section(model, y, proba, info)
        out = proba
    if segment is not None:
        payload["segments"] = _segments(
            model, frame, y, out, segment, None if model.task == "regression" else pred
        )
    return json.loads(json.dumps(payload, default=str))


def evaluate(
    model: Model, data: DataAsset, *, segment: str | None = None
) -> Evaluation:
    """Compute (or fetch the stored) evaluation of ``model`` on ``data``."""
    from mlops_nb.business._canvas import current_canvas
    from mlops_nb.data import DataAsset

    what = f"{model.label}.evaluate"
    if not isinstance(data, DataAsset):
        msg = f"{what}: data must be a DataAsset (register it with proj.data first)."
        raise ValidationError(msg)
    target = model.recipe["target"]
    if target not in data.schema.names:
        msg = f"{what}: {data.label} has no {target!r} column; evaluation needs labels."
        raise SchemaError(msg)
    segment = segment or (data.schema.sensitive[0] if data.schema.sensitive else None)
    if segment is not None and segment not in data.schema.names:
        from mlops_nb.errors import did_you_mean

        msg = (
            f"{what}: segment={segment!r} is not a column."
            f"{did_you_mean(segment, data.schema.names)}"
        )
        raise SchemaError(msg)
    canvas = current_canvas(model.project)
    key = (
        f"evaluation:{data.name}@{data.version}:segment={segment}:"
        f"canvas={canvas.version if canvas else 0}"
    )
    info = model.threshold_info
    if info is not None:  # decisions (confusion, accuracy, F1) depend on it
        key += f":threshold={info['value']!r}@{info['positive_class']}"
    stored = model.project._report("model", model.id, key)
    if stored is not None:
        return Evaluation.from_payload(stored)
    from mlops_nb.sustain import measure

    with measure(model.project, "evaluate", model, note=f"on {data.label}"):
        payload = _payload(model, data, target, segment)
        model.project._save_report("model", model.id, key, payload)
    return Evaluation.from_payload(payload)


def stored_evaluations(model: Model) -> list[Evaluation]:
    """Every stored evaluation of a model version."""
    from mlops_nb.store._q_reports import evaluation_payloads

    return [
        Evaluation.from_payload(json.loads(p))
        for p in evaluation_payloads(model.project._store, model.id)
    ]


@dataclass(frozen=True, repr=False)
class Evaluation(Displayable):
    """The evaluation of one model version on one data version."""

    model_label: str
    data_label: str
    task: str
    metrics: dict[str, float]
    payload: dict[str, Any]

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Evaluation:
        """Rebuild from the stored payload."""
        return cls(p["model"], p["data"], p["task"], p["metrics"], p)

    @property
    def value(self) -> dict[str, Any] | None:
        """Money value at the best threshold and on the threshold grid.

        None without a canvas.
        """
        return self.payload.get("value")

    @property
    def best_threshold(self) -> float | None:
        """The value-maximising threshold (needs a value canvas)."""
        v = self.value
        return v["best_threshold"] if v and "best_threshold" in v else None

    @property
    def threshold(self) -> dict[str, Any] | None:
        """The model's threshold the decisions were made at (None unless binary)."""
        return self.payload.get("threshold")

    @property
    def notes(self) -> list[str]:
        """Classes the labels lack or add, and metrics that could not be computed."""
        return list(self.payload.get("notes", []))

    def headline(self) -> list[str]:
        """Return the metrics to show first."""
        keys = (
            ["roc_auc", "pr_auc", "accuracy", "f1", "log_loss"]
            if self.task != "regression"
            else ["rmse", "mae", "r2"]
        )
        return [k for k in keys if k in self.metrics]

    def primary(self) -> tuple[str, float]:
        """Return the metric gates compare, and its value."""
        key = PRIMARY[self.task][0]
        if key not in self.metrics:
            key = "accuracy"
        return key, self.metrics[key]

    def to_frame(self) -> pd.DataFrame:
        """Return the metrics as a one-column table."""
        import pandas as pd

        return pd.DataFrame({"value": self.metrics}).rename_axis("metric")

    def value_at(self, threshold: float) -> dict[str, Any]:
        """Return the money value per 1,000 cases and the confusion counts.

        They are read at the slider's threshold nearest to ``threshold``: 0.00, 0.01,
        ..., 1.00 plus the exact best threshold and the model's threshold, so both
        of those are read exactly (counting ``P(positive) >= threshold``).
        """
        v = self.value
        if not v or "grid" not in v:
            msg = (
                "this evaluation has no value canvas: set one with proj.canvas(...) "
                "and evaluate again."
            )
            raise ValidationError(msg)
        ts = v["grid"]["thresholds"]
        i = min(range(len(ts)), key=lambda j: abs(ts[j] - threshold))
        tp, fp, fn, tn = v["grid"]["counts"][i]
        return {
            "threshold": ts[i],
            "per_1000": v["grid"]["per_1000"][i],
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
        }

    def _slider_options(self) -> list[tuple[str, float]]:
        """Label and threshold of each slider stop; the exact ones say what they are."""
        v = self.value or {}
        best, model_t = v.get("best_threshold"), v.get("model_threshold")
        out = []
        for t in v["grid"]["thresholds"]:
            tags = [n for n, x in (("best", best), ("model", model_t)) if x == t]
            label = f"{t:.4f} ({', '.join(tags)})" if tags else f"{t:.2f}"
            out.append((label, t))
        return out

    def _at_text(self, at: dict[str, Any], label: str) -> str:
        """Return the line both views print for a threshold: value per 1,000 cases."""
        v = self.value or {}
        per = f"{at['per_1000']:,.2f} {v['currency']}"
        return f"{per} per 1,000 cases at threshold {label}"

    # -- figures ---------------------------------------------------------------------
    def plot(self, kind: str = "roc") -> Any:
        """Build a plotly figure.

        ``kind`` is ``roc``, ``pr``, ``calibration``, ``value`` or ``residuals``.
        """
        import plotly.graph_objects as go

        p = self.payload
        fig = go.Figure()
        layout: dict[str, Any] = {
            "template": "plotly_white",
            "height": 320,
            "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
        }
        if kind == "roc" and "curves" in p:
            x, y = p["curves"]["roc"]
            fig.add_scatter(x=x, y=y, name="ROC", line={"color": "#4c78a8"})
            fig.add_scatter(
                x=[0, 1], y=[0, 1], name="chance", line={"dash": "dot", "color": "#999"}
            )
            layout.update(
                title=f"ROC (AUC {self.metrics.get('roc_auc', float('nan')):.3f})",
                xaxis_title="false positive rate",
                yaxis_title="true positive rate",
            )
        elif kind == "pr" and "curves" in p:
            x, y = p["curves"]["pr"]
            fig.add_scatter(
                x=x, y=y, name="precision-recall", line={"color": "#f58518"}
            )
            layout.update(
                title=(
                    "Precision-recall "
                    f"(AP {self.metrics.get('pr_auc', float('nan')):.3f})"
                ),
                xaxis_title="recall",
                yaxis_title="precision",
            )
        elif kind == "calibration" and "curves" in p:
            x, y = p["curves"]["calibration"]
            fig.add_scatter(
                x=x, y=y, mode="lines+markers", name="model", line={"color": "#54a24b"}
            )
            fig.add_scatter(
                x=[0, 1],
                y=[0, 1],
                name="perfect",
                line={"dash": "dot", "color": "#999"},
            )
            layout.update(
                title="Calibration",
                xaxis_title="mean predicted probability",
                yaxis_title="observed frequency",
            )
        elif kind == "value" and self.value and "grid" in self.value:
            v = self.value
            fig.add_scatter(
                x=v["grid"]["thresholds"],
                y=v["grid"]["per_1000"],
                name="value",
                line={"color": "#4c78a8"},
            )
            best = self.value_at(v["best_threshold"])
            fig.add_scatter(
                x=[best["threshold"]],
                y=[best["per_1000"]],
                mode="markers",
                name="best",
                marker={"size": 11, "color": "#e45756"},
            )
            for name, t, color, side in self._markers():
                fig.add_vline(
                    x=t,
                    line={"color": color, "dash": "dash", "width": 1.5},
                    annotation_text=f"{name} {t:.4f}",
                    annotation_position=side,
                    annotation_font_color=color,
                )
            layout.update(
                title=f"Money value per 1,000 cases ({v['currency']}) by threshold",
                xaxis_title=f"threshold on P({v['positive_class']})",
                yaxis_title=v["currency"],
            )
        elif kind == "residuals" and "residuals" in p:
            r = p["residuals"]
            fig.add_scatter(
                x=r["pred"],
                y=[a - b for a, b in zip(r["y"], r["pred"], strict=True)],
                mode="markers",
                marker={"size": 4, "opacity": 0.5},
                name="residual",
            )
            layout.update(
                title="Residuals",
                xaxis_title="predicted",
                yaxis_title="actual - predicted",
            )
        else:
            msg = f"Evaluation.plot(kind={kind!r}): no such chart for this evaluation."
            raise ValidationError(msg)
        fig.update_layout(**layout)
        return fig

    def _markers(self) -> list[tuple[str, float, str, str]]:
        """Vertical lines of the value curve: the best and the model's threshold.

        The lower line's label reads to its left and the higher's to its right, so
        neither crosses the other line, unless that would leave the chart; when the
        lines are closer than 0.4 on the threshold axis (a label is about a sixth of
        it wide) the higher one's label drops to the bottom, so the labels never
        overlap.
        """
        v = self.value or {}
        best = v["best_threshold"]
        lines = [("best", best, "#e45756")]
        t = v.get("model_threshold")
        if t is not None and t != best:
            source = (self.threshold or {}).get("source", "")
            lines.append((f"model ({source})", t, "#4c78a8"))
        lines.sort(key=lambda line: line[1])
        out = []
        for i, (name, x, color) in enumerate(lines):
            low = i > 0 and x - lines[0][1] < 0.4
            lower = i == 0 and len(lines) > 1
            width = 0.0085 * len(f"{name} {x:.4f}")  # of the axis, at 12 px type
            side = "left" if (lower and x >= width) or x > 0.8 else "right"
            out.append((name, x, color, f"{'bottom' if low else 'top'} {side}"))
        return out

    def _confusion_table(self, counts: dict[str, int] | None = None) -> Any:
        """Build the confusion table: rows ``actual <c>``, columns ``decided <c>``.

        Binary: the canvas's positive class first and, with a value canvas, each
        cell's count with its money (count x the canvas's value of that outcome).
        ``counts`` (tp, fp, fn, tn on the canvas's positive class) gives the table
        at a threshold of the value grid; else the evaluation's own decisions.
        """
        import pandas as pd

        v = self.value if (self.value and "grid" in self.value) else None
        c = self.payload["confusion"]
        if counts is None and v is not None and len(c["labels"]) == 2:
            m, labels = c["matrix"], c["labels"]
            first = labels[0] == str(v["positive_class"])
            (a, b), (d, e) = m if first else [row[::-1] for row in m[::-1]]
            counts = {"tp": a, "fn": b, "fp": d, "tn": e}
        if counts is None:  # no canvas: counts; a binary model's positive class first
            m, labels = c["matrix"], c["labels"]
            pos = str((self.threshold or {}).get("positive_class", labels[0]))
            if len(labels) == 2 and labels[1] == pos:
                m, labels = [row[::-1] for row in m[::-1]], labels[::-1]
            frame = pd.DataFrame(m, columns=[f"decided {x}" for x in labels])
            frame.insert(0, "", [f"actual {x}" for x in labels])
            return frame
        v = v or {}
        pos, neg = v.get("positive_class"), v.get("negative_class", "other")
        money = v.get("outcomes")

        def cell(outcome: str) -> Any:
            n = int(counts[outcome])
            if not money:
                return n
            return f"{n:,} ({n * money[outcome]:+,.0f} {v['currency']})"

        return pd.DataFrame(
            {
                "": [f"actual {pos}", f"actual {neg}"],
                f"decided {pos}": [cell("tp"), cell("fp")],
                f"decided {neg}": [cell("fn"), cell("tn")],
            }
        )

    def _value_blocks(self) -> list[Any]:
        """Build the Value tab: model's and best threshold, their decisions, curve."""
        v = self.value or {}
        cur = v["currency"]
        best = self.value_at(v["best_threshold"])
        items: list[tuple[str, Any]] = []
        blocks: list[Any] = []
        info = self.threshold
        if info and v.get("model_threshold") is not None:
            at = self.value_at(v["model_threshold"])
            items += [
                ("model's threshold", f"{describe(info)}: {info.get('reason', '')}"),
                (
                    f"value per 1,000 cases at the model's threshold ({cur})",
                    f"{at['per_1000']:,.2f}",
                ),
            ]
            if at["threshold"] != best["threshold"]:
                blocks.append(
                    Table(
                        self._confusion_table(at),
                        caption=f"decisions at the model's threshold "
                        f"{at['threshold']:.4f} ({info.get('source')})",
                    )
                )
        items += [
            ("best threshold (value-maximising)", f"{best['threshold']:.4f}"),
            (f"value per 1,000 cases at best ({cur})", f"{best['per_1000']:,.2f}"),
            (
                f"value per 1,000 at threshold 0.5 ({cur})",
                f"{v['at_half_per_1000']:,.2f}",
            ),
            ("positive class (canvas)", v["positive_class"]),
            ("canvas version", v["canvas_version"]),
        ]
        model_t = v.get("model_threshold")
        if info and model_t is not None and best["threshold"] != model_t:
            items.append(
                (
                    "to decide at the best",
                    f"model.set_threshold({best['threshold']:.4f}, reason=...)",
                )
            )
        return [
            KeyValues(items),
            *blocks,
            Table(
                self._confusion_table(best),
                caption=f"decisions at the best threshold {best['threshold']:.4f}: "
                + self._at_text(best, f"{best['threshold']:.4f}"),
            ),
            Figure(self.plot("value")),
        ]

    def _view(self) -> View:
        import pandas as pd

        from mlops_nb.ui._html import Coded, header_label

        p = self.payload
        metrics = pd.DataFrame(
            {
                # words, with the metric's key (as in .metrics) on hover
                "metric": pd.Series(
                    [Coded(header_label(k), k) for k in self.metrics], dtype=object
                ),
                "value": list(self.metrics.values()),
            }
        )
        tabs = [
            Tab(
                "Metrics",
                [
                    KeyValues(
                        [
                            ("model", self.model_label),
                            ("data", self.data_label),
                            ("rows", p["n"]),
                        ]
                    ),
                    Table(metrics),
                    *[Text(n, "warning") for n in self.notes],
                ],
            )
        ]
        if self.task == "regression":
            tabs.append(Tab("Residuals", [Figure(self.plot("residuals"))]))
        else:
            tabs.append(
                Tab(
                    "Confusion",
                    [
                        Table(
                            self._confusion_table(),
                            caption=f"decisions at {describe(self.threshold)}",
                        )
                    ],
                )
            )
            if "curves" in p:
                tabs.append(
                    Tab(
                        "Curves",
                        [
                            Figure(self.plot("roc")),
                            Figure(self.plot("pr")),
                            Figure(self.plot("calibration")),
                        ],
                    )
                )
        v = self.value
        if v and "grid" in v:
            tabs.append(Tab("Value", self._value_blocks()))
        elif v and "per_1000" in v:  # regression or multiclass, priced by the canvas
            blocks: list[Any] = [
                KeyValues(
                    [
                        (f"value ({v['currency']})", round(v["value"], 2)),
                        (
                            f"value per 1,000 cases ({v['currency']})",
                            round(v["per_1000"], 2),
                        ),
                        ("priced by", v["basis"]),
                        ("canvas version", v["canvas_version"]),
                    ]
                )
            ]
            if v.get("per_class"):
                blocks.append(Table(pd.DataFrame(v["per_class"]), caption="by class"))
            tabs.append(Tab("Value", blocks))
        elif v and "error" in v:
            tabs.append(Tab("Value", [Text(v["error"], "warning")]))
        elif self.task == "binary":
            tabs.append(
                Tab(
                    "Value",
                    [
                        Text(
                            "No value canvas in this project: money value is not "
                            "computed. Set one with proj.canvas(...).",
                            "muted",
                        )
                    ],
                )
            )
        if p.get("segments"):
            tabs.append(Tab(f"By {p['segment']}", [Table(pd.DataFrame(p["segments"]))]))
        key, val = self.primary()
        summary = f"{header_label(key)} {val:.3f} on {p['n']:,} rows"
        if self.notes:
            summary += f" ({len(self.notes)} note(s): see .notes)"
        if v and "grid" in v:
            at = self.value_at(v["best_threshold"])
            summary += (
                f"; {at['per_1000']:,.0f} {v['currency']} per 1,000 cases "
                f"at the best threshold {at['threshold']:.4f}"
            )
        if self.threshold:
            summary += f"; decides at {describe(self.threshold)}"
        elif v and "per_1000" in v:
            summary += f"; {v['per_1000']:,.0f} {v['currency']} per 1,000 cases"
        return View(
            "Evaluation", f"{self.model_label} on {self.data_label}", summary, [], tabs
        )

    def widget(self) -> Any:
        """Build the live view, with a threshold slider.

        The slider stops at 0.00, 0.01, ..., 1.00 and at the exact best and model
        thresholds; it updates the value and the confusion matrix with the same
        numbers and table as the static view.
        """
        import html

        import ipywidgets as w

        from mlops_nb.ui._html import table_html
        from mlops_nb.ui._widget import view_widget

        box = view_widget(self._view())
        v = self.value
        if not (v and "grid" in v):
            return box
        options = self._slider_options()
        slider = w.SelectionSlider(
            options=options,
            value=self.value_at(v["best_threshold"])["threshold"],
            description="threshold",
            continuous_update=True,
            layout=w.Layout(width="min(100%, 520px)"),
            style={"description_width": "initial"},
        )
        labels = {t: label for label, t in options}
        out = w.HTML()

        def update(change: Any = None) -> None:
            at = self.value_at(slider.value)
            out.value = (  # the currency is user text: escaped like every other
                f"<div><b>{html.escape(self._at_text(at, labels[at['threshold']]))}"
                "</b></div>" + table_html(Table(self._confusion_table(at)))
            )

        slider.observe(update, names="value")
        update()
        tabs = box.children[1]
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        page = tabs.children[titles.index("Value")]
        page.children = (
            w.VBox(
                [slider, out],
                layout=w.Layout(
                    border="1px solid var(--jp-border-color2, #ddd)", padding="6px"
                ),
            ),
            *page.children,
        )
        box.threshold_slider, box.value_html = slider, out  # for tests and notebooks
        return box
