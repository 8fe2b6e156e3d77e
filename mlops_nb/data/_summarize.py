"""Run the summary protocol: a frame, a loop over parquet batches, or Dask.

All three build one summary per piece of data with :func:`summarize_frame` and merge
them (:mod:`mlops_nb.data._summaries`):

- :func:`summarize_frame`: a pandas DataFrame or a pyarrow RecordBatch/Table;
- :func:`summarize_parquet`: a parquet file, folder, glob or list of files, read as
  pyarrow record batches one at a time, so memory holds one batch;
- :func:`summarize_dask`: a Dask DataFrame, one summary per partition on the
  workers (``to_delayed`` partitions), merged as a tree of ``split_every`` at a
  time; only JSON-ready summaries travel between workers.
"""

from __future__ import annotations

import glob as _glob
from typing import TYPE_CHECKING, Any

from mlops_nb.data import _sketches as sk
from mlops_nb.data._summaries import (
    CategoricalSummary,
    ColumnSummary,
    Histogram,
    NumericSummary,
    Summary,
    SummarySpec,
    empty,
    merge_all,
)
from mlops_nb.errors import MissingDependencyError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    import pandas as pd


def _key(v: Any) -> str:
    """Return one spelling of a category in every engine: ``1.0`` and ``1`` are "1"."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) or type(v).__module__ == "numpy":
        try:
            f = float(v)
        except (TypeError, ValueError):
            return str(v)
        if f.is_integer():
            return str(int(f))
        return repr(f)
    return str(v)


def _numeric(
    x: np.ndarray, spec: SummarySpec, edges: dict[str, np.ndarray]
) -> NumericSummary:
    import numpy as np

    null = np.isnan(x)
    nulls = int(null.sum())
    v = x[~null] if nulls else x
    fin = np.isfinite(v)
    n_inf = int(len(v) - fin.sum())
    f = v[fin] if n_inf else v
    mean = m2 = m3 = 0.0
    if len(f):
        mean = float(f.mean())
        d = f - mean
        d2 = d * d
        m2 = float(d2.sum())
        m3 = float((d2 * d).sum())
    hists = {}
    for name, e in edges.items():
        idx = np.searchsorted(e, v, side="right")
        idx[v == e[-1]] = len(e) - 1  # the last bin holds its right edge
        counts = np.bincount(idx, minlength=len(e) + 1).astype(np.int64)
        hists[name] = Histogram(
            counts, float(v[idx == 0].sum()), float(v[idx == len(e)].sum())
        )
    return NumericSummary(
        n=len(v),
        nulls=nulls,
        n_inf=n_inf,
        mean=mean,
        m2=m2,
        m3=m3,
        min=float(v.min()) if len(v) else None,
        max=float(v.max()) if len(v) else None,
        hists=hists,
        kll=sk.kll_of(v, spec.kll_k),
        hll=sk.hll_of(np.unique(v).tolist(), spec.hll_lg_k) if spec.distinct else None,
    )


def _categorical(s: pd.Series, spec: SummarySpec, cats: Any) -> CategoricalSummary:
    import numpy as np

    nulls = int(s.isna().sum())
    vc = s.value_counts(dropna=True, sort=False)
    counts: dict[str, int] = {}
    for raw, c in zip(vc.index, vc.to_numpy(), strict=True):
        if c:
            k = _key(raw)
            counts[k] = counts.get(k, 0) + int(c)
    n = len(s) - nulls
    ref = None
    if cats is not None:
        pos = {c: i for i, c in enumerate(cats)}
        ref = np.zeros(len(cats) + 1, dtype=np.int64)
        for k, c in counts.items():
            ref[pos.get(k, len(cats))] += c
    hll = sk.hll_of(counts, spec.hll_lg_k)
    if len(counts) > spec.category_cap:
        return CategoricalSummary(
            n, nulls, None, sk.fi_from_counts(counts, spec.fi_lg_max_k), ref, hll
        )
    return CategoricalSummary(n, nulls, counts, None, ref, hll)


def _to_pandas(data: Any, spec: SummarySpec) -> pd.DataFrame:
    import pandas as pd

    cols = list(spec.columns)
    if isinstance(data, pd.DataFrame):
        have = list(data.columns)
    else:  # pyarrow RecordBatch or Table
        have = list(data.schema.names)
    missing = [c for c in cols if c not in have]
    if missing:
        msg = (
            f"summarize: column(s) {missing} not found; the data has {have[:20]}. "
            "Summarise with a spec made for these columns."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    if isinstance(data, pd.DataFrame):
        return data
    return data.select(cols).to_pandas()


def summarize_frame(data: Any, spec: SummarySpec) -> Summary:
    """Summarise every spec column of one piece of data.

    Parameters
    ----------
    data : pandas.DataFrame, pyarrow.RecordBatch or pyarrow.Table
        Holds at least the spec's columns.
    spec : SummarySpec
        What to record.

    Returns
    -------
    Summary
        Mergeable with summaries of other rows made with the same spec.

    Raises
    ------
    SchemaError
        A spec column is missing, or a numeric column holds non-numbers.
    """
    frame = _to_pandas(data, spec)
    cols: dict[str, ColumnSummary] = {}
    for name, cs in spec.columns.items():
        s = frame[name]
        if cs.kind == "numeric":
            x = numeric_values(s, name)
            cols[name] = _numeric(x, spec, cs.edge_arrays())
        else:
            cols[name] = _categorical(s, spec, cs.categories)
    return Summary(spec, len(frame), cols)


def summarize_batches(batches: Iterable[Any], spec: SummarySpec) -> Summary:
    """Summarise an iterable of frames or record batches, one at a time."""
    out = empty(spec)
    for batch in batches:
        out = out.merge(summarize_frame(batch, spec))
    return out


def parquet_files(source: Any) -> list[str]:
    """Return the parquet files of a path, folder, glob or list (sorted)."""
    from pathlib import Path

    if isinstance(source, (list, tuple)):
        return [str(p) for p in source]
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(_glob.glob(text))  # noqa: PTH207 (absolute globs too)
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*.parquet"))
    else:
        files = [text]
    if not files:
        msg = f"summarize_parquet: no parquet file matches {text!r}."
        raise SchemaError(msg)
    return files


def summarize_parquet(
    source: Any, spec: SummarySpec, *, batch_size: int = 131_072
) -> Summary:
    """Summarise parquet data as a loop over pyarrow record batches.

    Parameters
    ----------
    source : str, Path or list
        A file, a folder (its ``*.parquet`` files), a glob, or a list of files.
    spec : SummarySpec
        What to record.
    batch_size : int
        Rows per batch; memory holds about one batch at a time.

    Returns
    -------
    Summary
    """
    import pyarrow.dataset as pads

    dataset = pads.dataset(parquet_files(source), format="parquet")
    missing = [c for c in spec.columns if c not in dataset.schema.names]
    if missing:
        msg = (
            f"summarize_parquet: column(s) {missing} not in the files' schema "
            f"({dataset.schema.names[:20]})."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    batches = dataset.to_batches(columns=list(spec.columns), batch_size=batch_size)
    return summarize_batches(batches, spec)


def _summarize_part(frame: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    return summarize_frame(frame, SummarySpec.from_dict(spec)).to_dict()


def _merge_dicts(*parts: dict[str, Any]) -> dict[str, Any]:
    return merge_all([Summary.from_dict(p) for p in parts]).to_dict()


def summarize_dask(ddf: Any, spec: SummarySpec, *, split_every: int = 8) -> Summary:
    """Summarise a Dask DataFrame: one summary per partition, merged as a tree.

    Runs on the active ``dask.distributed`` client when there is one, else on
    Dask's default scheduler.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        Holds at least the spec's columns.
    spec : SummarySpec
        What to record.
    split_every : int
        How many summaries one merge task takes.

    Returns
    -------
    Summary
    """
    try:
        from dask import delayed
    except ImportError as err:
        msg = "summarize_dask needs Dask: pip install 'mlops-nb[scale]'."
        raise MissingDependencyError(msg) from err
    missing = [c for c in spec.columns if c not in ddf.columns]
    if missing:
        msg = f"summarize_dask: column(s) {missing} not in the Dask DataFrame."
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    spec_d = spec.to_dict()
    level = [
        delayed(_summarize_part, pure=True)(p, spec_d)
        for p in ddf[list(spec.columns)].to_delayed()
    ]
    if not level:
        return empty(spec)
    split_every = max(2, int(split_every))
    while len(level) > 1:
        level = [
            delayed(_merge_dicts, pure=True)(*level[i : i + split_every])
            for i in range(0, len(level), split_every)
        ]
    return Summary.from_dict(level[0].compute())


def numeric_values(s: Any, name: str) -> Any:
    """Return a numeric spec column as float64 (missing as NaN), else raise.

    Raises
    ------
    SchemaError
        When the column holds values that are not numbers.
    """
    import numpy as np

    try:
        return s.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as err:
        msg = (
            f"summarize: column {name!r} is numeric in the spec but holds "
            f"{s.dtype} values that are not numbers; make it categorical."
        )
        raise SchemaError(msg, [{"column": name, "problem": "not numeric"}]) from err
