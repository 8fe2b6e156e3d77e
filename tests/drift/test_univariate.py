"""Our vectorised statistics against nannyml, scipy, planted drift and clean data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _drift_helpers import scenario_frames
from scipy import stats as st

from mlops_nb._offline import import_nannyml
from mlops_nb.drift import univariate_drift
from mlops_nb.drift._univariate import _ks_exact, _w_exact

CONT = ["jensen_shannon", "kolmogorov_smirnov", "wasserstein", "hellinger"]
CAT = ["chi2", "jensen_shannon", "l_infinity", "hellinger"]


def _mixed(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1, n)
    a[rng.random(n) < 0.02] = np.nan  # missing values are left out
    frame = pd.DataFrame(
        {
            "a": a,
            "b": rng.lognormal(0, 1, n),
            "c": rng.integers(0, 5, n).astype(float),
            "cat": pd.Categorical(rng.choice(list("xyzw"), n, p=[0.4, 0.3, 0.2, 0.1])),
            "two": rng.choice(["m", "f"], n).astype(
                object
            ),  # 2 categories: Yates' correction
            "obj": pd.Series(rng.choice(["u", "v", "w"], n)).astype(object),
        }
    )
    return frame


def _nannyml(ref, ana, chunk_size):
    nml = import_nannyml()
    calc = nml.UnivariateDriftCalculator(
        column_names=list(ref.columns),
        treat_as_categorical=["cat", "two", "obj"],
        chunk_size=chunk_size,
        continuous_methods=CONT,
        categorical_methods=CAT,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc.fit(ref)
        return calc.calculate(ana).filter(period="analysis").to_df()


@pytest.mark.parametrize(("n_ref", "exact"), [(20_000, False), (4_000, True)])
def test_statistics_and_thresholds_equal_nannyml_on_the_same_bins(n_ref, exact):
    """Binned KS/Wasserstein for 10,000+ rows, else exact (nannyml's rule)."""
    ref, ana = _mixed(n_ref, 0.0, 0), _mixed(3 * n_ref // 2, 0.1, 1)
    ana["cat"] = ana["cat"].astype(object)
    ana.loc[5:10, "cat"] = np.nan
    ana.loc[100:110, "two"] = "new"  # a category the reference never saw
    size = n_ref // 8  # 8 reference chunks: no fallback to 10 equal ones
    ours = univariate_drift(
        ref,
        ana,
        chunk=size,
        categorical=["cat", "two", "obj"],
        continuous_statistics=CONT,
        categorical_statistics=CAT,
        in_sample=True,
    )
    assert ours.payload["statistics"]["kolmogorov_smirnov"]["values"]
    assert ours.payload["exact"] is None
    theirs = _nannyml(ref, ana, size)
    cols = ours.payload["columns"]
    worst = 0.0
    for i, col in enumerate(cols):
        for stat in CAT if col in ("cat", "two", "obj") else CONT:
            mine = np.array(ours.payload["statistics"][stat]["values"][i], dtype=float)
            worst = max(
                worst, np.nanmax(np.abs(mine - theirs[(col, stat, "value")].to_numpy()))
            )
            if stat != "chi2":  # nannyml alerts chi2 on p-values, without thresholds
                upper = theirs[(col, stat, "upper_threshold")].iloc[0]
                assert ours.payload["statistics"][stat]["upper"][i] == pytest.approx(
                    upper, abs=1e-9
                )
    assert worst < 1e-9


def test_chi2_p_values_match_scipy():
    ref, ana = _mixed(5000, 0, 0), _mixed(2000, 0, 1)
    table = univariate_drift(
        ref, ana, n_chunks=1, columns=["two", "obj"], categorical=["two", "obj"]
    )
    for i, col in enumerate(["two", "obj"]):
        counts = pd.concat(
            [ref[col].value_counts(), ana[col].value_counts()], axis=1
        ).fillna(0)
        stat, p, _, _ = st.chi2_contingency(counts)
        assert table.payload["statistics"]["chi2"]["values"][i][0] == pytest.approx(
            stat, rel=1e-12
        )
        assert table.payload["chi2_p_value"][i][0] == pytest.approx(p, rel=1e-9)


def test_exact_ks_and_wasserstein_equal_scipy():
    rng = np.random.default_rng(0)
    ref, chunk = (
        np.sort(rng.normal(size=3000)),
        np.sort(rng.normal(0.2, 1.2, size=700).round(1)),
    )
    assert _ks_exact(ref, chunk) == pytest.approx(
        st.ks_2samp(ref, chunk).statistic, abs=1e-12
    )
    assert _w_exact(ref, chunk) == pytest.approx(
        st.wasserstein_distance(ref, chunk), abs=1e-12
    )


def test_pandas_string_columns_work():
    """nannyml 0.13's chi2 fails on pandas' string dtype; ours reads any category."""
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {"s": pd.array(rng.choice(["a", "b", "c"], 3000), dtype="string")}
    )
    ana = pd.DataFrame(
        {"s": pd.array(rng.choice(["a", "b", "c", "d"], 3000), dtype="string")}
    )
    table = univariate_drift(ref, ana, n_chunks=3)
    assert table.alerts().loc["s"].all()  # 'd' is new: a quarter of each chunk
    assert table.values("l_infinity").loc["s"].min() > 0.2


def test_psi_on_known_shares():
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    ana = pd.DataFrame({"c": ["a"] * 800 + ["b"] * 200})
    psi = univariate_drift(ref, ana, n_chunks=1).values("psi").iloc[0, 0]
    assert psi == pytest.approx(
        (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    )


FEATURES = ["region", "age", "x1", "x2", "x3", "x4", "x5", "group"]


def _rates(drift, seeds, shift=0.5):
    """Recall on drifted (feature, chunk) cells and false alarm rate on the others."""
    hit = miss = false = quiet = 0
    for seed in seeds:
        s = __import__("mlops_nb").datasets.scenario(
            30_000, seed=seed, drift=drift and {**drift, "shift": shift}
        )
        ref, ana = s.frame.iloc[:10_000], s.frame.iloc[10_000:]
        alerts = univariate_drift(ref, ana, columns=FEATURES, chunk=1000).alerts()
        for c in range(alerts.shape[1]):
            drifted = s.drift_start is not None and 10_000 + 1000 * c >= s.drift_start
            for f in FEATURES:
                planted = drifted and f in s.drifted_features
                a = bool(alerts.loc[f].iloc[c])
                hit, miss = hit + (planted and a), miss + (planted and not a)
                false, quiet = (
                    false + (not planted and a),
                    quiet + (not planted and not a),
                )
    return (hit / (hit + miss) if hit + miss else None), false / (false + quiet)


def test_planted_drift_is_found_and_clean_data_stays_quiet():
    recall, false_drift = _rates(
        {"features": ["x1", "region"], "start": 2 / 3}, range(4)
    )
    assert (
        recall == 1.0
    )  # x1 +0.5 sd and region 'west' +33 % weight, every chunk after row 20,000
    _, false_clean = _rates(None, range(6))
    print(
        f"recall {recall:.3f}; false alarms {false_drift:.3f} (drift runs), "
        f"{false_clean:.3f} (clean)"
    )
    # measured about 0.02 per (feature, chunk)
    assert false_drift < 0.04
    assert false_clean < 0.04


def test_in_sample_thresholds_alarm_more_on_clean_data():
    """nannyml compares reference chunks with a reference that contains them."""
    counts = []
    for in_sample in (False, True):
        n = 0
        for seed in range(4):
            _, ref, ana = scenario_frames(seed=seed, n=26_000)
            n += (
                univariate_drift(
                    ref, ana, columns=FEATURES, chunk=1000, in_sample=in_sample
                )
                .alerts()
                .to_numpy()
                .sum()
            )
        counts.append(n)
    assert counts[0] < counts[1]


def test_boiling_frog_alarms_against_the_anchored_reference_only():
    """SECURITY-TESTS T26: the mean rises 0.01 sd per window of 1,000 rows."""
    firsts = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        window = np.repeat(np.arange(1, 61), 1000)
        stream = pd.DataFrame({"x": rng.normal(size=60_000) + 0.01 * window})
        alerts = univariate_drift(
            pd.DataFrame({"x": rng.normal(size=10_000)}), stream, chunk=1000
        ).alerts()
        firsts.append(int(np.argmax(alerts.loc["x"].to_numpy())) + 1)
        if (
            seed < 3
        ):  # a detector comparing each window with the previous one never alarms
            previous = [
                univariate_drift(
                    stream.iloc[(w - 1) * 1000 : w * 1000],
                    stream.iloc[w * 1000 : (w + 1) * 1000],
                    n_chunks=1,
                )
                .alerts()
                .iloc[0, 0]
                for w in range(1, 60)
            ]
            assert not any(previous)
    assert max(firsts) <= 25, firsts
