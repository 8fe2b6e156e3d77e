"""Performance without labels (CBPE, DLE), realized performance, concept drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb.drift._performance import CHUNK_COL, concept_verdict, estimate_dle


@pytest.mark.slow
def test_cbpe_band_holds_realized_roc_auc_on_most_employment_chunks(project):
    """Real data: a model of 2015 watched over 2016-2018 in chunks of 5,000 rows."""
    proj = project
    ref = proj.data(
        "acs",
        mnb.datasets.employment("reference"),
        target="employed",
        sensitive=["SEX", "RAC1P"],
        time="year",
        id="id",
    )
    train, test = ref.split(test=0.2, seed=0, stratify="employed")
    model = proj.train("employment", train, seed=0)
    mon = model.monitor(reference=test, chunk=5000, multivariate=[])
    mon.observe(mnb.datasets.employment("analysis"))
    mon.add_targets(mnb.datasets.employment("analysis_targets"), on="id")
    perf = mon.review().payload["performance"]
    inside = [
        lo <= r <= hi
        for lo, hi, r in zip(
            perf["lower_band"], perf["upper_band"], perf["realized"], strict=True
        )
    ]
    print(
        f"CBPE band holds realized ROC AUC in {sum(inside)} of {len(inside)} "
        "employment chunks"
    )
    assert len(inside) == 42
    assert sum(inside) >= 0.7 * len(inside)  # measured: 32 of 42
    errors = np.abs(np.array(perf["estimated"]) - np.array(perf["realized"]))
    assert errors.max() < 0.03


def _regression_frames(dtype):
    rng = np.random.default_rng(0)

    def frame(n, shift):
        f = pd.DataFrame(
            {"x": rng.normal(shift, 1, n), "c": rng.choice(["a", "b", "c"], n)}
        )
        f["c"] = f["c"].astype(dtype)
        f["__y__"] = (
            2 * f["x"]
            + (f["c"].astype(object) == "a")
            + rng.normal(size=n) * (1 + np.abs(f["x"]))
        )
        f["__pred__"] = 2 * f["x"] + 0.3
        f[CHUNK_COL] = np.repeat(np.arange(5), n // 5)
        return f

    return frame(2500, 0.0), frame(2500, 1.0)


@pytest.mark.parametrize("dtype", [object, "category", "str", "string[pyarrow]"])
def test_dle_runs_on_object_categorical_and_arrow_string_columns(dtype):
    """nannyml's DLE fails under pandas 3 on any string feature without our fix."""
    ref, ana = _regression_frames(dtype)
    out = estimate_dle(ref, ana, features=["x", "c"], metrics=("rmse", "mae"))
    est = np.array(out["rmse"]["estimated"])
    realized = np.sqrt(
        ((ana["__y__"] - ana["__pred__"]) ** 2).groupby(ana[CHUNK_COL]).mean()
    ).to_numpy()
    assert est.shape == (5,)
    assert np.all(np.abs(est - realized) / realized < 0.25)
    assert est.mean() > out["rmse"]["upper_threshold"][0]  # the shift made errors grow


def test_regression_models_are_monitored_with_dle(project):
    proj = project
    s = mnb.datasets.scenario(9000, seed=1)
    frame = s.frame.drop(columns="y")
    ref = proj.data(
        "reg",
        frame.iloc[:5000],
        target="x5",
        time="timestamp",
        id="id",
        sensitive="group",
    )
    train, test = ref.split(test=0.4, seed=0)
    model = proj.train("r", train, params={"n_estimators": 30})
    mon = model.monitor(reference=test, chunk=1000, multivariate=[])
    mon.observe(frame.iloc[5000:].drop(columns="x5"))
    review = mon.review()
    perf = review.payload["performance"]
    assert perf["method"].startswith("DLE")
    assert perf["metric"] == "rmse"
    assert all(e is not None for e in perf["estimated"])
    assert (
        review.status
        == ["unverified: label-free estimate assumes no concept drift"] * 4
    )


def test_concept_verdict_needs_consecutive_chunks_outside_the_band():
    keys = list("abcdef")
    lo, hi = [0.8] * 6, [0.9] * 6
    one = concept_verdict(
        [0.85, 0.7, 0.85, 0.7, 0.85, None], lo, hi, keys, consecutive=2
    )
    assert one["chunks"] == []
    assert one["verdict"].startswith("no concept drift")
    two = concept_verdict(
        [0.85, 0.7, 0.7, 0.95, 0.85, None], lo, hi, keys, consecutive=2
    )
    assert two["chunks"] == [1, 2, 3]
    assert "concept drift: " in two["verdict"]
    assert two["outside"] == [False, True, True, True, False, None]
    none = concept_verdict([None] * 6, lo, hi, keys)
    assert none["verdict"].startswith("not assessed")


def test_multiclass_models_are_monitored_with_cbpe(project):
    proj = project
    s = mnb.datasets.scenario(9000, seed=2, drift={"features": ["x1"], "start": 0.8})
    frame = s.frame.drop(columns="y")
    ref = proj.data("mc", frame.iloc[:5000], target="region", time="timestamp", id="id")
    train, test = ref.split(test=0.5, seed=0, stratify="region")
    model = proj.train("mc", train, params={"n_estimators": 10})
    mon = model.monitor(reference=test, chunk=2000, multivariate=[])
    mon.observe(frame.iloc[5000:].drop(columns="region"))
    mon.add_targets(frame.iloc[5000:][["id", "region"]])
    perf = mon.review().payload["performance"]
    assert perf["method"].startswith("CBPE")
    assert all(0.4 < r < 0.6 for r in perf["realized"])  # region is not predictable
    assert all(
        lo <= e <= hi
        for lo, e, hi in zip(
            perf["lower_band"], perf["estimated"], perf["upper_band"], strict=True
        )
    )
