"""Drift that says why: every computed statistic is weighed, tiny chunks are named.

A balance tripled in production can stay inside the first of Jensen-Shannon's wide
bins (a few large balances in the reference stretch them), so JS does not move while
Kolmogorov-Smirnov does. The review must name that change, also in the concept-drift
verdict, instead of saying that the inputs do not explain a drop. Reference chunks of
a handful of rows make thresholds too wide to alert: the monitor warns and suggests a
chunking. Clean data stays quiet.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

N_TRAIN, N_REF, N_ANA, CHUNK = 1500, 3000, 3000, 500


def accounts(
    seed: int, *, tripled: bool, concept: bool, big: bool = True
) -> pd.DataFrame:
    """Rows of a balance-driven binary target; the last half of production drifts."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_REF + N_ANA
    balance = rng.lognormal(3.0, 1.0, n)
    if big:  # a few very large accounts stretch JS's bins
        balance[rng.choice(N_TRAIN + N_REF, 6, replace=False)] = 50_000
    other = rng.normal(size=n)
    y = (np.log(balance) - 3 + 0.7 * other + rng.normal(0, 0.5, n) > 0).astype(int)
    late = np.arange(n) >= N_TRAIN + N_REF + N_ANA // 2
    if tripled:
        balance[late] *= 3
    if concept:  # how the inputs relate to the target changed
        flip = late & (rng.random(n) < 0.35)
        y[flip] = 1 - y[flip]
    return pd.DataFrame(
        {"id": np.arange(n), "balance": balance, "other": other, "churn": y}
    )


def _review(project, frame, *, labels: bool):
    proj = project
    train = proj.data("tr", frame.iloc[:N_TRAIN], target="churn", id="id")
    ref = proj.data(
        "ref", frame.iloc[N_TRAIN : N_TRAIN + N_REF], target="churn", id="id"
    )
    model = proj.train("m", train, params={"n_estimators": 20})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # clean chunks of 500 rows: no warning
        mon = model.monitor(reference=ref, chunk=CHUNK, multivariate=[])
    ana = frame.iloc[N_TRAIN + N_REF :]
    mon.observe(ana.drop(columns="churn"))
    if labels:
        mon.add_targets(ana[["id", "churn"]])
    return mon.review()


def _crossed(review, column, stat):
    uni = review.payload["univariate"]
    return uni["statistics"][stat]["alert"][uni["columns"].index(column)]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_shift_only_ks_sees_is_named_in_the_reasons(project, seed):
    review = _review(project, accounts(seed, tripled=True, concept=False), labels=False)
    drifted = range(N_ANA // CHUNK // 2, N_ANA // CHUNK)
    # planted as intended: JS (the default alert) quiet, KS crossing
    assert not any(_crossed(review, "balance", "jensen_shannon"))
    assert all(_crossed(review, "balance", "kolmogorov_smirnov")[c] for c in drifted)
    [reason] = [r for r in review.recommendation["reasons"] if "Below alert" in r]
    assert "balance" in reason
    assert "Kolmogorov-Smirnov D" in reason
    assert "Jensen-Shannon" in reason  # which statistic does alert
    assert {q["index"] for q in review.payload["quiet_crossings"]} >= set(drifted)


@pytest.mark.parametrize("seed", [0, 1])
def test_concept_verdict_weighs_every_statistic(project, seed):
    review = _review(project, accounts(seed, tripled=True, concept=True), labels=True)
    concept = review.payload["performance"]["concept"]
    assert concept["chunks"], concept["verdict"]
    assert "does not explain" not in concept["verdict"]
    assert "balance" in concept["verdict"]
    assert "Kolmogorov-Smirnov D" in concept["verdict"]
    assert "balance" in " ".join(concept["input_evidence"])


def test_concept_drift_without_input_change_says_so(project):
    frame = accounts(0, tripled=False, concept=True, big=False)
    review = _review(project, frame, labels=True)
    concept = review.payload["performance"]["concept"]
    assert concept["chunks"]
    assert "no computed statistic of any input crossed" in concept["verdict"]
    assert concept["input_evidence"] == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_data_stays_quiet(project, seed):
    review = _review(
        project, accounts(seed, tripled=False, concept=False), labels=False
    )
    assert not [q for q in review.payload["quiet_crossings"] if q["what"] == "balance"]
    assert not any("Below alert" in r for r in review.recommendation["reasons"])
    assert not any("fewer than 30 rows" in n for n in review.notes)
