"""Measured variants of a model version: a table, a Pareto chart, and each variant."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import NotFoundError, ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.data import DataAsset
    from mlops_nb.deploy._bundle import EdgeBundle
    from mlops_nb.deploy._choose import Choice
    from mlops_nb.deploy._serve import Server
    from mlops_nb.model import Model

#: Objectives of the Pareto front: (key, better) — every measured one counts.
OBJECTIVES = (
    ("value_ratio", "max"),
    ("latency_p50_ms", "min"),
    ("size_bytes", "min"),
    ("energy_wh_per_1000", "min"),
    ("peak_memory_mb", "min"),
)


#: The chart's objectives: value, latency and size.
CHART_OBJECTIVES = OBJECTIVES[:3]


def pareto_flags(
    rows: list[dict[str, Any]], objectives: tuple[tuple[str, str], ...] = OBJECTIVES
) -> list[bool]:
    """Flag the rows on the Pareto front.

    A row is on it when no other row is at least as good on every objective and
    better on one.
    """
    keys = [(k, b) for k, b in objectives if all(r.get(k) is not None for r in rows)]

    def score(r: dict[str, Any]) -> list[float]:
        return [r[k] if b == "min" else -r[k] for k, b in keys]

    scores = [score(r) for r in rows]
    flags = []
    for i, s in enumerate(scores):
        dominated = any(
            all(o[j] <= s[j] for j in range(len(s)))
            and any(o[j] < s[j] for j in range(len(s)))
            for k, o in enumerate(scores)
            if k != i
        )
        flags.append(not dominated)
    return flags


@dataclass(frozen=True, eq=False, repr=False)
class Variant(Displayable):
    """One measured variant: its ONNX file (if any) and its numbers."""

    variants: Variants = field(repr=False)
    row: dict[str, Any]

    @property
    def name(self) -> str:
        """The variant's name, e.g. ``"pruned: first 100 of 200 trees"``."""
        return self.row["name"]

    @property
    def status(self) -> str:
        """``measured``, ``failed``, ``no effect`` or ``not applicable``."""
        return self.row["status"]

    @property
    def metrics(self) -> dict[str, Any]:
        """Every measured number (``None`` when not measured)."""
        skip = {"name", "kind", "status", "level", "note", "digest"}
        return {k: v for k, v in self.row.items() if k not in skip}

    @property
    def model(self) -> Model:
        """The model version this variant was made from."""
        return self.variants.model

    def _require_onnx(self, action: str) -> None:
        if not self.row.get("digest"):
            why = self.row.get("note") or self.status
            msg = (
                f"variant {self.name!r} cannot {action}: it has no ONNX file "
                f"({self.status}: {why}). "
                f"Pick a measured ONNX variant: {listing(self.variants.choosable)}."
            )
            raise ValidationError(msg)

    @property
    def onnx_bytes(self) -> bytes:
        """The variant's ONNX file, verified against its SHA-256."""
        self._require_onnx("give an ONNX file")
        return self.model.project._store.read_blob(self.row["digest"])

    def session(self) -> Any:
        """Open an onnxruntime session at the variant's graph optimization level."""
        from mlops_nb.deploy._runtime import make_session

        return make_session(
            self.onnx_bytes, what=f"variant {self.name!r}", level=self.row["level"]
        )

    def predict_proba(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Class probabilities computed by this variant."""
        from mlops_nb.deploy._runtime import frame_feeds, run_session

        out = run_session(
            self.session(),
            frame_feeds(self.model._X(X, "variant"), self.variants.schema),
            self.model.task,
        )
        if out[1] is None:
            msg = f"{self.model.label} is a regression model; use the labels output."
            raise ValidationError(msg)
        return out[1]

    def bundle(self, path: str | Path, *, overwrite: bool = False) -> EdgeBundle:
        """Write an edge bundle that runs with numpy and onnxruntime alone.

        Parameters
        ----------
        path : str or Path
            A new (or empty) folder; ``<path>.zip`` is written beside it.
        overwrite : bool
            Replace a previous mlops_nb bundle in that folder (nothing else).

        Returns
        -------
        EdgeBundle
            Folder, zip, the SHA-256 of every file and of the manifest.
        """
        from mlops_nb.deploy._bundle import write_bundle
        from mlops_nb.deploy._convert import with_roles

        self._require_onnx("be bundled")
        measured = {
            "accuracy": self.row.get("accuracy"),
            "value share of the model": self.row.get("value_ratio"),
            "p50 latency (ms)": self.row.get("latency_p50_ms"),
            "size (bytes)": self.row.get("size_bytes"),
            "measured on": self.variants.data_label,
        }
        return write_bundle(
            self.model,
            self.onnx_bytes,
            with_roles(self.model, self.variants.schema),
            path,
            overwrite=overwrite,
            level=self.row["level"],
            variant={"name": self.name, "measured": measured},
        )

    def serve(self, **options: Any) -> Server:
        """Serve this variant over authenticated HTTP; see :func:`serve`."""
        from mlops_nb.deploy._serve import serve

        self._require_onnx("be served")
        return serve(self.model, variant=self, **options)

    def _view(self) -> View:
        items = [(k, _fmt(v)) for k, v in self.metrics.items()]
        tabs = [
            Tab(
                "Measured",
                [
                    KeyValues(
                        [
                            ("status", self.status),
                            ("note", self.row.get("note") or "—"),
                            ("graph optimization", self.row.get("level") or "—"),
                            *items,
                        ]
                    )
                ],
            )
        ]
        summary = f"{self.status}; " + (
            f"p50 {self.row['latency_p50_ms']:.3f} ms"
            if self.row.get("latency_p50_ms")
            else self.row.get("note", "")
        )
        return View("Variant", f"{self.model.label}: {self.name}", summary, [], tabs)


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return "—" if v is None else v


@dataclass(frozen=True, eq=False, repr=False)
class Variants(Displayable):
    """Every variant of one optimization run, measured on one data version."""

    model: Model = field(repr=False)
    payload: dict[str, Any]
    created_at: str
    record_version: int

    @classmethod
    def _from_doc(cls, model: Model, doc: dict[str, Any]) -> Variants:
        return cls(model, doc["payload"], doc["created_at"], doc["version"])

    @property
    def schema(self) -> dict[str, Any]:
        """Inputs and outputs shared by every variant's ONNX graph."""
        return self.payload["schema"]

    @property
    def data_label(self) -> str:
        """The data version the variants were measured on."""
        return self.payload["data"]["label"]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The raw measurements, one dict per variant."""
        return self.payload["variants"]

    @property
    def names(self) -> list[str]:
        """Every variant's name."""
        return [r["name"] for r in self.rows]

    @property
    def choosable(self) -> list[str]:
        """Measured ONNX variants (what :meth:`choose` picks from)."""
        return [
            r["name"]
            for r in self.rows
            if r["status"] == "measured" and r.get("digest")
        ]

    @property
    def reference(self) -> Variant:
        """The model's own ONNX export."""
        return self[0]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return (Variant(self, r) for r in self.rows)

    def __getitem__(self, key: int | str) -> Variant:
        if isinstance(key, int):
            return Variant(self, self.rows[key])
        for r in self.rows:
            if r["name"] == key:
                return Variant(self, r)
        hint = did_you_mean(key, self.names)
        msg = f"no variant named {key!r}. Variants: {listing(self.names)}.{hint}"
        raise NotFoundError(msg)

    def choose(self, **budgets: Any) -> Choice:
        """Pick the best variant within budgets, by the 4 P's; see :func:`choose`."""
        from mlops_nb.deploy._choose import choose

        return choose(self, **budgets)

    def to_frame(self) -> pd.DataFrame:
        """One row per variant with every measurement, readable column names."""
        import pandas as pd

        onnx = [r for r in self.rows if r["status"] == "measured" and r.get("digest")]
        front = dict(
            zip(
                [r["name"] for r in onnx],
                pareto_flags(onnx, CHART_OBJECTIVES),
                strict=True,
            )
        )
        cur = self.payload.get("currency")
        quality = "rmse" if self.payload["task"] == "regression" else "accuracy"
        out = []
        for r in self.rows:
            out.append(
                {
                    "variant": r["name"],
                    "status": r["status"],
                    quality: r.get(quality),
                    "roc_auc": r.get("roc_auc"),
                    "max |Δ| vs model": r.get("max_abs_diff"),
                    f"value / 1,000 ({cur})" if cur else "value / 1,000": r.get(
                        "value_per_1000"
                    ),
                    "value share": r.get("value_ratio"),
                    "size (KB)": None
                    if r.get("size_bytes") is None
                    else r["size_bytes"] / 1000,
                    "p50 (ms)": r.get("latency_p50_ms"),
                    "p99 (ms)": r.get("latency_p99_ms"),
                    "rows/s (batch)": r.get("throughput_rows_s"),
                    "peak memory (MB)": r.get("peak_memory_mb"),
                    "Wh / 1,000": r.get("energy_wh_per_1000"),
                    "Pareto": "yes" if front.get(r["name"]) else "",
                    "note": r.get("note", ""),
                }
            )
        frame = pd.DataFrame(out)
        if "roc_auc" in frame and frame["roc_auc"].isna().all():
            frame = frame.drop(columns="roc_auc")
        return frame

    def plot(self) -> go.Figure:
        """Pareto chart: value share against single-row latency and against file size.

        One colour per variant (legend); diamonds are on the Pareto front of value,
        latency and size; the cross is the native model; hover shows the energy.
        """
        import plotly.colors
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        pts = [
            r
            for r in self.rows
            if r["status"] == "measured" and r.get("value_ratio") is not None
        ]
        onnx = [r for r in pts if r.get("digest")]
        front = dict(
            zip(
                [r["name"] for r in onnx],
                pareto_flags(onnx, CHART_OBJECTIVES),
                strict=True,
            )
        )
        basis = next((r["value_basis"] for r in pts if r.get("value_basis")), "value")
        fig = make_subplots(
            rows=1,
            cols=2,
            horizontal_spacing=0.08,
            subplot_titles=("vs single-row latency", "vs file size"),
        )
        palette = plotly.colors.qualitative.D3 + plotly.colors.qualitative.Set2
        for i, r in enumerate(pts):
            symbol = (
                "x"
                if not r.get("digest")
                else ("diamond" if front.get(r["name"]) else "circle")
            )
            energy = r.get("energy_wh_per_1000")
            hover = (
                f"{r['name']}<br>%{{x:.4g}}<br>share %{{y:.4f}}"
                + (f"<br>{energy:.3g} Wh / 1,000" if energy is not None else "")
                + "<extra></extra>"
            )
            for col, x in (
                (1, r.get("latency_p50_ms")),
                (2, (r.get("size_bytes") or 0) / 1000 or None),
            ):
                fig.add_trace(
                    go.Scatter(
                        x=[x],
                        y=[r["value_ratio"]],
                        mode="markers",
                        name=r["name"],
                        legendgroup=r["name"],
                        showlegend=col == 1,
                        hovertemplate=hover,
                        marker={
                            "size": 13 if symbol != "circle" else 10,
                            "symbol": symbol,
                            "color": palette[i % len(palette)],
                            "line": {"width": 1, "color": "#333"},
                        },
                    ),
                    row=1,
                    col=col,
                )
        fig.update_xaxes(
            type="log", dtick=1, row=1, col=1, title_text="p50 latency (ms, log)"
        )
        fig.update_xaxes(
            type="log", dtick=1, row=1, col=2, title_text="file size (KB, log)"
        )
        fig.update_yaxes(title_text=f"share of the model's {basis}", row=1, col=1)
        fig.update_layout(
            template="plotly_white",
            height=400,
            margin={"l": 60, "r": 20, "t": 60, "b": 50},
            legend={"font": {"size": 10}},
            title={
                "text": "Variants: diamonds are on the Pareto front, "
                "the cross is the native model",
                "font": {"size": 13},
            },
        )
        return fig

    def _view(self) -> View:
        frame = self.to_frame()
        p = self.payload
        measured = [r for r in self.rows if r["status"] == "measured"]
        ref = self.rows[0]
        native = next((r for r in self.rows if r["kind"] == "native"), None)
        facts = [
            ("model", p["model"]),
            ("measured on", f"{p['data']['label']} ({p['data']['rows']:,} rows)"),
            (
                "value basis",
                next((r["value_basis"] for r in measured if r.get("value_basis")), "—"),
            ),
            ("decisions", p.get("decision") or _fmt(p.get("threshold"))),
            ("energy", p["energy_method"]),
            ("machine", f"{p['machine']['platform']} ({p['machine']['processor']})"),
        ]
        if native and native.get("latency_p50_ms") and ref.get("latency_p50_ms"):
            facts.append(
                (
                    "ONNX vs native, single row",
                    f"{native['latency_p50_ms'] / ref['latency_p50_ms']:.0f}x faster",
                )
            )
        text = (
            "Every number was measured here, on this machine and this data. Rows that "
            "failed or had no "
            "effect stay in the table with what happened."
        )
        tabs = [
            Tab("Variants", [Text(text, "muted"), Table(frame, max_rows=40)]),
            Tab("Pareto", [Figure(self.plot())]),
            Tab("Measured how", [KeyValues(facts)]),
        ]
        failed = sum(r["status"] != "measured" for r in self.rows)
        summary = f"{len(measured)} variants measured on {p['data']['label']}" + (
            f", {failed} failed or no effect" if failed else ""
        )
        return View("Variants", p["model"], summary, [], tabs)
