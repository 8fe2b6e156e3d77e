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


def _value_section(
    model: Model, y: pd.Series, proba: np.ndarray
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
    scores = proba[:, matches[0]]
    positive = y.astype(object).to_numpy() == classes[matches[0]]
    thresholds = np.linspace(0, 1, GRID)
    grid = confusion_grid(positive, scores, thresholds)
    best_t, best_value, best_conf = canvas.best_threshold(positive, scores)
    per_1000 = [canvas.value_per_1000(*map(int, row)) for row in grid]
    default = grid[GRID // 2]
    return {
        "canvas_version": canvas.version,
        "currency": canvas.currency,
        "positive_class": pos_class,
        "n": len(y),
        "best_threshold": float(best_t),
        "best_value": float(best_value),
        "best_confusion": {k: int(v) for k, v in dict(best_conf).items()},
        "best_per_1000": float(
            canvas.value_per_1000(**{k: int(v) for k, v in dict(best_conf).items()})
        ),
        "at_half_per_1000": float(canvas.value_per_1000(*map(int, default))),
        "grid": {
            "thresholds": thresholds.round(4).tolist(),
            "counts": grid.astype(int).tolist(),
            "per_1000": [float(v) for v in per_1000],
        },
    }


def _segments(
    model: Model, frame: pd.DataFrame, y: pd.Series, out: np.ndarray, column: str
) -> list[dict[str, Any]]:
    import numpy as np

    rows = []
    groups = frame[column].astype(str).to_numpy()
    for g in sorted(set(groups)):
        m = groups == g
        row: dict[str, Any] = {column: g, "rows": int(m.sum())}
        if model.task == "regression":
            row.update(regression_metrics(y[m], out[m]))
        else:
            yy = y[m]
            pred = np.asarray(model.classes)[out[m].argmax(axis=1)]
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
        payload["metrics"] = classification_metrics(y, proba, model.classes)
        payload["notes"] = classification_notes(y, model.classes)
        pred = np.asarray(model.classes)[proba.argmax(axis=1)]
        labels = [str(c) for c in model.classes]
        cm = [
            [
                int(((y.astype(object).to_numpy() == a) & (pred == b)).sum())
                for b in model.classes
            ]
            for a in model.classes
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
        payload["value"] = _value_section(model, y, proba)
        out = proba
    if segment is not None:
        payload["segments"] = _segments(model, frame, y, out, segment)
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
    rows = model.project._store.query(
        "SELECT payload FROM reports WHERE owner_kind = 'model' AND owner_id = ? "
        "AND kind LIKE 'evaluation:%' ORDER BY id",
        (model.id,),
    )
    return [Evaluation.from_payload(json.loads(r["payload"])) for r in rows]


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

        They are read at the grid threshold nearest to ``threshold``.
        """
        v = self.value
        if not v or "grid" not in v:
            msg = (
                "this evaluation has no value canvas: set one with proj.canvas(...) "
                "and evaluate again."
            )
            raise ValidationError(msg)
        i = min(
            range(len(v["grid"]["thresholds"])),
            key=lambda j: abs(v["grid"]["thresholds"][j] - threshold),
        )
        tp, fp, fn, tn = v["grid"]["counts"][i]
        return {
            "threshold": v["grid"]["thresholds"][i],
            "per_1000": v["grid"]["per_1000"][i],
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
        }

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
            fig.add_scatter(
                x=[v["best_threshold"]],
                y=[v["best_per_1000"]],
                mode="markers",
                name="best",
                marker={"size": 11, "color": "#e45756"},
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

    def _confusion_table(self, counts: dict[str, int] | None = None) -> Any:
        import pandas as pd

        if counts is not None:
            v = self.value or {}
            pos = v.get("positive_class")
            return pd.DataFrame(
                {
                    "": [f"actual {pos}", "actual other"],
                    f"decided {pos}": [counts["tp"], counts["fp"]],
                    "decided other": [counts["fn"], counts["tn"]],
                }
            )
        c = self.payload["confusion"]
        frame = pd.DataFrame(
            c["matrix"], columns=[f"predicted {x}" for x in c["labels"]]
        )
        frame.insert(0, "", [f"actual {x}" for x in c["labels"]])
        return frame

    def _view(self) -> View:
        import pandas as pd

        p = self.payload
        metrics = pd.DataFrame(
            {"metric": list(self.metrics), "value": list(self.metrics.values())}
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
                            self._confusion_table(), caption="at the most likely class"
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
            tabs.append(
                Tab(
                    "Value",
                    [
                        KeyValues(
                            [
                                ("best threshold", v["best_threshold"]),
                                (
                                    f"value per 1,000 cases at best ({v['currency']})",
                                    round(v["best_per_1000"], 2),
                                ),
                                (
                                    "value per 1,000 at threshold 0.5 "
                                    f"({v['currency']})",
                                    round(v["at_half_per_1000"], 2),
                                ),
                                ("positive class (canvas)", v["positive_class"]),
                                ("canvas version", v["canvas_version"]),
                            ]
                        ),
                        Table(
                            self._confusion_table(v["best_confusion"]),
                            caption="decisions at the best threshold",
                        ),
                        Figure(self.plot("value")),
                    ],
                )
            )
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
        summary = f"{key} {val:.3f} on {p['n']:,} rows"
        if self.notes:
            summary += f" ({len(self.notes)} note(s): see .notes)"
        if v and "best_per_1000" in v:
            summary += (
                f"; {v['best_per_1000']:,.0f} {v['currency']} per 1,000 cases "
                f"at threshold {v['best_threshold']:.2f}"
            )
        elif v and "per_1000" in v:
            summary += f"; {v['per_1000']:,.0f} {v['currency']} per 1,000 cases"
        return View(
            "Evaluation", f"{self.model_label} on {self.data_label}", summary, [], tabs
        )

    def widget(self) -> Any:
        """Build the live view, with a threshold slider.

        The slider updates the value and the confusion matrix.
        """
        import html

        import ipywidgets as w

        from mlops_nb.ui._html import table_html
        from mlops_nb.ui._widget import view_widget

        box = view_widget(self._view())
        v = self.value
        if not (v and "grid" in v):
            return box
        slider = w.FloatSlider(
            value=v["best_threshold"],
            min=0.0,
            max=1.0,
            step=0.01,
            description="threshold",
            continuous_update=True,
            readout_format=".2f",
        )
        out = w.HTML()

        def update(change: Any = None) -> None:
            at = self.value_at(slider.value)
            out.value = (  # the currency is user text: escaped like every other
                f"<div><b>{at['per_1000']:,.2f} {html.escape(str(v['currency']))}</b> "
                "per 1,000 cases "
                f"at threshold {at['threshold']:.2f}</div>"
                + table_html(Table(self._confusion_table(at)))
            )

        slider.observe(update, names="value")
        update()
        tabs = box.children[1]
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        page = tabs.children[titles.index("Value")]
        page.children = (
            w.VBox(
                [slider, out], layout=w.Layout(border="1px solid #ddd", padding="6px")
            ),
            *page.children,
        )
        box.threshold_slider, box.value_html = slider, out  # for tests and notebooks
        return box
