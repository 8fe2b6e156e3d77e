"""Mergeable summaries: any partitioning merges to the whole; pandas/numpy agree."""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.data._summaries import (
    ColumnSpec,
    Summary,
    SummarySpec,
    empty,
    merge_all,
)
from mlops_nb.data._summarize import (
    summarize_dask,
    summarize_frame,
    summarize_parquet,
)
from mlops_nb.errors import SchemaError, ValidationError

EDGES = (-500.0, -10.0, 0.0, 0.5, 10.0, 500.0)
CATS = [f"k{i}" for i in range(12)]


def _spec(cap: int = 5) -> SummarySpec:
    return SummarySpec(
        {
            "x": ColumnSpec("numeric", edges=EDGES, fine=(-1000.0, 1000.0, 50)),
            "allnull": ColumnSpec("numeric", edges=EDGES),
            "c": ColumnSpec("categorical", categories=("k0", "k1", "k2")),
        },
        category_cap=cap,
    )


values = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.integers(-5, 5).map(float),
    st.sampled_from(EDGES),  # values on the edges
)


@st.composite
def partitioned(draw):
    n = draw(st.integers(0, 40))
    x = draw(st.lists(values, min_size=n, max_size=n))
    c = draw(
        st.lists(st.one_of(st.none(), st.sampled_from(CATS)), min_size=n, max_size=n)
    )
    frame = pd.DataFrame(
        {
            "x": pd.Series([np.nan if v is None else v for v in x], dtype="float64"),
            "allnull": np.full(n, np.nan),
            "c": pd.Series(c, dtype=object),
        }
    )
    # repeated cuts make empty partitions; neighbours one apart make single rows
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=8)))
    bounds = [0, *cuts, n]
    parts = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    order = draw(st.permutations(range(len(parts))))
    return frame, [parts[i] for i in order], draw(st.integers(0, 2**16))


def _random_tree(summaries: list[Summary], seed: int) -> Summary:
    rng = random.Random(seed)
    level = list(summaries)
    while len(level) > 1:
        i = rng.randrange(len(level) - 1)
        level[i : i + 2] = [level[i].merge(level[i + 1])]
    return level[0]


def _close(a: float, b: float, scale: float) -> bool:
    """Rounding-level equality: 1e-12 of the data's own scale."""
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12 * max(scale, 1e-300))


def _assert_same(a: Summary, b: Summary) -> None:
    assert a.rows == b.rows
    for name, ca in a.columns.items():
        cb = b.columns[name]
        assert (ca.n, ca.nulls) == (cb.n, cb.nulls)
        if a.spec.columns[name].kind == "numeric":
            assert (ca.min, ca.max, ca.n_inf) == (cb.min, cb.max, cb.n_inf)
            scale = max(abs(ca.min or 0), abs(ca.max or 0), 1.0)
            nf = max(ca.n - ca.n_inf, 1)
            assert _close(ca.mean, cb.mean, scale)
            assert _close(ca.m2, cb.m2, nf * scale**2)
            assert _close(ca.m3, cb.m3, nf * scale**3)
            for k, h in ca.hists.items():
                assert h.counts.tolist() == cb.hists[k].counts.tolist()
                assert _close(h.below_sum, cb.hists[k].below_sum, nf * scale)
                assert _close(h.above_sum, cb.hists[k].above_sum, nf * scale)
            assert ca.kll.n == cb.kll.n
        else:
            assert ca.counts == cb.counts  # both exact (equal) or both past the cap
            assert ca.ref.tolist() == cb.ref.tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(partitioned(), st.sampled_from([3, 5, 20]))
def test_any_partitioning_merges_to_the_summary_of_the_whole(case, cap):
    frame, parts, seed = case
    spec = _spec(cap)
    whole = summarize_frame(frame, spec)
    merged = _random_tree([summarize_frame(p, spec) for p in parts], seed)
    _assert_same(merged, whole)
    _assert_same(merge_all([empty(spec), merged, empty(spec)]), whole)
    # serialised without pickle: JSON + sketch bytes, and back
    back = Summary.from_dict(json.loads(json.dumps(merged.to_dict())))
    _assert_same(back, whole)
    assert (
        back.finalize() == merged.finalize()
    )  # sketches too (their bytes may reorder)


@settings(max_examples=60, deadline=None)
@given(partitioned())
def test_figures_equal_numpy_and_pandas(case):
    frame, parts, seed = case
    spec = _spec(cap=5)
    fig = _random_tree([summarize_frame(p, spec) for p in parts], seed).finalize()
    x = frame["x"].dropna().to_numpy()
    f = fig["x"]
    assert (f["count"], f["nulls"]) == (len(x), int(frame["x"].isna().sum()))
    if len(x):
        scale = max(np.abs(x).max(), 1.0)
        assert (f["min"], f["max"]) == (x.min(), x.max())
        assert _close(f["mean"], frame["x"].mean(), scale)
    if len(x) > 1:
        assert _close(f["var"], frame["x"].var(ddof=1), len(x) * scale**2)
    else:
        assert f["var"] is None
    for key, edges in (
        ("bins", np.array(EDGES)),
        ("fine", np.linspace(-1000, 1000, 51)),
    ):
        counts = f["histograms"][key]["counts"]
        assert counts[1:-1] == np.histogram(x, bins=edges)[0].tolist()
        assert counts[0] == int((x < edges[0]).sum())
        assert counts[-1] == int((x > edges[-1]).sum())
    assert fig["allnull"]["count"] == 0
    assert fig["allnull"]["nulls"] == len(frame)
    assert fig["allnull"]["mean"] is None
    assert fig["allnull"]["min"] is None
    assert sum(fig["allnull"]["histograms"]["bins"]["counts"]) == 0
    vc = frame["c"].value_counts()
    c = fig["c"]
    assert (c["count"], c["nulls"]) == (int(vc.sum()), int(frame["c"].isna().sum()))
    assert c["exact_counts"] == (len(vc) <= 5)
    if c["exact_counts"]:
        assert {t["value"]: t["count"] for t in c["top"]} == vc.to_dict()
        assert c["distinct"]["estimate"] == len(vc)
    else:  # past the cap: every true count inside the sketch's bounds
        assert c["top"]
        for t in c["top"]:
            assert t["lower"] <= vc[t["value"]] <= t["upper"]
    ref = c["reference_categories"]
    assert ref["counts"] == [int(vc.get(k, 0)) for k in ("k0", "k1", "k2")]
    assert ref["other"] == int(vc.sum()) - sum(ref["counts"])


@pytest.mark.parametrize("seed", range(3))
def test_sketched_quantiles_and_distinct_counts_stay_within_their_bounds(seed):
    rng = np.random.default_rng(seed)
    n = 60_000
    x = np.concatenate([rng.lognormal(0, 1, n // 2), rng.integers(0, 30_000, n // 2)])
    rng.shuffle(x)
    frame = pd.DataFrame({"x": x})
    spec = SummarySpec({"x": ColumnSpec("numeric")}, kll_k=100, hll_lg_k=10)
    cuts = np.sort(rng.integers(0, n, 12))
    parts = np.split(np.arange(n), cuts)
    merged = _random_tree([summarize_frame(frame.iloc[p], spec) for p in parts], seed)
    q = merged.finalize()["x"]["quantiles"]
    assert not q["exact"]  # past the sketch's size: really estimated
    eps = q["rank_error"]
    for level, v in q["values"].items():
        below, upto = (x < v).mean(), (x <= v).mean()
        assert below - eps <= float(level) <= upto + eps
    d = merged.finalize()["x"]["distinct"]
    true = len(np.unique(x))
    assert d["lower"] <= true <= d["upper"]
    assert d["upper"] - d["lower"] < 0.5 * true  # a bound that says something


def test_frequent_items_past_the_cap_bound_every_true_count():
    rng = np.random.default_rng(0)
    # a few heavy categories and a long tail far past the cap and the sketch size
    heavy = rng.choice(["a", "b", "c"], 30_000, p=[0.5, 0.3, 0.2])
    tail = np.array([f"t{i}" for i in rng.integers(0, 5_000, 20_000)])
    s = pd.Series(np.concatenate([heavy, tail]))
    s = s.sample(frac=1, random_state=0).reset_index(drop=True)
    spec = SummarySpec({"s": ColumnSpec("categorical")}, category_cap=50, fi_lg_max_k=6)
    parts = [
        summarize_frame(pd.DataFrame({"s": s.iloc[i : i + 7_000]}), spec)
        for i in range(0, len(s), 7_000)
    ]
    fig = _random_tree(parts, 1).finalize()["s"]
    assert not fig["exact_counts"]
    vc = s.value_counts()
    assert [t["value"] for t in fig["top"][:3]] == ["a", "b", "c"]
    for t in fig["top"]:
        assert t["lower"] <= vc[t["value"]] <= t["upper"]
    assert fig["distinct"]["lower"] <= len(vc) <= fig["distinct"]["upper"]


def test_parquet_batch_loop_and_dask_equal_the_whole_frame(tmp_path):
    import dask
    import dask.dataframe as dd

    rng = np.random.default_rng(1)
    n = 5_000
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 100, n)),
            "allnull": np.full(n, np.nan),
            "c": pd.Series(rng.choice(CATS, n), dtype=object).where(
                rng.random(n) > 0.05
            ),
        }
    )
    for i, a in enumerate(range(0, n, 1_000)):
        frame.iloc[a : a + 1_000].to_parquet(
            tmp_path / f"part-{i}.parquet", row_group_size=300
        )
    spec = _spec(cap=20)
    whole = summarize_frame(frame, spec)
    _assert_same(summarize_parquet(tmp_path, spec, batch_size=256), whole)
    _assert_same(summarize_parquet(str(tmp_path / "part-*.parquet"), spec), whole)
    ddf = dd.from_pandas(frame, npartitions=7)
    with dask.config.set(scheduler="synchronous"):
        _assert_same(summarize_dask(ddf, spec, split_every=3), whole)


def test_bad_input_names_what_is_wrong(tmp_path):
    spec = _spec()
    with pytest.raises(SchemaError, match="'c'"):
        summarize_frame(pd.DataFrame({"x": [1.0], "allnull": [np.nan]}), spec)
    with pytest.raises(SchemaError, match="'x' is numeric"):
        summarize_frame(pd.DataFrame({"x": ["a"], "allnull": [1.0], "c": ["k"]}), spec)
    other = _spec(cap=9)
    with pytest.raises(ValidationError, match="different specs"):
        empty(spec).merge(empty(other))
    with pytest.raises(ValidationError, match="edges"):
        SummarySpec({"x": ColumnSpec("numeric", edges=(1.0, 1.0))})
    data = empty(spec).to_dict()
    data["columns"]["x"]["kll"] = "bm90IGEgc2tldGNo"  # base64 of junk
    with pytest.raises(ValidationError, match="kll"):
        Summary.from_dict(data)
    with pytest.raises(ValidationError, match="not a summary"):
        Summary.from_dict({"format": "pickle"})
