"""Explanations: which inputs drive a model, and why one prediction came out as it did.

Global, for an EBM: its term importances and shape functions (exact, from interpret's
glassbox). For any other model: interpret's black-box explainers, Morris sensitivity to
rank the inputs and partial dependence for the top ones. They hand the model plain
float arrays, which a pipeline with categorical columns cannot read (``ufunc 'isnan'
not supported``); mlops_nb gives them categories as integer codes and a predict
function that rebuilds the typed frame before calling the model.

Local (a few chosen rows): an EBM's exact additive term contributions (log-odds); for
other models, Shapley values sampled over permutations against rows of the training
data (antithetic pairs, seeded; on the probability scale, summing exactly to the
prediction minus the background's mean prediction). interpret's ShapKernel and LIME
need the ``shap`` and ``lime`` packages, which mlops_nb does not depend on.

Everything is drawn with plotly in mlops_nb's own views: interpret's ``show()`` and
its dashboard server are never used, so no socket is opened.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError
from mlops_nb.human import _labels
from mlops_nb.human._common import jsonable
from mlops_nb.human._explainer import Explainer
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View
from mlops_nb.ui._palette import BLUE, RED

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.model import Model

MAX_ROWS = 20


def explain(
    model: Model,
    data: Any,
    *,
    sample_rows: int = 500,
    top: int = 4,
    class_: Any = None,
    target_class: Any = None,
    seed: int = 0,
) -> GlobalExplanation | LocalExplanation:
    """Explain ``model`` globally (a DataAsset) or for chosen rows (a DataFrame).

    Parameters
    ----------
    model : Model
    data : DataAsset or pandas.DataFrame
        A data version: which inputs matter overall (stored with the model). A frame
        of at most 20 rows: why each prediction, with a what-if view of the first.
    sample_rows : int
        Rows of the data version the global explainers use (seeded sample).
    top : int
        Inputs whose shape (EBM term or partial dependence) is drawn.
    class_ : optional
        The class whose probability is explained (classifiers). By default the class
        the value canvas acts on, else for a multiclass model its most frequent class
        in the training data, else (binary) the second class; the view says which
        and why, and ``explanation.for_class(c)`` or the widget's drop-down switch.
    target_class : optional
        Former name of ``class_``.
    seed : int

    Returns
    -------
    GlobalExplanation or LocalExplanation

    Notes
    -----
    Missing numbers are filled as the model's own preprocessing fills them (the
    medians learnt at fitting), so every estimator is explained on exactly the input
    it scores; interpret's explainers refuse missing values.
    """
    import pandas as pd

    from mlops_nb.data import DataAsset

    what = f"{model.label}.explain"
    if class_ is not None and target_class is not None and class_ != target_class:
        msg = (
            f"{what}: class_={class_!r} and target_class={target_class!r} differ; "
            "give one (target_class is the former name of class_)."
        )
        raise ValidationError(msg)
    chosen = class_ if class_ is not None else target_class
    if isinstance(data, DataAsset):
        start = time.perf_counter()
        ex = Explainer(model, chosen, seed)
        key = (
            f"explanation:{data.name}@{data.version}:n={sample_rows}:top={top}"
            f":class={_class_key(ex)}:seed={seed}"
        )
        stored = model.project._report("model", model.id, key)
        if stored is not None:  # the same class, perhaps chosen for another reason
            stored = {**stored, **_class_fields(ex)}
            return GlobalExplanation(stored, model=model, data=data)
        frame = data.frame
        X = ex.typed(frame.sample(min(len(frame), sample_rows), random_state=seed))
        payload = {
            "model": model.label,
            "data": data.label,
            "rows": len(X),
            "options": {"sample_rows": sample_rows, "top": top, "seed": seed},
            "target": ex.target,
            **_class_fields(ex),
            "missing": {
                c: {"rows": int(n), "filled_with": ex.fill.get(c)}
                for c, n in X[ex.numeric].isna().sum().items()
                if n
            },
            **ex.explain_global(X, top),
        }
        payload["seconds"] = round(time.perf_counter() - start, 3)
        payload = jsonable(payload)
        model.project._save_report("model", model.id, key, payload)
        return GlobalExplanation(payload, model=model, data=data)
    if isinstance(data, pd.Series):
        data = data.to_frame().T
    if not isinstance(data, pd.DataFrame) or not 1 <= len(data) <= MAX_ROWS:
        msg = (
            f"{what}: data must be a DataAsset (global explanation) or a DataFrame of "
            f"1 to {MAX_ROWS} rows "
            f"(local explanations), got {type(data).__name__}"
            + (f" with {len(data)} rows" if hasattr(data, "__len__") else "")
            + ". E.g. test.frame.iloc[[0]]."
        )
        raise ValidationError(msg)
    start = time.perf_counter()
    ex = Explainer(model, chosen, seed)
    X = ex.typed(data)
    rows = []
    for i in range(len(X)):
        res = ex.explain_row(X.iloc[[i]])
        res["values"] = {c: X.iloc[i][c] for c in ex.names}
        res["imputed"] = {
            c: ex.fill.get(c) for c in ex.numeric if X.iloc[i][c] != X.iloc[i][c]
        }
        res["row"] = str(data.index[i])
        rows.append(res)
    payload = jsonable(
        {
            "model": model.label,
            "target": ex.target,
            **_class_fields(ex),
            "rows": rows,
            "seconds": round(time.perf_counter() - start, 3),
        }
    )
    digest = hashlib.sha256(
        json.dumps(payload["rows"], sort_keys=True).encode()
    ).hexdigest()[:16]
    model.project._save_report(
        "model", model.id, f"local-explanation:{digest}", payload
    )
    return LocalExplanation(model.project, payload, explainer=ex, frame=X)


def _class_key(ex: Explainer) -> str:
    return "" if ex.k is None else f"{ex.classes[ex.k]}"


def _class_fields(ex: Explainer) -> dict[str, Any]:
    """Which class an explanation is about, why, and the classes it can switch to."""
    if ex.k is None:
        return {}
    return {
        "class": str(ex.classes[ex.k]),
        "classes": [str(c) for c in ex.classes],
        "why": ex.why,
    }


def _class_text(p: dict[str, Any]) -> str:
    return f"class {p['class']}: {p['why']}" if p.get("class") is not None else ""


def _switching(explanation: Any) -> Any:
    """Return the view of ``explanation`` under a drop-down of the model's classes."""
    import ipywidgets as w

    from mlops_nb.ui._widget import view_widget

    p = explanation.payload
    if len(p.get("classes") or []) < 3:  # binary: one decision, nothing to switch
        return view_widget(explanation._view())
    box = w.VBox([view_widget(explanation._view())])
    box.explanation = explanation
    pick = w.Dropdown(
        options=p["classes"], value=p["class"], description="explain class"
    )

    def switch(change: dict[str, Any]) -> None:
        other = box.explanation.for_class(change["new"])
        box.explanation = other
        box.children = (pick, view_widget(other._view()))

    pick.observe(switch, names="value")
    box.children = (pick, *box.children)
    box.class_picker = pick
    return box


def _bar(contrib: dict[str, float], title: str, scale: str, n: int = 12) -> Any:
    import plotly.graph_objects as go

    items = sorted(contrib.items(), key=lambda kv: abs(kv[1]))[-n:]
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color=[RED if v < 0 else BLUE for _, v in items],
        )
    )
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=60 + 24 * len(items),
        margin={"l": 110, "r": 20, "t": 40, "b": 40},
        xaxis_title=scale,
    )
    return fig


@dataclass(frozen=True, repr=False)
class GlobalExplanation(Displayable):
    """Which inputs drive a model version on a data version (stored with the model)."""

    payload: dict[str, Any]
    model: Any = field(default=None, repr=False, compare=False)
    data: Any = field(default=None, repr=False, compare=False)

    def for_class(self, class_: Any) -> GlobalExplanation:
        """Return the explanation of another class's probability (stored too)."""
        if self.model is None or self.data is None:
            msg = "GlobalExplanation.for_class(): use model.explain(data, class_=...)."
            raise ValidationError(msg)
        return explain(
            self.model, self.data, class_=class_, **self.payload.get("options", {})
        )

    def widget(self) -> Any:
        """Return the live view; a multiclass one starts with a class drop-down."""
        return _switching(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per input, most important first."""
        import pandas as pd

        return pd.DataFrame(self.payload["importances"])

    def plot(self, feature: str | None = None) -> Any:
        """Plot the importances (no ``feature``) or one input's shape."""
        import plotly.graph_objects as go

        p = self.payload
        if feature is None:
            imp = {i["feature"]: i["importance"] for i in p["importances"]}
            return _bar(imp, f"Global importance on {p['data']}", p["scale"], n=15)
        if feature not in p["shapes"]:
            msg = (
                f"GlobalExplanation.plot(feature={feature!r}): shapes exist for "
                f"{list(p['shapes'])}."
            )
            raise ValidationError(msg)
        s = p["shapes"][feature]
        fig = go.Figure(  # the shape in the palette's first colour, like the bars
            go.Bar(x=s["x"], y=s["y"], marker_color=BLUE)
            if isinstance(s["x"][0], str)
            else go.Scatter(
                x=s["x"], y=s["y"], mode="lines+markers", line={"color": BLUE}
            )
        )
        fig.update_layout(
            title=f"{feature}: effect on {p['target']}",
            template="plotly_white",
            height=280,
            margin={"l": 50, "r": 10, "t": 40, "b": 40},
            xaxis_title=feature,
        )
        return fig

    def _view(self) -> View:
        p = self.payload
        head = KeyValues(
            [
                ("model", p["model"]),
                ("data", f"{p['data']} ({p['rows']:,} rows sampled)"),
                ("explains", p["target"]),
                *([("class", _class_text(p))] if p.get("class") is not None else []),
                *(
                    [
                        (
                            "missing numbers",
                            "; ".join(
                                f"{c}: {m['rows']} row(s), filled with "
                                f"{m['filled_with']:.4g} as the model does"
                                for c, m in p["missing"].items()
                            ),
                        )
                    ]
                    if p.get("missing")
                    else []
                ),
                ("method", p["method"]),
                ("scale", p["scale"]),
                ("time", f"{p['seconds']:.2f} s"),
            ]
        )
        tabs = [
            Tab(
                "Importance",
                [
                    head,
                    Figure(self.plot()),
                    Table(
                        _labels.features(
                            _labels.of_model_or_empty(self.model),
                            self.to_frame().round(4),
                        ),
                        max_rows=40,
                    ),
                ],
            )
        ]
        if p["shapes"]:
            tabs.append(Tab("Shapes", [Figure(self.plot(f)) for f in p["shapes"]]))
        top = ", ".join(i["feature"] for i in p["importances"][:3])
        about = f" for {_class_text(p)}" if p.get("class") is not None else ""
        return View(
            "Explanation",
            f"{p['model']} on {p['data']}",
            f"most important: {top}{about} ({p['method']})",
            [],
            tabs,
        )


@dataclass(frozen=True, repr=False)
class LocalExplanation(Displayable):
    """Why the model predicted what it did for a few rows; see :meth:`what_if`."""

    project: Project = field(repr=False)
    payload: dict[str, Any]
    explainer: Explainer = field(repr=False, default=None)  # type: ignore[assignment]
    frame: Any = field(repr=False, default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per (row, input): value and contribution."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "row": r["row"],
                    "input": k,
                    "value": r["values"].get(k),
                    "contribution": v,
                }
                for r in self.payload["rows"]
                for k, v in r["contributions"].items()
            ]
        )

    def what_if(self, row: int = 0) -> Any:
        """Return a :class:`~mlops_nb.human.WhatIf` starting from row ``row``."""
        from mlops_nb.human._whatif import WhatIf

        return WhatIf(self.explainer, self.frame.iloc[[row]])

    def for_class(self, class_: Any) -> LocalExplanation:
        """Return the explanation of the same rows for another class's probability."""
        ex = self.explainer
        if ex is None or self.frame is None:
            msg = "LocalExplanation.for_class(): use model.explain(rows, class_=...)."
            raise ValidationError(msg)
        return explain(ex.model, self.frame, class_=class_, seed=ex.seed)

    def _view(self) -> View:
        import pandas as pd

        p, tabs = self.payload, []
        words = _labels.of_model_or_empty(getattr(self.explainer, "model", None))
        for r in p["rows"][:5]:
            table = pd.DataFrame(
                [
                    {
                        "input": k,
                        "value": r["values"].get(k),
                        "contribution": round(v, 4),
                    }
                    for k, v in sorted(
                        r["contributions"].items(), key=lambda kv: -abs(kv[1])
                    )
                ]
            )
            tabs.append(
                Tab(
                    f"Row {r['row']}",
                    [
                        KeyValues(
                            [
                                (
                                    "prediction",
                                    f"{p['target']} = {r['prediction']:.4f}",
                                ),
                                *(
                                    [("class", _class_text(p))]
                                    if p.get("class") is not None
                                    else []
                                ),
                                ("baseline", round(r["base"], 4)),
                                ("contributions", r["scale"]),
                                *(
                                    [
                                        (
                                            "missing numbers",
                                            ", ".join(
                                                f"{c} (filled with {v:.4g} as the "
                                                "model does)"
                                                for c, v in r["imputed"].items()
                                            ),
                                        )
                                    ]
                                    if r.get("imputed")
                                    else []
                                ),
                            ]
                        ),
                        Figure(
                            _bar(
                                r["contributions"],
                                f"Why row {r['row']}",
                                r["scale"].split(",")[0],
                            )
                        ),
                        Table(_labels.contributions(words, table), max_rows=40),
                    ],
                )
            )
        tabs.append(
            Tab(
                "What-if",
                [
                    Text(
                        "In JupyterLab (display mode 'widget') this view has a "
                        "What-if tab: a "
                        "control per input, and the prediction and contributions "
                        "update as you "
                        "change them. In code: local.what_if().controls['AGEP'].value "
                        "= 30.",
                        "muted",
                    )
                ],
            )
        )
        first = p["rows"][0]
        about = f"; {_class_text(p)}" if p.get("class") is not None else ""
        return View(
            "Local explanation",
            p["model"],
            f"{len(p['rows'])} row(s); first: {p['target']} = "
            f"{first['prediction']:.3f}{about} ({p['seconds']:.2f} s)",
            [],
            tabs,
        )

    def widget(self) -> Any:
        """Return the live view with a What-if tab for the first row (``.what_if``).

        A multiclass model's view starts with a drop-down that switches the class.
        """
        import ipywidgets as w

        box = self._rows_widget()
        p = self.payload
        if len(p.get("classes") or []) < 3:  # binary: one decision, nothing to switch
            return box
        pick = w.Dropdown(
            options=p["classes"], value=p["class"], description="explain class"
        )
        outer = w.VBox([pick, box])
        outer.explanation, outer.what_if, outer.class_picker = self, box.what_if, pick

        def switch(change: dict[str, Any]) -> None:
            other = outer.explanation.for_class(change["new"])
            inner = other._rows_widget()
            outer.explanation, outer.what_if = other, inner.what_if
            outer.children = (pick, inner)

        pick.observe(switch, names="value")
        return outer

    def _rows_widget(self) -> Any:
        from mlops_nb.ui._widget import view_widget

        box = view_widget(self._view())
        wi = self.what_if(0)
        tabs = box.children[1]
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        tabs.children = (wi.widget(), *tabs.children[:-1])
        for i, t in enumerate(["What-if", *titles[:-1]]):
            tabs.set_title(i, t)
        box.what_if = wi
        return box
