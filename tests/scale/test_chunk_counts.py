"""Drift counts of a partition's chunks equal the summary protocol's, in any cut.

:mod:`mlops_nb.drift._chunk_counts` computes every chunk of a partition at once,
with equal-width bins found by arithmetic; merged over random partitionings they
must equal :func:`summarize_frame` of each chunk's rows (counts bit for bit, the
outer bins' sums within rounding, new categories up to the cap), and the stored
JSON form must give the same arrays back.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_nb.data._summarize import summarize_frame
from mlops_nb.drift._binned import binned_drift, drift_spec
from mlops_nb.drift._chunk_counts import (
    bin_index,
    decode,
    encode,
    frame_counts,
    merge_counts,
    to_summary,
)


@st.composite
def edges_and_values(draw):
    lo = draw(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
    width = draw(st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False))
    n = draw(st.integers(1, 20_000))
    edges = np.linspace(lo, lo + width, n + 1)
    if len(np.unique(edges)) < len(edges):
        edges = np.linspace(lo, lo + width * n, n + 1)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    inside = rng.uniform(edges[0] - width, edges[-1] + width, 2_000)
    on = rng.choice(edges, 500)
    near = np.concatenate([np.nextafter(on, np.inf), np.nextafter(on, -np.inf)])
    return edges, np.concatenate([inside, on, near, [np.inf, -np.inf, edges[-1]]])


@settings(max_examples=40, deadline=None)
@given(edges_and_values())
def test_equal_width_bins_by_arithmetic_equal_searchsorted(case):
    edges, v = case
    want = np.searchsorted(edges, v, side="right")
    want[v == edges[-1]] = len(edges) - 1
    assert np.array_equal(bin_index(v, edges), want)


def _frame(rng: np.random.Generator, n: int, categorical: bool) -> pd.DataFrame:
    x = rng.normal(0, 2, n)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.02] = np.inf
    x[rng.random(n) < 0.02] = -np.inf
    levels = ["a", "b", "c", "new1", "new2", "1", "2.5"]
    c = pd.Series(rng.choice(levels, n), dtype=object)
    c[rng.random(n) < 0.1] = None
    whole_null = rng.random() < 0.3  # sometimes a column of nulls only
    return pd.DataFrame(
        {
            "x": np.full(n, np.nan) if whole_null else x,
            "z": rng.exponential(1, n),
            "c": c.astype("category") if categorical else c,
            "k": rng.integers(0, 4, n).astype(float),  # 1.0 and "1" are one key
        }
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3_000),
    chunks=st.integers(1, 5),
    parts=st.integers(1, 6),
    categorical=st.booleans(),
    cap=st.sampled_from([2, 5, 1000]),
)
def test_merged_counts_equal_each_chunks_summary(
    seed, n, chunks, parts, categorical, cap
):
    rng = np.random.default_rng(seed)
    ref = _frame(np.random.default_rng(seed + 1), 500, False).dropna(subset=["x"])
    ref = ref if len(ref) else _frame(np.random.default_rng(0), 500, False)
    ref = ref.assign(c=ref["c"].where(ref["c"].isin(["a", "b", "c"])))
    kinds = {"x": "continuous", "z": "continuous", "c": "categorical",
             "k": "categorical"}  # fmt: skip
    spec = drift_spec(ref, kinds, category_cap=cap)
    frame = _frame(rng, n, categorical)
    codes = rng.integers(-1 if rng.random() < 0.3 else 0, chunks, n)  # -1: no chunk
    cuts = np.sort(rng.integers(0, n + 1, parts - 1))
    merged: list = [None] * chunks
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        got = frame_counts(frame.iloc[a:b], codes[a:b], chunks, spec)
        for c in range(chunks):
            merged[c] = (
                got[c] if merged[c] is None else merge_counts(merged[c], got[c], cap)
            )
    for c in range(chunks):
        rows = codes == c
        want = summarize_frame(frame[rows], spec)
        got = to_summary(spec, int(rows.sum()), merged[c])
        for col in ("x", "z"):
            w, g = want.columns[col], got.columns[col]
            assert (g.n, g.nulls, g.n_inf) == (w.n, w.nulls, w.n_inf)
            for h, wh in w.hists.items():
                assert np.array_equal(g.hists[h].counts, wh.counts)
                assert g.hists[h].below_sum == pytest.approx(wh.below_sum, rel=1e-12)
                assert g.hists[h].above_sum == pytest.approx(wh.above_sum, rel=1e-12)
        for col in ("c", "k"):
            w, g = want.columns[col], got.columns[col]
            assert (g.n, g.nulls) == (w.n, w.nulls)
            assert np.array_equal(g.ref, w.ref)
            assert g.counts == w.counts  # None past the cap on both sides
        whole = summarize_frame(ref, spec)
        for col in kinds:
            with np.errstate(invalid="ignore"):  # infinite values: NaN Wasserstein
                a, b = binned_drift(whole, want, col), binned_drift(whole, got, col)
            for stat, value in a.items():
                if isinstance(value, float) and not np.isnan(value):
                    assert b[stat] == pytest.approx(value, rel=1e-9, abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunks=st.integers(1, 4))
def test_stored_counts_come_back_equal(seed, chunks):
    rng = np.random.default_rng(seed)
    frame = _frame(rng, 400, False)
    spec = drift_spec(frame.dropna(subset=["x"]).iloc[:200], {"z": "continuous",
                      "c": "categorical"})  # fmt: skip
    got = frame_counts(frame, rng.integers(0, chunks, 400), chunks, spec)
    data = {str(c): {"counts": got[c], "rows": 1} for c in range(chunks)}
    back = decode(json.loads(json.dumps(encode(data))))
    for c in range(chunks):
        for col, d in data[str(c)]["counts"].items():
            for key, value in d.items():
                other = back[str(c)]["counts"][col][key]
                if isinstance(value, np.ndarray):
                    assert other.dtype == value.dtype
                    assert np.array_equal(other, value)
                else:
                    assert other == value


@pytest.mark.parametrize(
    "new",
    [{"zb64": 3}, {"dtype": 1, "shape": 2, "zb64": 4}, {"zb64": 5, "a": 1}],
)
def test_categories_named_like_the_array_encoding_come_back_as_counts(new):
    """New categories are keyed by the data's own values: "zb64" is one too."""
    data = {"2026-01-02": {"counts": {"c": {"new": dict(new), "ref": np.arange(3)}}}}
    back = decode(json.loads(json.dumps(encode(data))))
    got = back["2026-01-02"]["counts"]["c"]
    assert got["new"] == new
    assert np.array_equal(got["ref"], np.arange(3))
