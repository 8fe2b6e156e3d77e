"""Drift from merged summaries equals the in-memory path, nannyml and scipy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as st_
from scipy.spatial.distance import jensenshannon

from mlops_nb._offline import import_nannyml
from mlops_nb.data._summaries import merge_all
from mlops_nb.data._summarize import summarize_frame
from mlops_nb.drift import _univariate as uni
from mlops_nb.drift._binned import binned_drift, drift_spec
from mlops_nb.errors import ValidationError

KINDS = {"a": "continuous", "b": "continuous", "cat": "categorical"}


def _frame(n: int, shift: float, seed: int, *, new: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1, n)
    a[rng.random(n) < 0.02] = np.nan
    cats = list("xyzw") + (["new1", "new2"] if new else [])
    p = np.array([0.4, 0.3, 0.2, 0.1] + ([0.05, 0.05] if new else []))
    return pd.DataFrame(
        {
            "a": a,
            "b": rng.lognormal(shift, 1, n),
            "cat": pd.Series(rng.choice(cats, n, p=p / p.sum()), dtype=object),
        }
    )


def _chunk_summary(ana, spec, seed):
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, len(ana), 9))
    parts = np.split(np.arange(len(ana)), cuts)  # some may be empty
    return merge_all([summarize_frame(ana.iloc[p], spec) for p in parts])


def _in_memory(ref, ana):
    one = uni._Series(np.zeros(len(ana), dtype=np.intp), 1)
    out = {}
    for col, kind in KINDS.items():
        if kind == "continuous":
            r = ref[col].to_numpy(dtype="float64", na_value=np.nan)
            x = ana[col].to_numpy(dtype="float64", na_value=np.nan)
            res, _ = uni.continuous(r, [(x, one)], uni.CONTINUOUS, exact=False)
        else:
            res, _ = uni.categorical(ref[col], [(ana[col], one)], uni.CATEGORICAL)
        out[col] = {k: float(v[0]) for k, v in res[0].items()}
    return out


@pytest.mark.parametrize(
    ("shift", "new", "seed"), [(0.0, False, 0), (0.4, True, 1), (-1.5, True, 2)]
)
def test_binned_statistics_equal_the_in_memory_path_on_the_same_bins(shift, new, seed):
    ref = _frame(20_000, 0.0, 100 + seed)
    ana = _frame(15_000, shift, seed, new=new)
    spec = drift_spec(ref, KINDS, category_cap=50)
    ref_s = summarize_frame(ref, spec)
    ana_s = _chunk_summary(ana, spec, seed)
    mem = _in_memory(ref, ana)
    for col, kind in KINDS.items():
        ours = binned_drift(ref_s, ana_s, col)
        same = ("jensen_shannon", "hellinger", "psi")
        same += ("chi2", "chi2_p_value", "l_infinity") if kind != "continuous" else ()
        for stat in same:
            assert ours[stat] == pytest.approx(mem[col][stat], abs=1e-9), (col, stat)
        if kind == "continuous":
            # ours also looks at the boundary below the reference's minimum
            x = ana[col].dropna().to_numpy()
            below = (x < ref[col].min()).mean()
            assert ours["kolmogorov_smirnov"] == pytest.approx(
                max(mem[col]["kolmogorov_smirnov"], below), abs=1e-9
            )
        else:
            assert ours["new_categories_apart"]


def test_binned_statistics_equal_nannyml_on_nannymls_own_bins():
    ref, ana = _frame(20_000, 0.0, 7), _frame(12_000, 0.3, 8, new=True)
    spec = drift_spec(ref, KINDS)
    ref_s, ana_s = summarize_frame(ref, spec), _chunk_summary(ana, spec, 3)
    nml = import_nannyml()
    calc = nml.UnivariateDriftCalculator(
        column_names=list(KINDS),
        treat_as_categorical=["cat"],
        chunk_size=len(ana),
        continuous_methods=["jensen_shannon", "hellinger", "kolmogorov_smirnov"],
        categorical_methods=["jensen_shannon", "hellinger", "l_infinity", "chi2"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc.fit(ref)
        theirs = calc.calculate(ana).filter(period="analysis").to_df()
    checked = 0
    for col, kind in KINDS.items():
        ours = binned_drift(ref_s, ana_s, col)
        stats = ["jensen_shannon", "hellinger"]
        stats += ["l_infinity", "chi2"] if kind == "categorical" else []
        below = (
            (ana[col].dropna() < ref[col].min()).mean() if kind == "continuous" else 1
        )
        if below == 0:  # no value below the reference: D is nannyml's exactly
            stats.append("kolmogorov_smirnov")
        for stat in stats:
            val = theirs[(col, stat, "value")].iloc[0]
            assert ours[stat] == pytest.approx(val, abs=1e-9), (col, stat)
            checked += 1
    assert checked >= 9


@settings(max_examples=15, deadline=None)
@given(
    st.integers(50, 3_000),
    st.integers(1, 3_000),
    st.floats(-2, 2),
    st.floats(0.3, 3),
    st.integers(0, 2**16),
)
def test_binned_statistics_against_scipy_within_their_bounds(
    n_ref, n, loc, scale, seed
):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {"a": rng.normal(0, 1, n_ref), "cat": rng.choice(list("xyz"), n_ref)}
    )
    ana = pd.DataFrame(
        {
            "a": rng.normal(loc, scale, n).round(rng.integers(0, 3)),  # ties too
            "cat": rng.choice(list("xyzq"), n),
        }
    )
    spec = drift_spec(ref, {"a": "continuous", "cat": "categorical"}, fine_bins=500)
    ref_s, ana_s = summarize_frame(ref, spec), _chunk_summary(ana, spec, seed)
    ours = binned_drift(ref_s, ana_s, "a")
    exact_d = st_.ks_2samp(ref["a"], ana["a"]).statistic
    assert ours["kolmogorov_smirnov"] <= exact_d + 1e-12
    assert (
        exact_d <= ours["kolmogorov_smirnov"] + ours["kolmogorov_smirnov_bound"] + 1e-12
    )
    w = st_.wasserstein_distance(ref["a"], ana["a"])
    assert abs(ours["wasserstein"] - w) <= ours["wasserstein_bound"] + 1e-9
    # Jensen-Shannon: scipy's on the same shares (reference bins + one outside bin)
    edges = np.asarray(spec.columns["a"].edges)
    r = np.histogram(ref["a"], edges)[0] / n_ref
    counts = np.histogram(ana["a"], edges)[0]
    outside = (n - counts.sum()) / n  # from counts: 1 - sum(shares) can be -1e-17
    js = jensenshannon(np.append(r, 0.0), np.append(counts / n, outside), base=2)
    assert ours["jensen_shannon"] == pytest.approx(js, abs=1e-9)
    cat = binned_drift(ref_s, ana_s, "cat")
    table = pd.concat([ref["cat"].value_counts(), ana["cat"].value_counts()], axis=1)
    stat, p, _, _ = st_.chi2_contingency(table.fillna(0).to_numpy())
    assert cat["chi2"] == pytest.approx(stat, rel=1e-9)
    assert cat["chi2_p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)


def test_planted_shift_is_large_and_clean_data_small():
    ref = _frame(20_000, 0.0, 1)
    spec = drift_spec(ref, KINDS)
    ref_s = summarize_frame(ref, spec)
    clean = binned_drift(ref_s, _chunk_summary(_frame(10_000, 0.0, 2), spec, 0), "a")
    shifted = binned_drift(ref_s, _chunk_summary(_frame(10_000, 0.5, 3), spec, 0), "a")
    assert clean["jensen_shannon"] < 0.05 < shifted["jensen_shannon"]
    assert clean["kolmogorov_smirnov"] < 0.03 < 0.15 < shifted["kolmogorov_smirnov"]
    assert shifted["wasserstein"] == pytest.approx(0.5, abs=0.05)


def test_mismatched_summaries_are_refused():
    ref = _frame(500, 0.0, 1)
    spec = drift_spec(ref, KINDS)
    other = drift_spec(_frame(500, 1.0, 2), KINDS)
    with pytest.raises(ValidationError, match="one spec"):
        binned_drift(summarize_frame(ref, spec), summarize_frame(ref, other), "a")
    with pytest.raises(ValidationError, match="'zz'"):
        binned_drift(summarize_frame(ref, spec), summarize_frame(ref, spec), "zz")
