"""Measured variants of a model version: a table, a Pareto chart, and each variant."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import NotFoundError, ValidationError, did_you_mean, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.data import DataAsset
    from mlops_nb.deploy._bundle import EdgeBundle
    from mlops_nb.deploy._choose import Choice
    from mlops_nb.deploy._serve import Server
    from mlops_nb.model import Model

#: Objectives of the Pareto front: (key, better) — every measured one counts.
OBJECTIVES = (("value_ratio", "max"), ("latency_p50_ms", "min"), ("size_bytes", "min"),
              ("energy_wh_per_1000", "min"), ("peak_memory_mb", "min"))  # fmt: skip


def pareto_flags(rows: list[dict[str, Any]]) -> list[bool]:
    """Whether each row is on the Pareto front (no other row is at least as good everywhere and better somewhere)."""
    keys = [(k, b) for k, b in OBJECTIVES if all(r.get(k) is not None for r in rows)]

    def score(r: dict[str, Any]) -> list[float]:
        return [r[k] if b == "min" else -r[k] for k, b in keys]

    scores = [score(r) for r in rows]
    flags = []
    for i, s in enumerate(scores):
        dominated = any(all(o[j] <= s[j] for j in range(len(s))) and any(o[j] < s[j] for j in range(len(s)))
                        for k, o in enumerate(scores) if k != i)  # fmt: skip
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
            msg = (f"variant {self.name!r} cannot {action}: it has no ONNX file ({self.status}: {why}). "
                   f"Pick a measured ONNX variant: {listing(self.variants.choosable)}.")  # fmt: skip
            raise ValidationError(msg)

    @property
    def onnx_bytes(self) -> bytes:
        """The variant's ONNX file, verified against its SHA-256."""
        self._require_onnx("give an ONNX file")
        return self.model.project._store.read_blob(self.row["digest"])

    def session(self) -> Any:
        """An onnxruntime session at the variant's graph optimization level."""
        from mlops_nb.deploy._runtime import make_session

        return make_session(self.onnx_bytes, what=f"variant {self.name!r}", level=self.row["level"])

    def predict_proba(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Class probabilities computed by this variant."""
        from mlops_nb.deploy._runtime import frame_feeds, run_session

        out = run_session(self.session(), frame_feeds(self.model._X(X, "variant"), self.variants.schema),
                          self.model.task)  # fmt: skip
        if out[1] is None:
            raise ValidationError(f"{self.model.label} is a regression model; use the labels output.")
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

        self._require_onnx("be bundled")
        measured = {"accuracy": self.row.get("accuracy"), "value share of the model": self.row.get("value_ratio"),
                    "p50 latency (ms)": self.row.get("latency_p50_ms"), "size (bytes)": self.row.get("size_bytes"),
                    "measured on": self.variants.data_label}  # fmt: skip
        return write_bundle(self.model, self.onnx_bytes, self.variants.schema, path, overwrite=overwrite,
                            level=self.row["level"], variant={"name": self.name, "measured": measured})  # fmt: skip

    def serve(self, **options: Any) -> Server:
        """Serve this variant over authenticated HTTP; see :func:`mlops_nb.deploy.serve`."""
        from mlops_nb.deploy._serve import serve

        self._require_onnx("be served")
        return serve(self.model, variant=self, **options)

    def _view(self) -> View:
        items = [(k, _fmt(v)) for k, v in self.metrics.items()]
        tabs = [Tab("Measured", [KeyValues([("status", self.status), ("note", self.row.get("note") or "—"),
                                            ("graph optimization", self.row.get("level") or "—"), *items])])]  # fmt: skip
        summary = f"{self.status}; " + (f"p50 {self.row['latency_p50_ms']:.3f} ms" if self.row.get("latency_p50_ms")
                                        else self.row.get("note", ""))  # fmt: skip
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
        return [r["name"] for r in self.rows if r["status"] == "measured" and r.get("digest")]

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
        raise NotFoundError(f"no variant named {key!r}. Variants: {listing(self.names)}.{did_you_mean(key, self.names)}")

    def choose(self, **budgets: Any) -> Choice:
        """Pick the best variant within budgets, by the 4 P's; see :func:`mlops_nb.deploy.choose`."""
        from mlops_nb.deploy._choose import choose

        return choose(self, **budgets)

    def to_frame(self) -> pd.DataFrame:
        """One row per variant with every measurement, readable column names."""
        import pandas as pd

        onnx = [r for r in self.rows if r["status"] == "measured" and r.get("digest")]
        front = dict(zip([r["name"] for r in onnx], pareto_flags(onnx), strict=True))
        cur = self.payload.get("currency")
        quality = "rmse" if self.payload["task"] == "regression" else "accuracy"
        out = []
        for r in self.rows:
            out.append({
                "variant": r["name"], "status": r["status"], quality: r.get(quality), "roc_auc": r.get("roc_auc"),
                "max |Δ| vs model": r.get("max_abs_diff"),
                f"value / 1,000 ({cur})" if cur else "value / 1,000": r.get("value_per_1000"),
                "value share": r.get("value_ratio"),
                "size (KB)": None if r.get("size_bytes") is None else r["size_bytes"] / 1000,
                "p50 (ms)": r.get("latency_p50_ms"), "p99 (ms)": r.get("latency_p99_ms"),
                "rows/s (batch)": r.get("throughput_rows_s"), "peak memory (MB)": r.get("peak_memory_mb"),
                "Wh / 1,000": r.get("energy_wh_per_1000"),
                "Pareto": "yes" if front.get(r["name"]) else "", "note": r.get("note", ""),
            })  # fmt: skip
        frame = pd.DataFrame(out)
        if "roc_auc" in frame and frame["roc_auc"].isna().all():
            frame = frame.drop(columns="roc_auc")
        return frame

    def plot(self) -> go.Figure:
        """Pareto chart: value share against single-row latency and against file size."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        pts = [r for r in self.rows if r["status"] == "measured" and r.get("value_ratio") is not None]
        onnx = [r for r in pts if r.get("digest")]
        front = dict(zip([r["name"] for r in onnx], pareto_flags(onnx), strict=True))
        basis = next((r["value_basis"] for r in pts if r.get("value_basis")), "value")
        fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                            subplot_titles=("share of the model's value vs latency", "vs file size"))  # fmt: skip
        energy = [r.get("energy_wh_per_1000") for r in pts]
        color = energy if all(e is not None for e in energy) and energy else None
        for col, key, scale in ((1, "latency_p50_ms", 1.0), (2, "size_bytes", 1 / 1000)):
            fig.add_trace(go.Scatter(
                x=[r[key] * scale if r.get(key) is not None else None for r in pts], y=[r["value_ratio"] for r in pts],
                mode="markers+text", text=[_short(r["name"]) for r in pts], textposition="top center",
                textfont={"size": 9}, showlegend=False, customdata=[r["name"] for r in pts],
                hovertemplate="%{customdata}<br>x %{x:.4g}<br>share %{y:.4f}<extra></extra>",
                marker={"size": [14 if front.get(r["name"]) else 9 for r in pts],
                        "symbol": ["diamond" if front.get(r["name"]) else ("x" if not r.get("digest") else "circle")
                                   for r in pts],
                        "color": color if color else "#4c78a8", "colorscale": "Viridis", "showscale": bool(color) and col == 2,
                        "colorbar": {"title": "Wh/1,000"} if color else None,
                        "line": {"width": 1, "color": "#333"}},
            ), row=1, col=col)  # fmt: skip
            fig.update_xaxes(type="log", row=1, col=col,
                             title_text="single-row p50 latency (ms)" if col == 1 else "file size (KB)")  # fmt: skip
        fig.update_yaxes(title_text=f"share of the model's {basis}", row=1, col=1)
        fig.update_layout(template="plotly_white", height=380, margin={"l": 60, "r": 20, "t": 50, "b": 50},
                          title={"text": "Variants (diamonds: Pareto front; x: native model)", "font": {"size": 14}})  # fmt: skip
        return fig

    def _view(self) -> View:
        frame = self.to_frame()
        p = self.payload
        measured = [r for r in self.rows if r["status"] == "measured"]
        ref = self.rows[0]
        native = next((r for r in self.rows if r["kind"] == "native"), None)
        facts = [("model", p["model"]), ("measured on", f"{p['data']['label']} ({p['data']['rows']:,} rows)"),
                 ("value basis", next((r["value_basis"] for r in measured if r.get("value_basis")), "—")),
                 ("decision threshold (canvas)", _fmt(p.get("threshold"))), ("energy", p["energy_method"]),
                 ("machine", f"{p['machine']['platform']} ({p['machine']['processor']})")]  # fmt: skip
        if native and native.get("latency_p50_ms") and ref.get("latency_p50_ms"):
            facts.append(("ONNX vs native, single row", f"{native['latency_p50_ms'] / ref['latency_p50_ms']:.0f}x faster"))
        text = ("Every number was measured here, on this machine and this data. Rows that failed or had no "
                "effect stay in the table with what happened.")  # fmt: skip
        tabs = [Tab("Variants", [Text(text, "muted"), Table(frame, max_rows=40)]),
                Tab("Pareto", [Figure(self.plot())]), Tab("Measured how", [KeyValues(facts)])]  # fmt: skip
        failed = sum(r["status"] != "measured" for r in self.rows)
        summary = f"{len(measured)} variants measured on {p['data']['label']}" + (f", {failed} failed or no effect" if failed else "")
        return View("Variants", p["model"], summary, [], tabs)


def _short(name: str) -> str:
    return (name.replace("ONNX export (reference)", "reference").replace("ORT ", "").replace(" graph optimizations", " opt")
            .replace("native model (Python)", "native").replace("int8 dynamic quantization", "int8"))  # fmt: skip
