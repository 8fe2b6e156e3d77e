"""The what-if view: a control per input; the prediction and contributions follow.

:class:`WhatIf` holds one typed row. Its :attr:`~WhatIf.controls` (a slider per
numeric input, bounded by the training data's 1st and 99th percentiles, and a
drop-down per categorical input, with the training data's values in reading order,
``2`` before ``10``, each shown by its label from the training data's dictionary
while the value stays the code the model reads) change the row;
every change recomputes the prediction and the contributions. A missing number starts
at the value the model's preprocessing fills it with, so the prediction is unchanged.
Tests and notebooks drive the controls directly; displayed, it renders statically (the
current row) or, in JupyterLab, as the live controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.human._explainer import Explainer


class WhatIf(Displayable):
    """Vary one row's inputs and watch the prediction.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        One per input; set ``.value`` to change the row.
    prediction : float
        The current prediction (probability of the explained class, or the value).
    original : float
        The prediction of the starting row.
    contributions : pandas.DataFrame
        input, value, contribution of the current row.
    """

    def __init__(self, explainer: Explainer, row: pd.DataFrame):
        import ipywidgets as w
        import numpy as np

        from mlops_nb.data._dictionary import sort_codes
        from mlops_nb.human._labels import of_model

        # a missing number starts at the value the model fills it with (its median)
        row = explainer.impute(row)
        self._ex, self._start = explainer, row.copy()
        self.dictionary = of_model(explainer.model)
        train = explainer.train
        self.controls: dict[str, Any] = {}
        for name in explainer.names:
            value = row.iloc[0][name]
            if name in explainer.categorical:
                codes = sort_codes(
                    dict.fromkeys([*train[name].dropna().unique().tolist(), value])
                )
                options: list[Any] = [(self._option(name, c), c) for c in codes]
                if all(text == str(c) for text, c in options):
                    options = codes  # no labels: the codes are the options
                ctl = w.Dropdown(options=options, value=value, description=name)
            else:
                col = train[name].dropna().to_numpy(dtype=float)
                lo, hi = np.quantile(col, [0.01, 0.99]) if len(col) else (value, value)
                lo, hi = float(min(lo, value)), float(max(hi, value))
                whole = len(col) and np.all(np.mod(col, 1) == 0)
                step = 1.0 if whole else max((hi - lo) / 100, 1e-6)
                ctl = w.FloatSlider(
                    value=float(value),
                    min=lo,
                    max=hi if hi > lo else lo + step,
                    step=step,
                    description=name,
                    continuous_update=False,
                )
            ctl.style = {"description_width": "90px"}
            ctl.tooltip = self.dictionary.descriptions.get(name, name)
            ctl.observe(lambda _change: self.update(), names="value")
            self.controls[name] = ctl
        self.summary = w.HTML()
        self.chart = w.Output(layout=w.Layout(width="100%"))
        self.reset_button = w.Button(description="Reset", icon="undo")
        self.reset_button.on_click(lambda _b: self.reset())
        self.original = float(explainer.predict(row)[0])
        self.prediction = self.original
        self.result: dict[str, Any] = {}
        self.update()

    def _option(self, name: str, code: Any) -> str:
        """Return a drop-down option's text: the code's label, else the code."""
        label = self.dictionary.label(name, code)
        return str(code) if label is None else label

    def row(self) -> pd.DataFrame:
        """Return the current row, typed as the model reads it."""
        import pandas as pd

        values = {n: [c.value] for n, c in self.controls.items()}
        frame = pd.DataFrame(values, index=self._start.index)
        for n in self._ex.numeric:
            frame[n] = frame[n].astype("float64")
        for n in self._ex.categorical:
            frame[n] = frame[n].astype(str).astype(object)
        return frame

    @property
    def contributions(self) -> pd.DataFrame:
        """input, value, contribution of the current row, largest first."""
        import pandas as pd

        row = self.row().iloc[0]
        items = sorted(self.result["contributions"].items(), key=lambda kv: -abs(kv[1]))
        return pd.DataFrame(
            [{"input": k, "value": row.get(k), "contribution": v} for k, v in items]
        )

    def _shown(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Contributions as shown: values as labels, inputs with descriptions."""
        import pandas as pd

        from mlops_nb.human._labels import column

        d, out = self.dictionary, frame.copy()
        out["input"] = pd.Series(
            [column(d, n) for n in frame["input"]], dtype=object, index=frame.index
        )
        out["value"] = pd.Series(
            [
                d.coded(n, v)
                for n, v in zip(frame["input"], frame["value"], strict=True)
            ],
            dtype=object,
            index=frame.index,
        )
        return out

    def update(self) -> None:
        """Recompute the prediction and contributions from the controls."""
        import json

        from mlops_nb.human._explain import _bar
        from mlops_nb.ui._html import esc

        self.result = self._ex.explain_row(self.row())
        self.prediction = float(self.result["prediction"])
        delta = self.prediction - self.original
        self.summary.value = (
            f"<div style='font-size:14px'><b>{esc(self._ex.target)} = "
            f"{self.prediction:.4f}</b>"
            f" <span style='color:#666'>(started at {self.original:.4f}, "
            f"{delta:+.4f})</span></div>"
        )
        fig = _bar(
            self.result["contributions"],
            "Contributions",
            self.result["scale"].split(",")[0],
        )
        self.chart.outputs = (
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {
                    "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
                    "text/plain": "<contributions chart>",
                },
            },
        )

    def reset(self) -> None:
        """Put every control back to the starting row."""
        for name, ctl in self.controls.items():
            value = self._start.iloc[0][name]
            ctl.value = value if name in self._ex.categorical else float(value)

    def _view(self) -> View:
        from mlops_nb.human._explain import _bar

        cats = self._ex.categorical
        changed = [
            (n, c.value)
            for n, c in self.controls.items()
            if str(c.value) != str(self._start.iloc[0][n])
        ]
        head = KeyValues(
            [
                ("prediction", f"{self._ex.target} = {self.prediction:.4f}"),
                ("starting row", f"{self.original:.4f}"),
                (
                    "changed inputs",
                    ", ".join(
                        f"{n} = {self._option(n, v) if n in cats else v}"
                        for n, v in changed
                    )
                    or "none",
                ),
                ("contributions", self.result["scale"]),
            ]
        )
        frame = self.contributions
        frame["contribution"] = frame["contribution"].round(4)
        fig = _bar(
            self.result["contributions"],
            "Contributions",
            self.result["scale"].split(",")[0],
        )
        return View(
            "What-if",
            self._ex.model.label,
            f"{self._ex.target} = {self.prediction:.4f} (from {self.original:.4f})",
            [],
            [
                Tab(
                    "What-if",
                    [head, Figure(fig), Table(self._shown(frame), max_rows=40)],
                )
            ],
        )

    def widget(self) -> Any:
        """Return the live controls, prediction and contributions chart."""
        import ipywidgets as w

        grid = w.GridBox(
            list(self.controls.values()),
            layout=w.Layout(
                grid_template_columns="repeat(2, 48%)", grid_gap="2px 12px"
            ),
        )
        box = w.VBox([self.summary, grid, self.reset_button, self.chart])
        box.what_if = self
        return box
