"""Robust aggregation (T30-T33) and the 30 %-bad-partners accuracy test."""

from __future__ import annotations

import copy
import logging
import warnings

import numpy as np
import pytest

import mlops_nb as mnb
from mlops_nb import errors

ROBUST = {"median": {}, "trimmed_mean": {"beta": 0.3}, "krum": {}}


def honest_updates(n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=d)
    return truth, [truth + rng.normal(scale=0.5, size=d) for _ in range(n)]


@pytest.mark.parametrize("f", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_t30_robust_rules_stay_near_the_honest_mean(f, seed):
    truth, updates = honest_updates(10, seed=seed)
    rng = np.random.default_rng(100 + seed)
    for i in range(f):  # hostile partners: updates 100x the honest magnitude
        updates[i] = (
            100
            * np.linalg.norm(updates[-1])
            * rng.normal(size=truth.size)
            / np.sqrt(truth.size)
        )
    honest_error = np.linalg.norm(np.mean(updates[f:], axis=0) - truth)
    for method, kw in ROBUST.items():
        result = mnb.secure.aggregate(updates, method=method, f=f, **kw)
        assert np.linalg.norm(result.model - truth) <= 3 * honest_error, method
        assert set(result.suspects) == {f"partner-{i + 1}" for i in range(f)}
    plain = mnb.secure.aggregate(
        updates, method="mean", unsafe=True, clip_norm=None
    ).model
    assert np.linalg.norm(plain - truth) > 10 * honest_error


def test_t30_plain_mean_needs_an_explicit_unsafe_flag():
    _, updates = honest_updates(5)
    with pytest.raises(errors.ValidationError, match="unsafe=True"):
        mnb.secure.aggregate(updates, method="mean")
    assert mnb.secure.aggregate(updates, method="mean", unsafe=True).info["unsafe"]
    assert (
        mnb.secure.aggregate(updates, method="mean", trust="high").info["trust_mode"]
        == "high"
    )


@pytest.mark.parametrize(
    ("method", "n", "kw", "match"),
    [
        ("krum", 8, {"f": 3}, "2f \\+ 3 = 9"),
        ("bulyan", 14, {"f": 3}, "4f \\+ 3 = 15"),
        ("trimmed_mean", 10, {"f": 4, "beta": 0.3}, "trims 3 value"),
        ("trimmed_mean", 10, {"f": 1, "beta": 0.5}, "\\[0, 0.5\\)"),
        ("median", 10, {"f": 5}, "f < n/2"),
        ("median", 6, {"f": -1}, "f must be >= 0"),
    ],
)
def test_t31_preconditions_raise_before_aggregating(method, n, kw, match):
    _, updates = honest_updates(n)
    with pytest.raises(ValueError, match=match):
        mnb.secure.aggregate(updates, method=method, **kw)


def test_t31_preconditions_hold_at_the_boundary():
    _, updates = honest_updates(15)
    assert mnb.secure.aggregate(updates[:9], method="krum", f=3).info["f"] == 3
    assert mnb.secure.aggregate(updates, method="bulyan", f=3).info["f"] == 3
    assert (
        mnb.secure.aggregate(updates[:10], method="trimmed_mean", f=3, beta=0.3).info[
            "f"
        ]
        == 3
    )


def test_t32_self_reported_weights_are_capped_and_logged(caplog):
    truth, updates = honest_updates(10)
    updates[0] = truth + 5.0  # a moderately bad update ...
    weights = {f"partner-{i + 1}": 500 for i in range(10)}
    weights["partner-1"] = 10**9  # ... claiming a billion examples
    honest_error = np.linalg.norm(np.mean(updates[1:], axis=0) - truth)
    trusting = mnb.secure.aggregate(
        updates, method="mean", trust="high", weights=weights, clip_norm=None
    )
    assert np.linalg.norm(trusting.model - truth) > 10 * honest_error
    with caplog.at_level(logging.INFO, logger="mlops_nb.secure"):
        capped = mnb.secure.aggregate(updates, method="trimmed_mean", weights=weights)
    assert np.linalg.norm(capped.model - truth) <= 3 * honest_error
    log = capped.log
    assert log.query("check == 'weight'")["partner"].tolist() == ["partner-1"]
    assert "capped to 1000" in log.query("check == 'weight'")["reason"].iloc[0]
    assert "partner-1" in caplog.text
    assert capped.trust.set_index("partner").loc["partner-1", "weight"] == 1000


def test_t33_malformed_updates_are_rejected_with_partner_and_reason():
    truth, updates = honest_updates(10)
    partners = {f"p{i}": u for i, u in enumerate(updates)}
    partners["p0"] = np.zeros(19)  # wrong shape
    partners["p1"] = np.round(updates[1]).astype(np.int64)  # wrong dtype
    partners["p2"] = np.where(np.arange(20) == 3, np.nan, updates[2])
    partners["p3"] = np.where(np.arange(20) == 5, np.inf, updates[3])
    partners["p4"] = truth + 10 / 0.01 * (
        updates[4] - truth
    )  # model replacement: scaled by n / eta
    global_model = truth.copy()
    result = mnb.secure.aggregate(partners, method="median", reference=global_model)
    log = result.log.set_index("partner")
    assert log.loc["p0", "check"] == "shape"
    assert "(19,)" in log.loc["p0", "reason"]
    assert log.loc["p1", "check"] == "dtype"
    assert "int64" in log.loc["p1", "reason"]
    assert log.loc["p2", "check"] == "finite"
    assert "1 NaN" in log.loc["p2", "reason"]
    assert log.loc["p3", "check"] == "finite"
    assert "1 infinite" in log.loc["p3", "reason"]
    assert log.loc["p4", "action"] == "clipped"
    assert result.rejected == ["p0", "p1", "p2", "p3"]
    assert result.info["n"] == 6
    assert np.array_equal(global_model, truth)  # the global model is never modified
    assert np.linalg.norm(result.model - truth) <= 3 * np.linalg.norm(
        np.mean(updates[5:], axis=0) - truth
    )


def test_t33_round_aborts_without_quorum_and_changes_nothing():
    truth, updates = honest_updates(5)
    global_model = truth.copy()
    bad = {
        f"p{i}": (np.full(20, np.nan) if i < 3 else u) for i, u in enumerate(updates)
    }
    with pytest.raises(errors.ValidationError, match="quorum not met"):
        mnb.secure.aggregate(bad, method="median", reference=global_model)
    some = {
        f"p{i}": (np.full(20, np.nan) if i < 2 else u)
        for i, u in enumerate(updates + updates[:4])
    }
    with pytest.raises(errors.ValidationError, match="rejected by sanitation"):
        mnb.secure.aggregate(
            some, method="krum", f=3
        )  # 7 valid partners left, Krum needs 9
    assert np.array_equal(global_model, truth)


def _partners(kind, seed, n=10, bad=3):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(
        n_samples=8000, n_features=10, n_informative=6, random_state=0
    )
    rng = np.random.default_rng(seed)
    idx = rng.permutation(6000)
    start = (
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
        if kind == "mlp"
        else None
    )
    if start is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start.fit(X[:300], y[:300])  # the global model every partner starts from
    partners = {}
    for i in range(n):
        part = idx[i * 600 : (i + 1) * 600]
        if kind == "linear":
            model = LogisticRegression(max_iter=500).fit(X[part], y[part])
        else:
            model = copy.deepcopy(start)
            for _ in range(20):
                model.partial_fit(X[part], y[part])
        if i < bad:  # poisoned partner: sign-flipped weights, scaled up
            if kind == "linear":
                model.coef_, model.intercept_ = (
                    -10 * model.coef_,
                    -10 * model.intercept_,
                )
            else:
                model.coefs_ = [-10 * c for c in model.coefs_]
        partners[f"bank-{i + 1}"] = model
    return partners, X[6000:], y[6000:]


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_thirty_percent_bad_partners_collapse_the_mean_not_the_robust_rules(kind):
    partners, X, y = _partners(kind, seed=0)
    honest = {k: v for k, v in partners.items() if int(k.split("-")[1]) > 3}
    clean = mnb.secure.aggregate(
        honest, method="mean", unsafe=True, clip_norm=None
    ).model.score(X, y)
    mean = mnb.secure.aggregate(
        partners, method="mean", unsafe=True, clip_norm=None
    ).model.score(X, y)
    assert mean < clean - 0.15  # the plain mean collapses
    for method in ("median", "trimmed_mean", "krum"):
        result = mnb.secure.aggregate(partners, method=method)
        accuracy = result.model.score(X, y)
        print(f"{kind} {method}: {accuracy:.3f} (clean {clean:.3f}, mean {mean:.3f})")
        assert accuracy >= clean - 0.02, method  # stated margin: 2 points
        assert set(result.suspects) == {"bank-1", "bank-2", "bank-3"}
    assert type(result.model) is type(partners["bank-4"])
    assert result.model is not partners["bank-4"]


def test_result_renders():
    _, updates = honest_updates(6)
    updates[0] = updates[0] * 50
    result = mnb.secure.aggregate(updates, method="trimmed_mean", beta=0.2)
    html = result._repr_html_()
    assert "Trust per partner" in html
    assert "partner-1" in html
    assert "suspect" in repr(result)
    with pytest.raises(errors.ValidationError, match="method="):
        mnb.secure.aggregate(updates, method="average")
    with pytest.raises(errors.ValidationError, match="cannot read parameters"):
        mnb.secure.aggregate([object(), object(), object()], method="median")
