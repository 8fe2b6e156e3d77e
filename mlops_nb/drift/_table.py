"""``univariate_drift``: the fast path on plain frames, without a project or a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.drift import _univariate
from mlops_nb.drift._chunking import ChunkSpec, reference_split, split
from mlops_nb.errors import SchemaError, listing
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, View

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


def univariate_drift(
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    categorical: list[str] | None = None,
    chunk: str | int | None = None,
    n_chunks: int | None = None,
    time_column: str | None = None,
    continuous_statistics: tuple[str, ...] = _univariate.CONTINUOUS,
    categorical_statistics: tuple[str, ...] = _univariate.DEFAULT_CATEGORICAL,
    alert_on: tuple[str, ...] = ("jensen_shannon",),
    thresholds: dict[str, Any] | None = None,
    std: float = 3.0,
    exact: bool | None = None,
    in_sample: bool = False,
) -> DriftTable:
    """Drift of each column of ``analysis`` against ``reference``, chunk by chunk.

    Parameters
    ----------
    reference, analysis : DataFrame
        The data to compare; ``analysis`` is cut into chunks.
    columns : list of str, optional
        Columns to compare (default: every column of ``reference``).
    categorical : list of str, optional
        Columns to treat as categorical (default: the non-numeric ones).
    chunk, n_chunks, time_column
        The chunking (see :mod:`mlops_nb.drift._chunking`); default 10 equal chunks.
    continuous_statistics, categorical_statistics : tuple of str
        Statistics to compute per column kind.
    alert_on : tuple of str
        Statistics whose threshold crossings are alerts.
    thresholds : dict, optional
        Constant thresholds by statistic; the others are the reference chunks' mean
        plus ``std`` standard deviations.
    exact : bool, optional
        KS and Wasserstein on raw values (default: when the reference has fewer than
        10,000 rows).
    in_sample : bool
        Thresholds from reference chunks compared with the whole reference (nannyml's
        way) instead of with the rest of it.

    Returns
    -------
    DriftTable
        ``to_frame()`` (long form), ``values(statistic)`` (columns x chunks),
        ``plot()`` (the heatmap).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=5000)})
    >>> shifted = np.r_[rng.normal(size=2500), rng.normal(1, size=2500)]
    >>> new = pd.DataFrame({"x": shifted})
    >>> table = univariate_drift(ref, new, n_chunks=2)
    >>> table.alerts().to_numpy().tolist()
    [[False, True]]
    """
    import numpy as np
    import pandas as pd

    columns = (
        list(columns)
        if columns is not None
        else [c for c in reference.columns if c != time_column]
    )
    missing = [
        c for c in columns if c not in reference.columns or c not in analysis.columns
    ]
    if missing:
        msg = (
            f"univariate_drift: column(s) {listing(missing)} missing from reference "
            "or analysis."
        )
        raise SchemaError(msg)
    if categorical is None:
        categorical = [
            c
            for c in columns
            if not pd.api.types.is_numeric_dtype(reference[c])
            or pd.api.types.is_bool_dtype(reference[c])
        ]
    kinds = {c: "categorical" if c in categorical else "continuous" for c in columns}
    spec = ChunkSpec.parse(
        chunk,
        n_chunks,
        time_column=time_column,
        columns=list(analysis.columns),
        what="univariate_drift",
    )
    chunks = split(analysis, spec)
    ref_chunks, note = reference_split(reference, spec)
    options = {
        "continuous": continuous_statistics,
        "categorical": categorical_statistics,
        "exact": exact,
        "thresholds": thresholds,
        "std": std,
        "alert_on": alert_on,
    }
    payload = _univariate.run_with_options(
        reference, analysis, kinds, ref_chunks, chunks, options, in_sample=in_sample
    )
    payload["chunks"] = {
        "keys": chunks.keys,
        "starts": chunks.starts,
        "ends": chunks.ends,
        "sizes": np.asarray(chunks.sizes).tolist(),
    }
    payload["reference_note"] = note
    return DriftTable(payload)


@dataclass(frozen=True, repr=False)
class DriftTable(Displayable):
    """Univariate drift of plain frames (the result of :func:`univariate_drift`)."""

    payload: dict[str, Any]

    @property
    def chunks(self) -> list[str]:
        """Chunk labels."""
        return list(self.payload["chunks"]["keys"])

    def values(self, statistic: str) -> pd.DataFrame:
        """One statistic as a columns x chunks table (NaN where it does not apply)."""
        import pandas as pd

        s = self.payload["statistics"][statistic]
        return pd.DataFrame(
            s["values"], index=self.payload["columns"], columns=self.chunks, dtype=float
        )

    def alerts(self) -> pd.DataFrame:
        """Columns x chunks booleans: an alerting statistic crossed its threshold."""
        import pandas as pd

        return pd.DataFrame(
            self.payload["alerts"], index=self.payload["columns"], columns=self.chunks
        )

    def to_frame(self) -> pd.DataFrame:
        """Long form: column, chunk, statistic, value, lower, upper, alert."""
        import pandas as pd

        rows = []
        for stat, s in self.payload["statistics"].items():
            for i, col in enumerate(self.payload["columns"]):
                if (
                    s["upper"][i] is None
                    and s["lower"][i] is None
                    and all(v is None for v in s["values"][i])
                ):
                    continue
                for c, key in enumerate(self.chunks):
                    rows.append(
                        {
                            "column": col,
                            "chunk": key,
                            "statistic": stat,
                            "value": s["values"][i][c],
                            "lower": s["lower"][i],
                            "upper": s["upper"][i],
                            "alert": s["alert"][i][c],
                        }
                    )
        return pd.DataFrame(rows)

    def plot(self) -> go.Figure:
        """Plot the drift heatmap (columns x chunks)."""
        from mlops_nb.drift._plots import heatmap

        return heatmap({"univariate": self.payload, "chunks": self.payload["chunks"]})

    def _view(self) -> View:
        n_alerts = int(sum(map(sum, self.payload["alerts"])))
        kv = KeyValues(
            [
                ("columns", len(self.payload["columns"])),
                ("chunks", len(self.chunks)),
                ("alerts", n_alerts),
                ("thresholds from", self.payload["reference_note"]),
            ]
        )
        frame = self.to_frame()
        alerts = frame[frame["alert"]] if len(frame) else frame
        return View(
            "DriftTable",
            f"{len(self.payload['columns'])} columns x {len(self.chunks)} chunks",
            f"{n_alerts} alerts",
            [],
            [
                Tab("Heatmap", [kv, Figure(self.plot())]),
                Tab("Alerts", [Table(alerts, max_rows=40)]),
            ],
        )
