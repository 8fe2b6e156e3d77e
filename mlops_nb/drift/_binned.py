"""Drift statistics from two mergeable summaries: reference vs chunk, same bins.

The in-memory path (:mod:`mlops_nb.drift._univariate`, nannyml's binning) needs
every value of a chunk; these need only its summary
(:mod:`mlops_nb.data._summaries`), so they run on summaries merged from partitions
of data larger than memory. :func:`drift_spec` makes the spec from the reference
with the in-memory path's bins:

- continuous Jensen-Shannon, Hellinger and PSI on Doane's bins of the reference,
  values outside the reference's range in one extra bin: the same formulas on the
  same counts, so equal to the in-memory path (and nannyml) within rounding;
- categorical chi-squared, Jensen-Shannon, Hellinger, PSI and L-infinity on the
  reference's categories plus new ones: new categories stay apart for chi-squared
  and L-infinity while the chunk's counts are exact (under the summary's category
  cap), else they are lumped into one (``new_categories_apart`` says which);
- Kolmogorov-Smirnov D from 10,000 equal bins between the reference's minimum and
  maximum (nannyml's "estimated" bins) plus the two outer bins. D is the largest
  gap between the two CDFs at the bin boundaries, a lower bound of the exact D;
  the exact D is at most ``kolmogorov_smirnov_bound`` (the largest bin mass of
  either side) above it. It differs from nannyml's estimate only by also looking
  at the boundary below the reference's minimum. No p-value: at these sizes it
  means nothing; alert on D;
- Wasserstein from the same bins: a trapezoid of the CDF gap in each bin, exact in
  the outer bins when only one side has mass there (from the values' sums), with a
  bound from the range the gap can take inside each bin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.data._summaries import ColumnSpec, SummarySpec
from mlops_nb.drift import _univariate as uni
from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._summaries import CategoricalSummary, NumericSummary, Summary


def drift_spec(
    reference: pd.DataFrame,
    kinds: dict[str, str],
    *,
    fine_bins: int = uni.N_EQUAL_BINS,
    **options: Any,
) -> SummarySpec:
    """Return the spec whose summaries give the in-memory path's bins.

    Parameters
    ----------
    reference : DataFrame
        The reference data (in memory).
    kinds : dict
        Column -> ``"continuous"`` or ``"categorical"``.
    fine_bins : int
        Equal bins for Kolmogorov-Smirnov and Wasserstein.
    **options
        Passed to :class:`~mlops_nb.data._summaries.SummarySpec` (``category_cap``,
        ``kll_k``, ...).
    """
    import numpy as np

    from mlops_nb.data._summarize import _key

    cols = {}
    for name, kind in kinds.items():
        if kind == "continuous":
            x = reference[name].to_numpy(dtype="float64", na_value=np.nan)
            x = x[np.isfinite(x)]
            if not len(x):
                cols[name] = ColumnSpec("numeric")
                continue
            lo, hi = float(x.min()), float(x.max())
            fine = (lo, hi, fine_bins) if hi > lo else None
            cols[name] = ColumnSpec(
                "numeric", edges=tuple(uni.doane_edges(x).tolist()), fine=fine
            )
        else:
            cats = sorted({_key(v) for v in reference[name].dropna().unique()})
            cols[name] = ColumnSpec("categorical", categories=tuple(cats))
    return SummarySpec(cols, **options)


def ks_from_bins(ref: np.ndarray, chunk: np.ndarray) -> tuple[float, float]:
    """Return KS D at the bin boundaries and how far the exact D can be above it.

    ``ref`` and ``chunk`` are counts on the same bins, outer bins included.
    """
    import numpy as np

    r, c = ref / ref.sum(), chunk / chunk.sum()
    d = float(np.abs(np.cumsum(r) - np.cumsum(c)).max())
    return d, float(np.maximum(r, c).max())


def wasserstein_from_bins(
    edges: np.ndarray, ref: Any, chunk: Any, n_ref: int, n_chunk: int
) -> tuple[float, float]:
    """Return the Wasserstein-1 distance from two histograms, and its bound.

    ``ref`` and ``chunk`` are :class:`~mlops_nb.data._summaries.Histogram` on
    ``edges`` (outer bins and their values' sums included).
    """
    import numpy as np

    r, c = ref.counts / n_ref, chunk.counts / n_chunk
    width = np.diff(edges)
    d0 = r[0] - c[0]
    d = d0 + np.concatenate([[0.0], np.cumsum(r[1:-1] - c[1:-1])])  # at each edge
    lo_end, hi_end = d[:-1] - c[1:-1], d[:-1] + r[1:-1]
    hi = np.maximum(np.abs(lo_end), np.abs(hi_end))
    lo = np.where(
        (lo_end <= 0) & (hi_end >= 0), 0.0, np.minimum(np.abs(lo_end), np.abs(hi_end))
    )
    trap = (np.abs(d[:-1]) + np.abs(d[1:])) / 2.0
    est = float((width * trap).sum())
    bound = float((width * np.maximum(hi - trap, trap - lo)).sum())
    e0, eb = edges[0], edges[-1]
    for a, b in (
        (
            (ref.counts[0] * e0 - ref.below_sum) / n_ref,
            (chunk.counts[0] * e0 - chunk.below_sum) / n_chunk,
        ),
        (
            (ref.above_sum - ref.counts[-1] * eb) / n_ref,
            (chunk.above_sum - chunk.counts[-1] * eb) / n_chunk,
        ),
    ):
        if a == 0.0 or b == 0.0:  # one side only: the integral is exact
            est += abs(a - b)
        else:
            est += (abs(a - b) + a + b) / 2.0
            bound += (a + b - abs(a - b)) / 2.0
    return est, bound


def _continuous(
    ref: NumericSummary, chunk: NumericSummary, fine: tuple[float, float, int] | None
) -> dict[str, Any]:
    import numpy as np

    rh, ch = ref.hists["bins"].counts, chunk.hists["bins"].counts
    ref_share = rh[1:-1] / rh.sum()
    r, p = uni._with_leftover(ref_share, (ch[1:-1] / ch.sum())[None, :])
    out: dict[str, Any] = {
        "jensen_shannon": float(uni._js(r, p)[0]),
        "hellinger": float(uni._hellinger(r, p)[0]),
        "psi": float(uni._psi(r, p)[0]),
    }
    if fine is not None:
        rf, cf = ref.hists["fine"], chunk.hists["fine"]
        d, b = ks_from_bins(rf.counts, cf.counts)
        out["kolmogorov_smirnov"], out["kolmogorov_smirnov_bound"] = d, b
        edges = np.linspace(fine[0], fine[1], fine[2] + 1)
        w, wb = wasserstein_from_bins(
            edges, rf, cf, int(rf.counts.sum()), int(cf.counts.sum())
        )
        out["wasserstein"], out["wasserstein_bound"] = w, wb
    return out


def _categorical(
    ref: CategoricalSummary, chunk: CategoricalSummary, cats: tuple[str, ...]
) -> dict[str, Any]:
    import numpy as np

    ref_counts = ref.ref[:-1].astype(float)
    inside = chunk.ref[:-1].astype(float)
    n = float(chunk.ref.sum())
    r, p = uni._with_leftover(ref_counts / ref_counts.sum(), (inside / n)[None, :])
    out: dict[str, Any] = {
        "jensen_shannon": float(uni._js(r, p)[0]),
        "hellinger": float(uni._hellinger(r, p)[0]),
        "psi": float(uni._psi(r, p)[0]),
    }
    apart = chunk.counts is not None
    if apart:
        known = set(cats)
        new = sorted(k for k in chunk.counts if k not in known)
        extra = np.array([chunk.counts[k] for k in new], dtype=float)
    else:
        extra = np.array([float(chunk.ref[-1])]) if chunk.ref[-1] else np.zeros(0)
    cnt = np.concatenate([inside, extra])[None, :]
    base = np.concatenate([ref_counts, np.zeros(len(extra))])
    stat, pval = uni._chi2(base, cnt)
    out["chi2"], out["chi2_p_value"] = float(stat[0]), float(pval[0])
    out["l_infinity"] = float(np.abs(base / base.sum() - cnt[0] / n).max())
    out["new_categories_apart"] = apart
    return out


def binned_drift(reference: Summary, chunk: Summary, column: str) -> dict[str, Any]:
    """Return one column's drift statistics from a reference and a chunk summary.

    Parameters
    ----------
    reference, chunk : Summary
        Made with one spec (from :func:`drift_spec`); the chunk's may be merged
        from any number of partitions.
    column : str
        A column of the spec.

    Returns
    -------
    dict
        Statistic -> value (NaN when either side has no values); bounds under
        ``*_bound`` keys.

    Raises
    ------
    ValidationError
        When the summaries' specs differ or the column is not in them.
    """
    if reference.spec != chunk.spec or column not in reference.spec.columns:
        msg = (
            f"binned_drift: the reference and chunk summaries must share one spec "
            f"holding column {column!r}; summarise both with drift_spec(reference)."
        )
        raise ValidationError(msg)
    cs = reference.spec.columns[column]
    ref_c, ch_c = reference.columns[column], chunk.columns[column]
    if cs.kind == "numeric":
        if not cs.edges or ref_c.n == 0 or ch_c.n == 0:
            return {k: float("nan") for k in uni.CONTINUOUS}
        return _continuous(ref_c, ch_c, cs.fine)  # type: ignore[arg-type]
    if ref_c.n == 0 or ch_c.n == 0:
        return {k: float("nan") for k in uni.CATEGORICAL}
    return _categorical(ref_c, ch_c, cs.categories or ())  # type: ignore[arg-type]
