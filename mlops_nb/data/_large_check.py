"""The quality check of a large version, from mergeable per-partition summaries.

:func:`large_check` runs one summarize -> merge -> finalize pass
(:func:`~mlops_nb.data._summarize.summarize_dask`) over :meth:`DataAsset.dask` and
turns the merged figures into the findings :func:`~mlops_nb.data._check.run_checks`
gives a frame, with the same check names, severities and thresholds:

- exact: missing values (null counts), infinite values, constant and near-constant
  columns and high cardinality while a column has at most ``category_cap`` distinct
  values (exact category counts; past the cap a column cannot be constant and is
  past the cardinality threshold), out-of-range values against the previous version
  (a histogram whose edges are the previous min and max), unseen categories (counts
  of the previous version's categories plus one count of the rest), schema changes;
- sketched, the bound in the message: distinct counts past the cap (HLL, 3 standard
  deviations) for "high cardinality", "unique per row" and "duplicate ids", and the
  top value's share past the cap (frequent items, lower and upper bound);
- on the stored seeded sample of the version (as the in-memory check screens a
  sample of large frames): target leakage.

What needs whole rows compared across partitions cannot come from per-column
summaries: duplicate rows (and duplicate ids when the sketch cannot decide). Each
such check is a finding ``"not checked"`` (severity ``info``) that says why and how to
check it on a sample, so it is never silently missing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlops_nb.data._check import (
    _SEVERITY_ORDER,
    HIGH_CARDINALITY,
    ID_MIN_ROWS,
    LEAK_ERROR,
    LEAK_WARN,
    MISSING_ERROR,
    MISSING_WARN,
    NEAR_CONSTANT,
    _compare,
    _finding,
    _reading_notes,
    _show,
    single_feature_score,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data._asset import DataAsset
    from mlops_nb.data._schema import Schema

#: prefix of the categorical copy of a numeric column (its exact value counts)
_VALUES = "\x1fvalues:"
NOT_CHECKED = "not checked"


def _numeric_like(spec: Any, ranges: dict[str, Any]) -> bool:
    return spec.kind in ("numeric", "datetime") or (
        spec.kind == "id" and spec.name in ranges
    )


def _prepare(frame: pd.DataFrame, times: list[str], copies: list[str]) -> Any:
    """Turn times into float nanoseconds; add a copy of numeric columns to count."""
    from mlops_nb.data._large_profile import _as_numbers

    frame = _as_numbers(frame, times)
    if copies:
        frame = frame.assign(**{_VALUES + c: frame[c] for c in copies})
    return frame


def _range_edges(old: dict[str, Any]) -> tuple[float, float] | None:
    """Edges whose outer bins count the values below ``min`` and above ``max``."""
    import numpy as np

    lo, hi = old.get("min"), old.get("max")
    if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
        return None
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return None
    if hi == lo:  # below: v <= the float just under lo, i.e. v < lo
        return (float(np.nextafter(lo, -np.inf)), lo)
    return (lo, hi)


def _summarize(
    asset: DataAsset, prev: tuple[str, Schema, dict[str, Any]] | None
) -> tuple[Any, dict[str, Any]]:
    """Return the merged summary and the previous figures compared per column."""
    from mlops_nb.data._large import manifest
    from mlops_nb.data._summaries import ColumnSpec, SummarySpec
    from mlops_nb.data._summarize import summarize_dask

    ranges = manifest(asset).get("ranges") or {}
    schema = asset.schema
    prev_stats, prev_hists, rekinded = {}, {}, set()
    if prev is not None:
        _label, prev_schema, prev_profile = prev
        prev_stats = {c["column"]: c for c in prev_profile["columns"]}
        prev_hists = prev_profile["histograms"]
        rekinded = {
            n
            for n, old, new in schema.diff(prev_schema)["retyped"]
            if old.split("/")[0] != new.split("/")[0]
        }
    cols: dict[str, Any] = {}
    compared: dict[str, Any] = {}
    copies, times = [], []
    for c in schema.columns:
        old = None if c.name in rekinded else prev_stats.get(c.name)
        if _numeric_like(c, ranges):
            edges = _range_edges(old) if old and c.kind == "numeric" else None
            if edges is not None:
                compared[c.name] = old
            cols[c.name] = ColumnSpec("numeric", edges=edges)
            cols[_VALUES + c.name] = ColumnSpec("categorical")
            copies.append(c.name)
            if c.kind == "datetime":
                times.append(c.name)
            continue
        cats = None
        if old and c.kind in ("categorical", "boolean") and c.name in prev_hists:
            known = set(prev_hists[c.name]["labels"])
            if "(other)" not in known and old["unique"] <= len(known):
                cats = tuple(sorted(known))
                compared[c.name] = old
        cols[c.name] = ColumnSpec("categorical", categories=cats)
    spec = SummarySpec(cols, distinct=False)  # distinct counts: the copies' HLL
    ddf = asset.dask()
    if times or copies:
        meta = _prepare(ddf._meta, times, copies)
        ddf = ddf.map_partitions(_prepare, times, copies, meta=meta)
    summary = summarize_dask(ddf, spec)
    return summary, compared


def _values(figures: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the category figures of a column (its copy's, for numeric ones)."""
    return figures.get(_VALUES + name) or figures[name]


def _distinct(g: dict[str, Any]) -> tuple[float, float, float, bool]:
    d = g["distinct"]
    return float(d["estimate"]), float(d["lower"]), float(d["upper"]), bool(d["exact"])


def _about(g: dict[str, Any]) -> str:
    """Return the HLL bound of a sketched distinct count, for a message."""
    est, lo, hi, _ = _distinct(g)
    return (
        f"about {round(est):,} (HLL sketch; between {math.floor(lo):,} and "
        f"{math.ceil(hi):,} at {g['distinct'].get('std_devs', 3)} standard deviations)"
    )


def _value(key: Any, kind: str) -> Any:
    """Return a counted key as the value it spells (a number, a time, a string)."""
    import pandas as pd

    if key is None:
        return float("nan")
    if kind == "datetime":
        return pd.Timestamp(int(float(key)))
    if kind == "boolean" and key in ("True", "False"):
        return key == "True"
    if kind in ("numeric", "id"):
        try:
            return float(key)
        except ValueError:
            return key
    return key


def _column_findings(spec: Any, g: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Constant, near-constant and high-cardinality findings of one column."""
    out = []
    nulls = int(g["nulls"])
    est, _lo, _hi, exact = _distinct(g)
    exact = exact and g["exact_counts"]
    top = g["top"][0] if g["top"] else None
    if top is None or nulls >= int(top["count"]):
        top_key, top_count, top_lo, top_hi = None, nulls, nulls, nulls
    else:
        top_key, top_count = top["value"], int(top["count"])
        top_lo, top_hi = int(top["lower"]), int(top["upper"])
    n_values = int(est) + (nulls > 0)  # value_counts(dropna=False)
    shown = _show(_value(top_key, spec.kind))
    if exact and n_values == 1:
        severity = "info" if spec.role in ("time", "sensitive") else "warning"
        out.append(
            _finding(
                "constant column",
                severity,
                spec.name,
                f"every row holds the same value ({shown}); it carries no information.",
                1,
            )
        )
    elif top_count / n >= NEAR_CONSTANT and spec.role != "target":
        share = top_count / n
        bound = (
            ""
            if top_lo == top_hi
            else f" (frequent-items sketch: between {top_lo / n:.2%} and "
            f"{top_hi / n:.2%})"
        )
        out.append(
            _finding(
                "near-constant column",
                "info",
                spec.name,
                f"{share:.2%} of rows hold {shown}{bound}.",
                share,
            )
        )
    if spec.kind == "categorical" and (not exact or n_values > HIGH_CARDINALITY):
        count = f"{n_values:,}" if exact else _about(g)
        made = f"{n_values:,}" if exact else "about as many"
        out.append(
            _finding(
                "high cardinality",
                "warning",
                spec.name,
                f"{count} distinct values; one-hot encoding would make {made} "
                "features. Group rare values or mark it as 'text' or 'id'.",
                n_values,
            )
        )
    return out


def _unique_per_row(
    spec: Any, g: dict[str, Any], f: dict[str, Any], dtype: Any, n: int
) -> list[dict[str, Any]]:
    """Flag ``unique per row`` from the distinct count (exact, else its bound)."""
    import pandas as pd

    types = pd.api.types
    integer = types.is_integer_dtype(dtype) and not types.is_bool_dtype(dtype)
    text = types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    if n < ID_MIN_ROWS or not (integer or text) or g["nulls"]:
        return []
    est, lo, hi, exact = _distinct(g)
    if exact and g["exact_counts"]:
        if int(est) != n:
            return []
        bound = ""
    else:
        span = None
        if integer and f.get("min") is not None:
            span = f["max"] - f["min"] + 1  # n values need a range of n integers
        if not lo <= n <= hi or (span is not None and span < n):
            return []
        bound = f" (distinct values: {_about(g)}, for {n:,} rows)"
    return [
        _finding(
            "unique per row",
            "warning",
            spec.name,
            f"every row holds a different value, like an id{bound}, and the column "
            f"is a {spec.kind} feature: a model would learn row identities. "
            f"Declare it with id={spec.name!r} or kinds={{{spec.name!r}: 'id'}}, "
            "or drop it.",
        )
    ]


def _duplicate_ids(name: str, g: dict[str, Any], n: int) -> list[dict[str, Any]]:
    nulls = int(g["nulls"])
    est, _lo, hi, exact = _distinct(g)
    non_null = n - nulls
    if exact and g["exact_counts"]:
        count = (non_null - int(est)) + max(nulls - 1, 0)  # NaN repeats too
        if not count:
            return []
        msg = f"{count:,} id values repeat; an id must identify one row."
        return [_finding("duplicate ids", "error", name, msg, count)]
    if hi < non_null or nulls > 1:
        count = non_null - round(est) + max(nulls - 1, 0)
        msg = (
            f"id values repeat: {non_null:,} ids hold {_about(g)} distinct values"
            f"{f' and {nulls:,} are missing' if nulls else ''}; an id must "
            "identify one row."
        )
        return [_finding("duplicate ids", "error", name, msg, max(count, 1))]
    msg = (
        f"duplicate ids: {non_null:,} ids hold {_about(g)} distinct values, so the "
        "sketch cannot tell whether one repeats; that needs every id compared "
        "across partitions. Check a sample with asset.sample(n, seed=0).check()."
    )
    return [_finding(NOT_CHECKED, "info", name, msg)]


def _leakage(asset: DataAsset) -> list[dict[str, Any]]:
    """Single-feature leakage on the version's stored seeded sample."""
    from mlops_nb.data._large import preview

    schema = asset.schema
    if schema.target is None or not schema.task:
        return []
    sample = preview(asset)
    out = []
    for spec in schema.columns:
        if spec.role or spec.kind not in ("numeric", "categorical", "boolean"):
            continue
        score = single_feature_score(
            sample[spec.name], sample[schema.target], spec.kind, schema.task
        )
        if score is None or score < LEAK_WARN:
            continue
        out.append(
            _finding(
                "target leakage",
                "error" if score >= LEAK_ERROR else "warning",
                spec.name,
                f"this column alone predicts {schema.target!r} with a score of "
                f"{score:.3f} (1 = perfectly) on the version's seeded sample of "
                f"{len(sample):,} rows; check it is known before the outcome, or "
                "drop it.",
                score,
            )
        )
    return out


def _missing(name: str, nulls: int, n: int, target: str | None) -> dict[str, Any]:
    share = nulls / n
    severity = (
        "error"
        if share >= MISSING_ERROR
        else "warning"
        if share >= MISSING_WARN
        else "info"
    )
    if name == target:
        severity = "error" if share >= MISSING_WARN else "warning"
    return _finding(
        "missing values",
        severity,
        name,
        f"{nulls:,} of {n:,} values are missing ({share:.1%}).",
        share,
    )


def _against_previous(
    label: str,
    figures: dict[str, Any],
    counts_of: dict[str, dict[str, int] | None],
    compared: dict[str, Any],
    schema: Schema,
) -> list[dict[str, Any]]:
    """Out-of-range values and unseen categories, exact from the summaries."""
    out = []
    kinds = {c.name: c.kind for c in schema.columns}
    for name, old in compared.items():
        f = figures[name]
        if kinds[name] == "numeric":
            counts = f["histograms"]["bins"]["counts"]
            count = int(counts[0] + counts[-1])
            if count:
                out.append(
                    _finding(
                        "out of range",
                        "warning",
                        name,
                        f"{count:,} values fall outside {label}'s range "
                        f"[{old['min']:.4g}, {old['max']:.4g}].",
                        count,
                    )
                )
            continue
        count = int(f["reference_categories"]["other"])
        if not count:
            continue
        known = set(f["reference_categories"]["categories"])
        exact = counts_of.get(name)
        seen = set(exact) if exact is not None else {t["value"] for t in f["top"]}
        unseen = sorted(seen - known)
        more = " ..." if len(unseen) > 5 or exact is None else ""
        out.append(
            _finding(
                "unseen categories",
                "warning",
                name,
                f"{count:,} rows hold values not seen in {label}: "
                f"{', '.join(map(repr, unseen[:5]))}{more}.",
                count,
            )
        )
    return out


def large_check(asset: DataAsset) -> dict[str, Any]:
    """Return the check payload of a large version (see the module docstring).

    Returns
    -------
    dict
        ``findings`` (as :func:`~mlops_nb.data._check.run_checks` gives them, plus
        one ``"not checked"`` note per check that needs whole rows),
        ``compared_with`` and ``engine`` (``"summaries"``).
    """
    schema = asset.schema
    prev_asset = asset._previous()
    prev = None
    if prev_asset is not None:
        prev = (prev_asset.label, prev_asset.schema, prev_asset.profile().payload)
    summary, compared = _summarize(asset, prev)
    figures = summary.finalize()
    n = int(summary.rows)
    dtypes = asset.dask()._meta.dtypes
    findings: list[dict[str, Any]] = list(
        _reading_notes(asset.params.get("read") or {})
    )
    for spec in schema.columns:
        f, g = figures[spec.name], _values(figures, spec.name)
        if not n:
            break
        if f["kind"] == "numeric" and spec.kind != "datetime" and f["infinite"]:
            count = int(f["infinite"])
            findings.append(
                _finding(
                    "infinite values",
                    "error",
                    spec.name,
                    f"{count:,} of {n:,} values are infinite (+inf or -inf); "
                    "training refuses them. Replace them (e.g. with NaN, "
                    "frame[col].replace([np.inf, -np.inf], np.nan)) or fix the "
                    "division that made them.",
                    count,
                )
            )
        if not spec.role and spec.kind in ("numeric", "categorical", "boolean"):
            findings.extend(_unique_per_row(spec, g, f, dtypes[spec.name], n))
        if f["nulls"]:
            findings.append(_missing(spec.name, int(f["nulls"]), n, schema.target))
        findings.extend(_column_findings(spec, g, n))
    if n and schema.id is not None:
        findings.extend(_duplicate_ids(schema.id, _values(figures, schema.id), n))
    if n and any(c.name != schema.id for c in schema.columns):
        findings.append(
            _finding(
                NOT_CHECKED,
                "info",
                "",
                "duplicate rows: finding a row that repeats another needs whole rows "
                "compared across partitions, which per-column summaries cannot do. "
                "Check a sample with asset.sample(n, seed=0).check().",
            )
        )
    findings.extend(_leakage(asset))
    if prev is not None:
        label, prev_schema, _ = prev
        # the schema diff alone: no previous column figures, so no frame is read
        findings.extend(
            _compare(
                None, schema, label, prev_schema, {"columns": [], "histograms": {}}
            )  # type: ignore[arg-type]
        )
        counts_of = {
            name: getattr(summary.columns[name], "counts", None) for name in compared
        }
        findings.extend(_against_previous(label, figures, counts_of, compared, schema))
    findings.sort(
        key=lambda f: (_SEVERITY_ORDER[f["severity"]], f["check"], f["column"])
    )
    return {
        "findings": findings,
        "compared_with": prev[0] if prev else None,
        "engine": "summaries",
    }
