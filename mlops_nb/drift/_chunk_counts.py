"""The drift counts of a partition's chunks: numpy arrays, one pass per column.

What the drift statistics read of a chunk (:func:`mlops_nb.drift._binned.binned_drift`)
is only counts: per numeric column its value, null and infinite counts and its
histograms on the spec's edges (with the sums of the values in the two outer bins);
per categorical column its counts of the reference's categories (plus one of the
rest) and, under the spec's ``category_cap``, of each new category. These are the
same numbers :func:`mlops_nb.data._summarize.summarize_frame` records (numpy's
``searchsorted`` semantics, the last inner bin holding its right edge), computed
for every chunk of a partition at once (one ``bincount`` of chunk x bin) and
without the sketches (KLL, HLL) that drift does not use. Counts merge by addition.

Between processes they travel as numpy arrays (Dask's serialisation of arrays);
stored, as JSON with each array as base64 of its zlib-compressed little-endian
bytes (:func:`encode` / :func:`decode`): nothing is pickled.
"""

from __future__ import annotations

import base64
import zlib
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, ValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._summaries import Summary, SummarySpec


def bin_index(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return ``searchsorted(edges, v, "right")``, the right edge in the last bin.

    Equal-width edges (``linspace``: Doane's and the fine bins) are found by
    arithmetic and corrected against the edges themselves, so the result is the
    same as ``searchsorted``'s at a fraction of its cost; other edges use it.
    """
    import numpy as np

    n_e = len(edges)
    lo, hi, n = float(edges[0]), float(edges[-1]), n_e - 1
    idx = None
    if len(v) and n_e > 2 and np.array_equal(edges, np.linspace(lo, hi, n_e)):
        with np.errstate(invalid="ignore", over="ignore"):
            guess = np.floor((v - lo) * (n / (hi - lo)))
        idx = (np.clip(guess, -1, n) + 1).astype(np.int64)
        pad = np.concatenate([[-np.inf], edges, [np.inf]])
        for _ in range(4):  # rounding puts a value one bin off at most
            down = v < pad[idx]
            up = (v >= pad[idx + 1]) & (idx < n_e)  # +inf stays above the last
            if not (down.any() or up.any()):
                break
            idx -= down
            idx += up
        else:  # pragma: no cover - not seen; fall back to the definition
            idx = None
    if idx is None:
        idx = np.searchsorted(edges, v, side="right")
    idx[v == edges[-1]] = n_e - 1
    return idx


def _numeric(x: np.ndarray, codes: np.ndarray, m: int, cs: Any) -> dict[str, Any]:
    import numpy as np

    null = np.isnan(x)
    ok = ~null
    v, cc = (x[ok], codes[ok]) if null.any() else (x, codes)
    out: dict[str, Any] = {
        "n": np.bincount(cc, minlength=m),
        "nulls": np.bincount(codes[null], minlength=m),
        "n_inf": np.bincount(cc[~np.isfinite(v)], minlength=m),
    }
    for name, e in cs.edge_arrays().items():
        idx = bin_index(v, e)
        nb = len(e) + 1
        counts = np.bincount(cc * nb + idx, minlength=m * nb).reshape(m, nb)
        low, high = idx == 0, idx == nb - 1
        out[name] = counts
        out[name + "_below"] = np.bincount(cc[low], weights=v[low], minlength=m)
        out[name + "_above"] = np.bincount(cc[high], weights=v[high], minlength=m)
    return out


def _categorical(s: pd.Series, codes: np.ndarray, m: int, cs: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from mlops_nb.data._summarize import _key

    if isinstance(s.dtype, pd.CategoricalDtype):
        kc, uniques = s.cat.codes.to_numpy(), list(s.cat.categories)
    else:
        kc, u = pd.factorize(s, use_na_sentinel=True)
        uniques = list(u)
    keys = [_key(u) for u in uniques]
    names = list(dict.fromkeys(keys))  # 1 and 1.0 are one key
    where = {k: i for i, k in enumerate(names)}
    to_name = np.asarray([where[k] for k in keys], dtype=np.int64)
    ok = kc >= 0
    nk = len(names)
    kk = to_name[kc[ok]] if nk else kc[ok]
    counts = np.bincount(codes[ok] * nk + kk, minlength=m * nk).reshape(m, nk)
    cats = list(cs.categories or ())
    pos = {c: i for i, c in enumerate(cats)}
    at = np.asarray([pos.get(k, len(cats)) for k in names], dtype=np.int64)
    ref = np.zeros((m, len(cats) + 1), dtype=np.int64)
    np.add.at(ref.T, at, counts.T)
    new = [i for i, k in enumerate(names) if k not in pos]
    return {
        "n": counts.sum(axis=1),
        "nulls": np.bincount(codes[~ok], minlength=m),
        "ref": ref,
        "new": [{names[i]: int(row[i]) for i in new if row[i]} for row in counts],
    }


def frame_counts(
    frame: pd.DataFrame, codes: np.ndarray, m: int, spec: SummarySpec
) -> list[dict[str, Any]]:
    """Return each of ``m`` chunks' counts (``codes``: each row's chunk, -1 none).

    Raises
    ------
    SchemaError
        A spec column is missing, or a numeric column holds non-numbers.
    """
    from mlops_nb.data._summarize import numeric_values

    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        msg = f"summarize: column(s) {missing} not found; the data has {list(frame)}."
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    keep = codes >= 0
    if not keep.all():
        frame, codes = frame[keep], codes[keep]
    cols: dict[str, dict[str, Any]] = {}
    for name, cs in spec.columns.items():
        s = frame[name]
        if cs.kind == "numeric":
            x = numeric_values(s, name)
            cols[name] = _numeric(x, codes, m, cs)
        else:
            cols[name] = _categorical(s, codes, m, cs)
    out = [
        {name: {k: _at(v, c) for k, v in d.items()} for name, d in cols.items()}
        for c in range(m)
    ]
    for one in out:
        cap_counts(one, spec.category_cap)
    return out


def _at(v: Any, c: int) -> Any:
    """Chunk ``c``'s entry: a number, a dict of new categories, or an array's row."""
    if isinstance(v, list):
        return v[c]
    if v.ndim == 1:
        return int(v[c]) if v.dtype.kind == "i" else float(v[c])
    return v[c].copy()


def merge_counts(
    a: dict[str, Any], b: dict[str, Any], cap: int
) -> dict[str, dict[str, Any]]:
    """Return the counts of both chunks' rows (new categories: None past ``cap``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, x in a.items():
        y = b[name]
        if "ref" in x:
            new = None
            if x["new"] is not None and y["new"] is not None:
                new = dict(x["new"])
                for k, v in y["new"].items():
                    new[k] = new.get(k, 0) + v
            ref = x["ref"] + y["ref"]
            if new is not None and int((ref[:-1] > 0).sum()) + len(new) > cap:
                new = None
            out[name] = {"n": x["n"] + y["n"], "nulls": x["nulls"] + y["nulls"],
                         "ref": ref, "new": new}  # fmt: skip
        else:
            out[name] = {k: x[k] + y[k] for k in x}
    return out


def cap_counts(counts: dict[str, dict[str, Any]], cap: int) -> None:
    """Drop a chunk's new-category counts past ``cap`` distinct categories."""
    for d in counts.values():
        if (
            "ref" in d
            and d["new"] is not None
            and int((d["ref"][:-1] > 0).sum()) + len(d["new"]) > cap
        ):
            d["new"] = None


def to_summary(spec: SummarySpec, rows: int, counts: dict[str, Any]) -> Summary:
    """Return a :class:`Summary` of the counts (no moments, no sketches)."""
    from mlops_nb.data._summaries import (
        CategoricalSummary,
        Histogram,
        NumericSummary,
        Summary,
    )

    cols: dict[str, Any] = {}
    for name, cs in spec.columns.items():
        d = counts[name]
        if cs.kind == "numeric":
            hists = {
                h: Histogram(d[h], float(d[h + "_below"]), float(d[h + "_above"]))
                for h in cs.edge_arrays()
            }
            cols[name] = NumericSummary(
                n=int(d["n"]), nulls=int(d["nulls"]), n_inf=int(d["n_inf"]),
                hists=hists,
            )  # fmt: skip
        else:
            cats = list(cs.categories or ())
            seen = None
            if d["new"] is not None:
                known = zip(cats, d["ref"][:-1], strict=True)
                seen = {c: int(v) for c, v in known if v}
                seen |= d["new"]
            cols[name] = CategoricalSummary(
                n=int(d["n"]), nulls=int(d["nulls"]), counts=seen, ref=d["ref"]
            )
    return Summary(spec, int(rows), cols)


# -- stored as JSON ----------------------------------------------------------------
def _array(a: np.ndarray) -> dict[str, Any]:
    raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    packed = base64.b64encode(zlib.compress(raw, 1)).decode("ascii")
    return {"dtype": a.dtype.str.lstrip("<>|="), "shape": list(a.shape), "zb64": packed}


def _unarray(d: dict[str, Any]) -> np.ndarray:
    import numpy as np

    if d.get("dtype") not in ("i8", "f8"):
        msg = "stored drift counts hold an unknown array type; the report is damaged."
        raise ValidationError(msg)
    raw = zlib.decompress(base64.b64decode(d["zb64"].encode("ascii"), validate=True))
    return np.frombuffer(raw, dtype="<" + d["dtype"]).reshape(d["shape"]).copy()


def _walk(obj: Any, fn: Any, is_leaf: Any) -> Any:
    if is_leaf(obj):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _walk(v, fn, is_leaf) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk(v, fn, is_leaf) for v in obj]
    return obj


def encode(chunks: dict[str, Any]) -> dict[str, Any]:
    """Return per-chunk counts as JSON-ready data (arrays compressed, base64)."""
    import numpy as np

    return _walk(chunks, _array, lambda o: isinstance(o, np.ndarray))


def decode(data: dict[str, Any]) -> dict[str, Any]:
    """Rebuild :func:`encode`'s per-chunk counts."""
    return _walk(data, _unarray, _is_array)


def _is_array(o: Any) -> bool:
    """Tell an encoded array: exactly its three keys, the data as text.

    Category counts are keyed by the data's own values and hold numbers, so a new
    category named "zb64" is never taken for an array.
    """
    return (
        isinstance(o, dict)
        and o.keys() == {"dtype", "shape", "zb64"}
        and isinstance(o["zb64"], str)
    )
