"""The profile of a large version, from mergeable per-partition summaries.

:func:`large_profile` runs the summarize -> merge -> finalize protocol
(:func:`~mlops_nb.data._summarize.summarize_dask`) over :meth:`DataAsset.dask`, so
each partition is read (and re-hashed) once, on the Dask workers when a
``dask.distributed`` client is active. The payload has the shape of
:func:`~mlops_nb.data._profile.compute_profile`'s, so :class:`Profile` shows it
unchanged; what is exact and what is sketched:

- exact: rows, missing values, mean, standard deviation, min and max, the histogram
  (its 30 equal bins span the exact min..max recorded at registration), category
  counts up to ``category_cap`` distinct values;
- sketched, with the bound beside the figure: quartiles (KLL, ``quantile_rank_error``
  is the rank error at about 99% confidence), distinct counts (HLL,
  ``unique_lower``/``unique_upper`` at 3 standard deviations) and, past the cap, the
  top category's count (frequent items, ``top_pct_lower``/``top_pct_upper``).

Times are summarised as nanoseconds since the epoch (UTC) and shown as timestamps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data._asset import DataAsset

_BINS = 30
_TOP = 12


def _spec(asset: DataAsset, ranges: dict[str, list[float]]) -> Any:
    import numpy as np

    from mlops_nb.data._summaries import ColumnSpec, SummarySpec

    cols = {}
    for c in asset.schema.columns:
        if c.kind in ("numeric", "datetime") or (c.kind == "id" and c.name in ranges):
            edges = None
            if c.kind != "id" and c.name in ranges:
                lo, hi = ranges[c.name]
                hi = hi if hi > lo else lo + 1.0
                edges = tuple(float(e) for e in np.linspace(lo, hi, _BINS + 1))
            cols[c.name] = ColumnSpec("numeric", edges=edges)
        else:
            cols[c.name] = ColumnSpec("categorical")
    return SummarySpec(cols, distinct=True)


def _as_numbers(frame: pd.DataFrame, times: list[str]) -> pd.DataFrame:
    """Turn time columns into float nanoseconds since the epoch (NaT -> NaN)."""
    import numpy as np
    import pandas as pd

    if not times:
        return frame
    frame = frame.copy()
    for name in times:
        s = pd.to_datetime(frame[name], errors="coerce", utc=True)
        ns = s.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view("int64")
        frame[name] = np.where(s.isna().to_numpy(), np.nan, ns.astype("float64"))
    return frame


def large_profile(asset: DataAsset) -> dict[str, Any]:
    """Return the profile payload of a large version (see the module docstring)."""
    import pandas as pd

    from mlops_nb.data._large import manifest
    from mlops_nb.data._summarize import summarize_dask

    ranges = manifest(asset).get("ranges") or {}
    spec = _spec(asset, ranges)
    times = [c.name for c in asset.schema.columns if c.kind == "datetime"]
    ddf = asset.dask()
    if times:
        meta = _as_numbers(ddf._meta, times)
        ddf = ddf.map_partitions(_as_numbers, times, meta=meta)
    summary = summarize_dask(ddf, spec)
    figures = summary.finalize()
    n = int(summary.rows)
    rows, hists = [], {}
    for c in asset.schema.columns:
        f = figures[c.name]
        missing = int(f["nulls"])
        d = f["distinct"]
        row: dict[str, Any] = {
            "column": c.name,
            "kind": c.kind,
            "role": c.role,
            "dtype": c.dtype,
            "missing": missing,
            "missing_pct": 100.0 * missing / n if n else 0.0,
            # a sketch may overshoot: there are never more values than non-null rows
            "unique": min(round(d["estimate"]), n - missing),
        }
        if not d["exact"]:
            row.update(
                unique_lower=min(int(d["lower"]), n - missing),
                unique_upper=min(int(d["upper"]), n - missing),
            )
        if f["kind"] == "numeric" and f.get("min") is not None:
            q = f["quantiles"]["values"]
            stamp = (
                (lambda v: str(pd.Timestamp(int(v)))) if c.kind == "datetime" else float
            )
            if c.kind == "datetime":
                row.update(min=stamp(f["min"]), max=stamp(f["max"]))
            else:
                row.update(
                    mean=float(f["mean"]),
                    std=float(f["std"]) if f["count"] > 1 else 0.0,
                    min=float(f["min"]),
                    p25=float(q["0.25"]),
                    median=float(q["0.5"]),
                    p75=float(q["0.75"]),
                    max=float(f["max"]),
                )
                if not f["quantiles"]["exact"]:
                    row["quantile_rank_error"] = float(f["quantiles"]["rank_error"])
            h = f.get("histograms", {}).get("bins")
            if h is not None and c.kind != "id":
                edges = h["edges"]
                counts = h["counts"][1:-1]  # the outer bins are empty: exact range
                counts[0] += h["counts"][0]
                counts[-1] += h["counts"][-1]
                hists[c.name] = {
                    "type": "datetime" if c.kind == "datetime" else "numeric",
                    "edges": [stamp(e) for e in edges]
                    if c.kind == "datetime"
                    else list(edges),
                    "counts": [int(x) for x in counts],
                }
        elif f["kind"] == "categorical" and f["top"]:
            top = f["top"]
            row.update(top=str(top[0]["value"]), top_pct=100.0 * top[0]["count"] / n)
            if not f["exact_counts"]:
                row.update(
                    top_pct_lower=100.0 * top[0]["lower"] / n,
                    top_pct_upper=100.0 * top[0]["upper"] / n,
                )
            if c.kind in ("categorical", "boolean"):
                shown = top[:_TOP]
                other = int(f["count"]) - sum(int(t["count"]) for t in shown)
                hists[c.name] = {
                    "type": "categorical",
                    "labels": [str(t["value"]) for t in shown]
                    + (["(other)"] if other > 0 else []),
                    "counts": [int(t["count"]) for t in shown]
                    + ([other] if other > 0 else []),
                }
        rows.append(row)
    return {
        "n_rows": n,
        "n_cols": len(asset.schema.columns),
        "columns": rows,
        "histograms": hists,
        "engine": "summaries",  # from per-partition summaries, not one frame
    }
