"""Fidelity and privacy measures of a synthetic table against the real one.

The real rows are split before fitting: the synthesizer learns from the *train* part
only, and the *holdout* part (real people it never saw) is the yardstick:

- fidelity: per-column distance (Kolmogorov-Smirnov for numbers, total variation for
  categories), the difference of pairwise associations (Spearman for two numbers,
  Cramér's V for two categories, the correlation ratio for one of each), and
  train-on-synthetic/test-on-real against train-on-real, both tested on the holdout;
- privacy: how many synthetic rows equal a real training row exactly, against how many
  holdout rows do (in data made of a few categories many real people share a row), and
  the distance to the closest training record (DCR) of synthetic rows against that of
  holdout rows. Synthetic rows much closer to the training rows than new real people
  are would mean the generator memorised them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.data._learn import as_text, encode, feature_columns, lgbm, score

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._schema import Schema

_ASSOC_ROWS = 10_000
_DCR_REFERENCE = 5_000
_DCR_QUERIES = 1_500
_TSTR_ROWS = 20_000


def is_number(series: pd.Series) -> bool:
    """Numbers and datetimes are compared as numbers; everything else as categories."""
    import pandas as pd

    dtype = series.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ) or pd.api.types.is_datetime64_any_dtype(dtype)


def _numbers(series: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out = series.to_numpy().astype("datetime64[ns]").astype("int64").astype(float)
        out[series.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy("float64", na_value=np.nan)


def column_distance(real: pd.Series, other: pd.Series) -> tuple[str, float]:
    """``("KS", statistic)`` for numbers, ``("TVD", distance)`` for categories."""
    import numpy as np
    from scipy.stats import ks_2samp

    if is_number(real):
        a, b = _numbers(real), _numbers(other)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if not a.size or not b.size:
            return "KS", float(a.size != b.size)
        return "KS", float(ks_2samp(a, b).statistic)
    p = as_text(real).value_counts(normalize=True)
    q = as_text(other).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return "TVD", float(0.5 * np.abs(p - q).sum())


def associations(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Pairwise association matrix (see the module docstring); diagonal 1."""
    import numpy as np
    import pandas as pd

    coded = {}
    for c in columns:
        if is_number(frame[c]):
            x = _numbers(frame[c])
            x = np.where(np.isnan(x), np.nanmedian(x) if (~np.isnan(x)).any() else 0, x)
            coded[c] = ("num", pd.Series(x).rank().to_numpy())
        else:
            coded[c] = ("cat", pd.factorize(as_text(frame[c]))[0])
    k = len(columns)
    out = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            (ki, xi), (kj, xj) = coded[columns[i]], coded[columns[j]]
            if ki == "num" and kj == "num":
                v = _pearson(xi, xj)
            elif ki == "cat" and kj == "cat":
                v = _cramers_v(xi, xj)
            else:
                num, cat = (xi, xj) if ki == "num" else (xj, xi)
                v = _correlation_ratio(cat, num)
            out[i, j] = out[j, i] = v
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    ka, kb = a.max() + 1, b.max() + 1
    if ka < 2 or kb < 2:
        return 0.0
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    n = table.sum()
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum(np.where(expected > 0, (table - expected) ** 2 / expected, 0))
    return float(np.sqrt(chi2 / (n * (min(ka, kb) - 1))))


def _correlation_ratio(cat: np.ndarray, num: np.ndarray) -> float:
    import numpy as np

    total = ((num - num.mean()) ** 2).sum()
    if total == 0:
        return 0.0
    counts = np.bincount(cat)
    means = np.bincount(cat, weights=num) / np.maximum(counts, 1)
    between = (counts * (means - num.mean()) ** 2).sum()
    return float(np.sqrt(between / total))


def train_on_synthetic(
    train: pd.DataFrame,
    synth: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    seed: int,
) -> dict[str, Any] | None:
    """Accuracy (and ROC AUC or R²) on the holdout of models fitted on each source.

    Both models see the same number of rows, so the comparison is about the rows'
    content, not their number. Returns None without a usable target.
    """
    import numpy as np

    target, task = schema.target, schema.task
    if target is None or target not in synth.columns:
        return None
    numeric, categorical = feature_columns(schema)
    numeric = [c for c in numeric if c in synth.columns]
    categorical = [c for c in categorical if c in synth.columns]
    if not numeric and not categorical:
        return None
    rng = np.random.default_rng(seed)
    size = min(len(synth), len(train), _TSTR_ROWS)
    test = holdout[holdout[target].notna()]
    X_test, levels = encode(test, numeric, categorical)
    out: dict[str, Any] = {"rows_each": size, "task": task}
    for source, frame in (("real", train), ("synthetic", synth)):
        part = frame[frame[target].notna()]
        part = part.iloc[rng.choice(len(part), min(size, len(part)), replace=False)]
        X, _ = encode(part, numeric, categorical, levels)
        y = part[target]
        if task != "regression" and y.nunique() < 2:
            out[source] = {"accuracy": float("nan"), "note": "a single class"}
            continue
        est = lgbm(task or "binary", seed, n_estimators=100).fit(X, y)
        if task == "regression":
            out[source] = {"r2": score("regression", test[target], est.predict(X_test))}
            continue
        proba = est.predict_proba(X_test)
        labels = np.asarray(est.classes_)[proba.argmax(axis=1)]
        out[source] = {"accuracy": float((labels == test[target].to_numpy()).mean())}
        if task == "binary" and proba.shape[1] == 2:
            out[source]["roc_auc"] = score("binary", test[target], proba[:, 1])
    return out


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            c: (
                _numbers(frame[c])
                if is_number(frame[c])
                else as_text(frame[c]).to_numpy()
            )
            for c in columns
        }
    )


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row over ``columns`` (numbers as floats, others as text)."""
    import pandas as pd

    return pd.util.hash_pandas_object(
        _canonical(frame, columns), index=False
    ).to_numpy()


def _design(train: pd.DataFrame, columns: list[str]) -> Any:
    """Return a function encoding rows.

    In the encoding, one different category or a full range counts 1.
    """
    import numpy as np

    spec: list[tuple[str, str, Any]] = []
    for c in columns:
        if is_number(train[c]):
            x = _numbers(train[c])
            lo, hi = (
                np.nanpercentile(x, [1, 99]) if (~np.isnan(x)).any() else (0.0, 1.0)
            )
            spec.append((c, "num", (lo, (hi - lo) or 1.0)))
        else:
            spec.append((c, "cat", sorted(as_text(train[c]).unique().tolist())))

    def transform(frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, kind, info in spec:
            if kind == "num":
                x = (_numbers(frame[c]) - info[0]) / info[1]
                parts.append(np.where(np.isnan(x), -0.5, x)[:, None])
            else:
                text = as_text(frame[c]).to_numpy()
                parts.append(
                    (text[:, None] == np.array(info, dtype=object)[None, :])
                    / np.sqrt(2)
                )
        return np.hstack(parts).astype(np.float32)

    return transform


def privacy(
    train: pd.DataFrame,
    synth: pd.DataFrame,
    holdout: pd.DataFrame,
    columns: list[str],
    seed: int,
) -> dict[str, Any]:
    """Exact copies and distance to the closest record (see the module docstring)."""
    import numpy as np
    from sklearn.metrics import pairwise_distances_argmin_min

    rng = np.random.default_rng(seed)
    train_h = row_hashes(train, columns)
    synth_copy = np.isin(row_hashes(synth, columns), train_h)
    hold_copy = np.isin(row_hashes(holdout, columns), train_h)
    design = _design(train, columns)

    def pick(frame: pd.DataFrame, k: int) -> pd.DataFrame:
        return frame.iloc[
            np.sort(rng.choice(len(frame), min(k, len(frame)), replace=False))
        ]

    reference = design(pick(train, _DCR_REFERENCE))
    dcr = {}
    for key, frame in (("synthetic", synth), ("holdout", holdout)):
        _, dist = pairwise_distances_argmin_min(
            design(pick(frame, _DCR_QUERIES)), reference
        )
        dcr[key] = dist.astype(float)
    p5 = float(np.percentile(dcr["holdout"], 5))
    return {
        "exact_copies": int(synth_copy.sum()),
        "exact_copy_share": float(synth_copy.mean()),
        "holdout_exact_share": float(hold_copy.mean()),
        "dcr_synthetic_median": float(np.median(dcr["synthetic"])),
        "dcr_holdout_median": float(np.median(dcr["holdout"])),
        "dcr_synthetic_p5": float(np.percentile(dcr["synthetic"], 5)),
        "dcr_holdout_p5": p5,
        "closer_than_holdout_p5": float((dcr["synthetic"] < p5).mean()),
        "dcr_reference_rows": len(reference),
        "dcr_hist": _histograms(dcr),
    }  # fmt: skip


def _histograms(dcr: dict[str, np.ndarray]) -> dict[str, Any]:
    import numpy as np

    top = float(max(np.percentile(v, 99) for v in dcr.values())) or 1.0
    edges = np.linspace(0, top, 31)
    return {"edges": edges.tolist(),
            **{k: np.histogram(np.minimum(v, top), edges)[0].tolist()
               for k, v in dcr.items()}}  # fmt: skip
