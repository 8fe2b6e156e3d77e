"""A summary as JSON (no pickle), and its final figures with their bounds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlops_nb.data import _sketches as sk
from mlops_nb.data._summaries import (
    FORMAT,
    HLL_STD_DEVS,
    VERSION,
    CategoricalSummary,
    ColumnSummary,
    Histogram,
    NumericSummary,
    Summary,
    SummarySpec,
)
from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

#: quantiles reported by :func:`finalize`
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP = 20


def _num(v: float | None) -> Any:
    """JSON has no inf/NaN: write them as strings."""
    if v is None or math.isfinite(v):
        return v
    return repr(float(v))


def _unnum(v: Any) -> float | None:
    return None if v is None else float(v)


def to_dict(s: Summary) -> dict[str, Any]:
    """See :meth:`Summary.to_dict`."""
    cols: dict[str, Any] = {}
    for name, c in s.columns.items():
        if isinstance(c, NumericSummary):
            cols[name] = {
                "n": c.n,
                "nulls": c.nulls,
                "n_inf": c.n_inf,
                "mean": c.mean,
                "m2": c.m2,
                "m3": c.m3,
                "min": _num(c.min),
                "max": _num(c.max),
                "hists": {
                    k: {
                        "counts": h.counts.tolist(),
                        "below_sum": _num(h.below_sum),
                        "above_sum": _num(h.above_sum),
                    }
                    for k, h in c.hists.items()
                },
                "kll": _b64(sk.dump(c.kll)),
                "hll": None if c.hll is None else _b64(sk.dump(c.hll)),
            }
        else:
            cols[name] = {
                "n": c.n,
                "nulls": c.nulls,
                "counts": c.counts,
                "fi": None if c.fi is None else _b64(sk.dump(c.fi)),
                "ref": None if c.ref is None else c.ref.tolist(),
                "hll": _b64(sk.dump(c.hll)),
            }
    return {
        "format": FORMAT,
        "version": VERSION,
        "spec": s.spec.to_dict(),
        "rows": s.rows,
        "columns": cols,
    }


def _b64(raw: bytes) -> str:
    from mlops_nb.data._summaries import _b64 as enc

    return enc(raw)


def _sketch(kind: str, text: str | None, where: str) -> Any:
    from mlops_nb.data._summaries import _unb64

    return None if text is None else sk.load(kind, _unb64(text, where))


def from_dict(data: dict[str, Any]) -> Summary:
    """See :meth:`Summary.from_dict`."""
    import numpy as np

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        msg = f"Summary.from_dict: not a summary (expected format {FORMAT!r})."
        raise ValidationError(msg)
    if data.get("version") != VERSION:
        msg = (
            f"Summary.from_dict: format version {data.get('version')!r}; this "
            f"mlops_nb reads version {VERSION}. Summarise the data again."
        )
        raise ValidationError(msg)
    spec = SummarySpec.from_dict(data["spec"])
    cols: dict[str, ColumnSummary] = {}
    try:
        for name, c in data["columns"].items():
            if spec.columns[name].kind == "numeric":
                cols[name] = NumericSummary(
                    n=int(c["n"]),
                    nulls=int(c["nulls"]),
                    n_inf=int(c["n_inf"]),
                    mean=float(c["mean"]),
                    m2=float(c["m2"]),
                    m3=float(c["m3"]),
                    min=_unnum(c["min"]),
                    max=_unnum(c["max"]),
                    hists={
                        k: Histogram(
                            np.asarray(h["counts"], dtype=np.int64),
                            float(h["below_sum"]),
                            float(h["above_sum"]),
                        )
                        for k, h in c["hists"].items()
                    },
                    kll=_sketch("kll", c["kll"], f"{name}.kll"),
                    hll=_sketch("hll", c["hll"], f"{name}.hll"),
                )
            else:
                ref = c["ref"]
                cols[name] = CategoricalSummary(
                    n=int(c["n"]),
                    nulls=int(c["nulls"]),
                    counts=None
                    if c["counts"] is None
                    else {str(k): int(v) for k, v in c["counts"].items()},
                    fi=_sketch("fi", c["fi"], f"{name}.fi"),
                    ref=None if ref is None else np.asarray(ref, dtype=np.int64),
                    hll=_sketch("hll", c["hll"], f"{name}.hll"),
                )
    except (KeyError, TypeError) as err:
        msg = f"Summary.from_dict: a field is missing or of the wrong type ({err})."
        raise ValidationError(msg) from err
    if set(cols) != set(spec.columns):
        msg = "Summary.from_dict: the columns do not match the summary's spec."
        raise ValidationError(msg)
    return Summary(spec, int(data["rows"]), cols)


def _distinct(hll: Any) -> dict[str, Any]:
    if hll is None:
        return {"estimate": None, "lower": None, "upper": None, "exact": False}
    return {
        "estimate": float(hll.get_estimate()),
        "lower": float(hll.get_lower_bound(HLL_STD_DEVS)),
        "upper": float(hll.get_upper_bound(HLL_STD_DEVS)),
        "exact": False,
        "std_devs": HLL_STD_DEVS,
    }


def _numeric(c: NumericSummary, edges: dict[str, np.ndarray]) -> dict[str, Any]:
    nf = c.n - c.n_inf
    var = c.m2 / (nf - 1) if nf > 1 else None
    skew = None
    if nf > 2 and c.m2 > 0:
        skew = math.sqrt(nf) * c.m3 / c.m2**1.5  # g1, as Doane's rule uses it
    quantiles: dict[str, Any] = {}
    if not c.kll.is_empty():
        quantiles = {
            "values": {str(q): float(c.kll.get_quantile(q)) for q in QUANTILES},
            "rank_error": float(c.kll.normalized_rank_error(False)),
            "exact": not c.kll.is_estimation_mode(),
        }
    return {
        "kind": "numeric",
        "count": c.n,
        "nulls": c.nulls,
        "infinite": c.n_inf,
        "mean": c.mean if nf else None,
        "var": var,
        "std": None if var is None else math.sqrt(var),
        "skewness": skew,
        "min": c.min,
        "max": c.max,
        "histograms": {
            k: {
                "edges": edges[k].tolist(),
                "counts": h.counts.tolist(),
                "below_sum": h.below_sum,
                "above_sum": h.above_sum,
            }
            for k, h in c.hists.items()
        },
        "quantiles": quantiles,
        "distinct": _distinct(c.hll),
    }


def _categorical(c: CategoricalSummary, spec_cats: Any) -> dict[str, Any]:
    if c.counts is not None:
        ranked = sorted(c.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        top = [{"value": k, "count": v, "lower": v, "upper": v} for k, v in ranked]
        distinct = {
            "estimate": float(len(c.counts)),
            "lower": float(len(c.counts)),
            "upper": float(len(c.counts)),
            "exact": True,
        }
    else:
        err = sk.ds().frequent_items_error_type.NO_FALSE_NEGATIVES
        items = sorted(c.fi.get_frequent_items(err), key=lambda t: (-t[1], t[0]))[:TOP]
        top = [
            {"value": k, "count": int(est), "lower": int(lo), "upper": int(hi)}
            for k, est, lo, hi in items
        ]
        distinct = _distinct(c.hll)
    out: dict[str, Any] = {
        "kind": "categorical",
        "count": c.n,
        "nulls": c.nulls,
        "exact_counts": c.counts is not None,
        "top": top,
        "distinct": distinct,
    }
    if c.ref is not None:
        out["reference_categories"] = {
            "categories": list(spec_cats),
            "counts": c.ref[:-1].tolist(),
            "other": int(c.ref[-1]),
        }
    return out


def finalize(s: Summary) -> dict[str, dict[str, Any]]:
    """See :meth:`Summary.finalize`."""
    out = {}
    for name, c in s.columns.items():
        cs = s.spec.columns[name]
        if isinstance(c, NumericSummary):
            out[name] = _numeric(c, cs.edge_arrays())
        else:
            out[name] = _categorical(c, cs.categories)
    return out
