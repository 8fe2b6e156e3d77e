"""A Gaussian copula with empirical marginals, written with numpy and scipy only.

Every column is turned into a uniform variable with its own empirical distribution,
then into a standard normal one; the correlation of those normal scores is the copula.
Sampling draws correlated normals, maps them back to uniforms and through each
column's inverse empirical distribution. So each column keeps its real distribution
and pairs of columns keep their rank association, for numbers and categories alike.

- Numbers (and datetimes, as integers): ties (discrete values such as ages) are spread
  uniformly over their share of the distribution; the inverse interpolates linearly
  between sorted real values, so continuous columns get new values, not copies (not
  even of the minimum or maximum). Integer
  columns are rounded back to integers. Missing values become a hidden yes/no column in
  the copula, so missingness keeps its relation to the other columns.
- Categories: ordered by frequency, each owns an interval of [0, 1] as wide as its
  share; a row's uniform is drawn inside its category's interval (the method of
  SDV's GaussianCopula). Missing is a category of its own.

``independent=True`` drops the correlation (identity matrix): each column is then drawn
from its marginal alone, the per-column baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_EPS = 1e-6


@dataclass
class _Column:
    name: str
    kind: str  # "number" | "category"
    dtype: Any
    values: Any = None  # sorted non-missing floats (number)
    integer: bool = False
    datetime_unit: str | None = None
    tz: Any = None
    levels: list[Any] = field(default_factory=list)  # category values, None = missing
    probs: Any = None
    missing_share: float = 0.0


@dataclass
class GaussianCopula:
    """Fit with :meth:`fit`, then :meth:`sample` rows of the same columns and dtypes."""

    columns: list[_Column] = field(default_factory=list)
    corr: Any = None
    independent: bool = False

    # -- fit -------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, rng: np.random.Generator) -> GaussianCopula:
        """Learn each column's marginal and the correlation of the normal scores."""
        import numpy as np
        from scipy.stats import norm

        uniforms = []
        self.columns = []
        keys = {} if self.independent else _order_keys(frame)
        for name in frame.columns:
            col, us = _fit_column(name, frame[name], rng, keys.get(name))
            self.columns.append(col)
            uniforms.extend(us)
        u = np.clip(np.column_stack(uniforms), _EPS, 1 - _EPS)
        d = u.shape[1]
        if self.independent or d == 1:
            self.corr = np.eye(d)
        else:
            z = norm.ppf(u)
            corr = np.corrcoef(z, rowvar=False)
            corr = np.nan_to_num(corr, nan=0.0)
            np.fill_diagonal(corr, 1.0)
            self.corr = _nearest_correlation(corr)
        return self

    # -- sample ----------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n`` rows."""
        import numpy as np
        import pandas as pd
        from scipy.stats import norm

        d = self.corr.shape[0]
        z = rng.standard_normal((n, d))
        if not self.independent:
            z = z @ np.linalg.cholesky(self.corr).T
        u = np.clip(norm.cdf(z), _EPS, 1 - _EPS)
        out, j = {}, 0
        for col in self.columns:
            if col.kind == "number" and col.missing_share > 0:
                out[col.name] = _inverse_number(col, u[:, j], missing_u=u[:, j + 1])
                j += 2
            elif col.kind == "number":
                out[col.name] = _inverse_number(col, u[:, j])
                j += 1
            else:
                out[col.name] = _inverse_category(col, u[:, j])
                j += 1
        return pd.DataFrame(out)


def _order_keys(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each category column, the scores of its most associated other column.

    A Gaussian copula represents monotone relations only. Ordering the levels of a
    category by the mean rank of its strongest partner column makes that relation
    monotone (citizenship levels line up with nativity, say), so the copula keeps it.
    """
    import numpy as np
    import pandas as pd

    from mlops_nb.data._synth_eval import as_text, associations, is_number

    cols = list(frame.columns)
    cats = [c for c in cols if not is_number(frame[c])]
    if len(cols) < 2 or not cats:
        return {}
    sample = frame.iloc[:: max(1, len(frame) // 10_000)]
    assoc = np.abs(associations(sample, cols))
    np.fill_diagonal(assoc, -1.0)
    scores = {}
    for c in cols:
        if is_number(frame[c]):
            x = (
                pd.to_numeric(frame[c], errors="coerce")
                if not pd.api.types.is_datetime64_any_dtype(frame[c])
                else frame[c]
            )
            scores[c] = x.rank(pct=True).fillna(0.5).to_numpy()
        else:
            text = as_text(frame[c])
            scores[c] = (-text.map(text.value_counts())).rank(pct=True).to_numpy()
    return {c: scores[cols[int(assoc[cols.index(c)].argmax())]] for c in cats}


def _fit_column(
    name: str,
    series: pd.Series,
    rng: np.random.Generator,
    key: np.ndarray | None = None,
) -> tuple[_Column, list[np.ndarray]]:
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    is_dt = pd.api.types.is_datetime64_any_dtype(dtype)
    numeric = (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ) or is_dt
    if not numeric:
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
        levels = list(uniques) + ([None] if (codes < 0).any() else [])
        codes = np.where(codes < 0, len(uniques), codes)
        counts = np.bincount(codes, minlength=len(levels)).astype(float)
        order = np.argsort(-counts, kind="stable")  # most frequent first
        if key is not None:  # by the mean score of the partner column (see _order_keys)
            means = np.bincount(codes, weights=key, minlength=len(levels)) / np.maximum(
                counts, 1
            )
            order = np.lexsort((-counts, means))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        probs = counts[order] / counts.sum()
        lo = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
        r = rank[codes]
        u = lo[r] + rng.uniform(size=len(codes)) * probs[r]
        col = _Column(
            name, "category", dtype, levels=[levels[i] for i in order], probs=probs
        )
        return col, [u]
    tz = getattr(dtype, "tz", None)
    unit = None
    if is_dt:
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if tz else series
        unit = np.datetime_data(naive.dtype)[0]
        x = naive.to_numpy().astype("int64").astype(float)
        x[series.isna().to_numpy()] = np.nan
    else:
        x = pd.to_numeric(series, errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
    missing = np.isnan(x)
    values = np.sort(x[~missing])
    col = _Column(name, "number", dtype, values=values, datetime_unit=unit, tz=tz,
                  integer=bool(is_dt or (values.size
                                         and np.all(values == np.round(values)))),
                  missing_share=float(missing.mean()))  # fmt: skip
    u = rng.uniform(size=len(x))  # missing rows: an uninformative uniform
    if values.size:
        lo = np.searchsorted(values, x[~missing], side="left")
        hi = np.searchsorted(values, x[~missing], side="right")
        u[~missing] = (lo + rng.uniform(size=lo.size) * (hi - lo)) / values.size
    if col.missing_share > 0:
        share = col.missing_share  # missing first: [0, share), present: [share, 1)
        flag = np.where(missing, rng.uniform(size=len(x)) * share,
                        share + rng.uniform(size=len(x)) * (1 - share))  # fmt: skip
        return col, [u, flag]
    return col, [u]


def _inverse_number(
    col: _Column, u: np.ndarray, missing_u: np.ndarray | None = None
) -> pd.Series:
    import numpy as np
    import pandas as pd

    n_values = col.values.size
    if n_values == 0:
        x = np.full(len(u), np.nan)
    else:
        # positions strictly inside (0, n - 1): no real value, not even the minimum or
        # maximum (an outlier's exact value), is returned as it is
        x = np.interp(u * (n_values - 1), np.arange(n_values), col.values)
    if col.integer:
        x = np.round(x)
    if missing_u is not None:
        x = np.where(missing_u < col.missing_share, np.nan, x)
    if col.datetime_unit is not None:
        ints = np.where(np.isnan(x), 0, x).astype("int64")
        out = pd.Series(ints.view(f"M8[{col.datetime_unit}]"))
        out[np.isnan(x)] = pd.NaT
        if col.tz is not None:
            out = out.dt.tz_localize("UTC").dt.tz_convert(col.tz)
        return out
    series = pd.Series(x)
    if pd.api.types.is_integer_dtype(col.dtype):
        if np.isnan(x).any():
            return series.astype("Int64")
        return series.astype(col.dtype)
    return (
        series.astype(col.dtype) if pd.api.types.is_float_dtype(col.dtype) else series
    )


def _inverse_category(col: _Column, u: np.ndarray) -> pd.Series:
    import numpy as np
    import pandas as pd

    cum = np.cumsum(col.probs)
    idx = np.minimum(np.searchsorted(cum, u, side="right"), len(col.levels) - 1)
    values = np.empty(len(u), dtype=object)
    levels = np.array([*col.levels, None], dtype=object)[:-1]
    values[:] = levels[idx]
    series = pd.Series(values)
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Series(
            pd.Categorical(values, categories=dtype.categories, ordered=dtype.ordered)
        )
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("boolean") if series.isna().any() else series.astype(bool)
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _nearest_correlation(corr: np.ndarray) -> np.ndarray:
    """Clip negative eigenvalues, rescale to a unit diagonal (a valid correlation)."""
    import numpy as np

    w, v = np.linalg.eigh((corr + corr.T) / 2)
    fixed = (v * np.maximum(w, 1e-6)) @ v.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)
