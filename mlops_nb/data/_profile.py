"""Per-column statistics and distributions of a data version.

Statistics are computed with vectorised numpy/pandas calls and histograms are binned
here (not by plotly), so a million-row version profiles in about a second and its
report stays a few kilobytes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, Figure, Tab, Table, View
from mlops_nb.ui._html import Coded, format_value

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mlops_nb.data._dictionary import Dictionary
    from mlops_nb.data._schema import Schema

_BINS = 30
_TOP = 12


def compute_profile(frame: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Statistics and histogram data for every column, as a JSON-ready dict."""
    import numpy as np
    import pandas as pd

    rows, hists = [], {}
    n = len(frame)
    for spec in schema.columns:
        col = frame[spec.name]
        missing = int(col.isna().sum())
        row: dict[str, Any] = {
            "column": spec.name,
            "kind": spec.kind,
            "role": spec.role,
            "dtype": spec.dtype,
            "missing": missing,
            "missing_pct": 100.0 * missing / n,
            "unique": int(col.nunique(dropna=True)),
        }
        values = col.dropna()
        if spec.kind == "numeric" or (
            spec.kind == "id" and pd.api.types.is_numeric_dtype(col)
        ):
            arr = values.to_numpy(dtype="float64")
            if arr.size:
                q = np.quantile(arr, [0.0, 0.25, 0.5, 0.75, 1.0])
                row.update(
                    mean=float(arr.mean()),
                    std=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
                    min=float(q[0]),
                    p25=float(q[1]),
                    median=float(q[2]),
                    p75=float(q[3]),
                    max=float(q[4]),
                )
                if spec.kind == "numeric" and row["unique"] <= 20:
                    counts = values.value_counts().sort_index()
                    hists[spec.name] = {
                        "type": "categorical",
                        "labels": [format_value(v) for v in counts.index],
                        "counts": [int(c) for c in counts.tolist()],
                    }
                elif spec.kind == "numeric":
                    lo, hi = float(q[0]), float(q[4])
                    if lo == hi:
                        hi = lo + 1.0
                    counts, edges = np.histogram(arr, bins=_BINS, range=(lo, hi))
                    hists[spec.name] = {
                        "type": "numeric",
                        "edges": edges.tolist(),
                        "counts": counts.tolist(),
                    }
        elif spec.kind == "datetime":
            stamps = pd.to_datetime(values, errors="coerce").dropna()
            if len(stamps):
                row.update(min=str(stamps.min()), max=str(stamps.max()))
                counts, edges = np.histogram(
                    stamps.astype("int64").to_numpy(), bins=_BINS
                )
                hists[spec.name] = {
                    "type": "datetime",
                    "edges": [str(pd.Timestamp(int(e))) for e in edges],
                    "counts": counts.tolist(),
                }
        else:
            counts = values.astype(str).value_counts()
            if len(counts):
                row.update(
                    top=str(counts.index[0]), top_pct=100.0 * float(counts.iloc[0]) / n
                )
            if spec.kind in ("categorical", "boolean"):
                top = counts.head(_TOP)
                other = int(counts.iloc[_TOP:].sum())
                labels = [str(x) for x in top.index] + (["(other)"] if other else [])
                hists[spec.name] = {
                    "type": "categorical",
                    "labels": labels,
                    "counts": [int(c) for c in top.tolist()]
                    + ([other] if other else []),
                }
        rows.append(row)
    return {"n_rows": n, "n_cols": frame.shape[1], "columns": rows, "histograms": hists}


@dataclass(frozen=True, repr=False)
class Profile(Displayable):
    """The profile of one data version: a statistics table and distributions.

    Use :meth:`to_frame` for the numbers and :meth:`plot` for the charts. With the
    version's data dictionary, codes show as their labels (the code on hover) and
    column names carry their descriptions on hover.
    """

    asset: str
    payload: dict[str, Any]
    dictionary: Dictionary | None = None

    def to_frame(self) -> pd.DataFrame:
        """Tabulate columns: kind, role, missing, unique, mean, quartiles, top value."""
        import pandas as pd

        return pd.DataFrame(self.payload["columns"]).set_index("column")

    def plot(self, column: str | None = None, *, max_columns: int = 24) -> go.Figure:
        """Distributions: one column, or small multiples of up to ``max_columns``."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        hists = self.payload["histograms"]
        if column is not None:
            if column not in hists:
                from mlops_nb.errors import SchemaError, did_you_mean, listing

                msg = (
                    f"Profile.plot(column={column!r}): no distribution for this "
                    f"column. Columns with one: {listing(hists)}."
                    f"{did_you_mean(column, hists)}"
                )
                raise SchemaError(msg)
            names = [column]
        else:
            names = list(hists)[:max_columns]
        ncols = 1 if len(names) == 1 else 4
        nrows = max(1, -(-len(names) // ncols))
        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=names)
        for i, name in enumerate(names):
            h = hists[name]
            r, c = i // ncols + 1, i % ncols + 1
            if h["type"] == "categorical":
                x, codes = self._labelled(name, h["labels"])
                trace = go.Bar(
                    x=x,
                    y=h["counts"],
                    marker_color="#4c78a8",
                    customdata=codes,
                    hovertemplate="%{x}<br>%{customdata}<br>rows: %{y:,}"
                    "<extra></extra>",
                )
            else:
                edges = h["edges"]
                trace = go.Bar(
                    x=edges[:-1],
                    y=h["counts"],
                    marker_color="#4c78a8",
                    hovertext=[
                        f"{a} – {b}"  # noqa: RUF001 - en dash wanted in hover text
                        for a, b in itertools.pairwise(edges)
                    ],
                )
            fig.add_trace(trace, row=r, col=c)
        fig.update_layout(
            height=max(260, 210 * nrows),
            showlegend=False,
            bargap=0.05,
            margin={"l": 30, "r": 10, "t": 40, "b": 30},
            template="plotly_white",
        )
        fig.update_annotations(font_size=11)
        return fig

    def _labelled(self, column: str, labels: list[str]) -> tuple[list[str], list[str]]:
        """Bar labels of a column as words, and ``"column = code"`` for the hover."""
        if not self.dictionary:
            return labels, [f"{column} = {v}" for v in labels]
        x = [self.dictionary.label(column, v) or v for v in labels]
        if len(set(x)) < len(x):  # two codes with one label would merge into one bar
            x = labels
        return x, [f"{column} = {v}" for v in labels]

    def _view(self) -> View:
        p = self.payload
        frame = self.to_frame().reset_index()
        keep = [
            c
            for c in (
                "column",
                "kind",
                "role",
                "missing_pct",
                "unique",
                "mean",
                "std",
                "min",
                "median",
                "max",
                "top",
                "top_pct",
            )
            if c in frame.columns
        ]
        stats = frame[keep].rename(
            columns={"missing_pct": "missing %", "top_pct": "top %"}
        )
        _bounds_beside(frame, stats)  # a large version's sketched figures
        if self.dictionary:
            import pandas as pd

            d = self.dictionary
            stats["column"] = pd.Series(
                [
                    Coded(c, f"{c}: {d.descriptions[c]}") if c in d.descriptions else c
                    for c in stats["column"]
                ],
                dtype=object,
                index=stats.index,
            )
            if "top" in stats:
                stats["top"] = pd.Series(
                    [
                        d.coded(str(c), t) if isinstance(t, str) else t
                        for c, t in zip(stats["column"], stats["top"], strict=True)
                    ],
                    dtype=object,
                    index=stats.index,
                )
        worst = frame.sort_values("missing_pct", ascending=False).iloc[0]
        summary = f"{p['n_rows']:,} rows x {p['n_cols']} columns; "
        if worst["missing_pct"] > 0:
            summary += f"most missing: {worst['column']} ({worst['missing_pct']:.1f}%)"
        else:
            summary += "no missing values"
        return View(
            kind="Profile",
            title=self.asset,
            summary=summary,
            tabs=[
                Tab("Statistics", [Table(stats, max_rows=60)]),
                Tab("Distributions", [Figure(self.plot())]),
            ],
        )


def _bounds_beside(frame: Any, stats: Any) -> None:
    """Write each sketched figure with its bound beside it, in ``stats``' cells.

    A large version's profile (:mod:`mlops_nb.data._large_profile`) carries HLL
    distinct counts with ``unique_lower``/``unique_upper`` (3 standard deviations),
    KLL quartiles with ``quantile_rank_error`` and, past the category cap, the top
    share's ``top_pct_lower``/``top_pct_upper``; exact figures stay plain numbers.
    """
    import pandas as pd

    def present(row: Any, *keys: str) -> bool:
        return all(k in row and pd.notna(row[k]) for k in keys)

    cells: dict[str, list[Any]] = {c: list(stats[c]) for c in stats.columns}
    changed: set[str] = set()
    for i, (_, row) in enumerate(frame.iterrows()):
        if "unique" in cells and present(row, "unique_lower", "unique_upper"):
            cells["unique"][i] = (
                f"~{int(row['unique']):,} ({int(row['unique_lower']):,} to "
                f"{int(row['unique_upper']):,})"
            )
            changed.add("unique")
        if "median" in cells and present(row, "median", "quantile_rank_error"):
            error = 100 * row["quantile_rank_error"]
            cells["median"][i] = f"~{row['median']:,.4g} (rank ±{error:.2g}%)"
            changed.add("median")
        if "top %" in cells and present(row, "top_pct_lower", "top_pct_upper"):
            cells["top %"][i] = (
                f"~{row['top_pct']:.1f} ({row['top_pct_lower']:.1f} to "
                f"{row['top_pct_upper']:.1f})"
            )
            changed.add("top %")
    for c in changed:
        stats[c] = pd.Series(cells[c], dtype=object, index=stats.index)
