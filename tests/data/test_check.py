"""Quality checks: each one finds what is planted and stays quiet on clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _helpers import reopen
from mlops_nb.data._check import single_feature_score


def checks_of(report):
    return {(f["check"], f["column"]): f for f in report.findings}


def test_clean_data_has_no_findings(tiny_asset):
    report = tiny_asset.check()
    assert report.ok
    assert report.findings == (), report.to_frame()


def test_planted_problems_are_found(project, tiny_frame):
    rng = np.random.default_rng(1)
    bad = tiny_frame.copy()
    bad.loc[rng.choice(400, 100, replace=False), "x2"] = np.nan  # 25 % missing
    bad["leak"] = bad["y"] * 2.0 + rng.normal(
        scale=0.01, size=400
    )  # the target in disguise
    bad["const"] = 7  # constant
    bad["rare"] = np.where(np.arange(400) < 2, "b", "a")  # 99.5 % one value
    bad["code"] = pd.Categorical([f"c{i % 80}" for i in range(400)])  # 80 levels
    bad = pd.concat(
        [bad, bad.iloc[:10].assign(id=range(1000, 1010))], ignore_index=True
    )  # 10 dupes
    report = project.data("bad", bad, target="y", id="id").check()
    found = checks_of(report)
    assert found[("missing values", "x2")]["severity"] == "warning"
    assert found[("missing values", "x2")]["value"] == pytest.approx(
        bad["x2"].isna().mean()
    )
    assert found[("target leakage", "leak")]["severity"] == "error"
    assert found[("constant column", "const")]["severity"] == "warning"
    assert ("near-constant column", "rare") in found
    assert found[("high cardinality", "code")]["value"] == 80
    assert found[("duplicate rows", "")]["value"] == 10
    assert not report.ok
    # nothing else fires: the clean columns stay quiet
    flagged = {col for _, col in found}
    assert flagged <= {"x2", "leak", "const", "rare", "code", ""}


def test_comparison_with_previous_version(project, tiny_frame):
    project.data("t", tiny_frame, target="y")
    new = tiny_frame.drop(columns=["x2"]).assign(
        x1=tiny_frame["x1"].where(tiny_frame.index >= 5, 50.0),  # 5 out of range
        color=tiny_frame["color"].astype(str).where(tiny_frame.index >= 3, "purple"),
        extra=1.5,
        group=tiny_frame["group"].map({"A": 1, "B": 2}),  # retyped
    )
    report = project.data("t", new).check()
    found = checks_of(report)
    assert report.compared_with == "t v1"
    assert found[("out of range", "x1")]["value"] == 5
    assert found[("unseen categories", "color")]["value"] == 3
    assert "purple" in found[("unseen categories", "color")]["message"]
    assert ("schema change", "x2") in found
    assert "removed" in found[("schema change", "x2")]["message"]
    assert "added" in found[("schema change", "extra")]["message"]
    assert "categorical" in found[("schema change", "group")]["message"]
    assert (
        "out of range",
        "group",
    ) not in found  # retyped columns are not range-checked


def test_leakage_scores_on_each_task():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.integers(0, 2, 2000))
    noise = pd.Series(rng.normal(size=2000))
    assert single_feature_score(y + 0.01 * noise, y, "numeric", "binary") > 0.99
    assert single_feature_score(noise, y, "numeric", "binary") < 0.6
    y3 = pd.Series(rng.integers(0, 3, 2000))
    assert single_feature_score(y3 + 0.01 * noise, y3, "numeric", "multiclass") > 0.97
    assert single_feature_score(noise, y3, "numeric", "multiclass") < 0.5
    yr = pd.Series(rng.normal(size=2000))
    assert (
        single_feature_score(yr * 3 + 0.01 * noise, yr, "numeric", "regression") > 0.99
    )
    cat = pd.Series(np.where(y == 1, "p", "q"))
    assert single_feature_score(cat, y, "categorical", "binary") == pytest.approx(1.0)


def test_check_is_persisted_and_shown_on_the_asset(project, tiny_asset):
    import mlops_nb as mnb

    tiny_asset.check()
    reopened = reopen(project).asset("tiny")
    assert project._report("asset", reopened.id, "check") is not None
    with mnb.config_context(display="html"):
        html = reopened._repr_mimebundle_()["text/html"]
    assert "checks passed" in html
    assert "Not checked yet" not in html


def test_employment_reference_has_no_leakage_and_expected_findings(project):
    import mlops_nb as mnb

    ref = project.data("acs", mnb.datasets.employment("reference"), target="employed",
                       sensitive=["SEX", "RAC1P"], time="year", id="id")  # fmt: skip
    report = ref.check()
    assert report.ok
    assert report.by_check("target leakage") == []
    assert [f["column"] for f in report.by_check("constant column")] == ["year"]


def test_large_frames_are_screened_on_a_sample_but_counted_exactly(project):
    from mlops_nb.data import _check

    n = _check.SAMPLE_ROWS + 50_000
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, n)
    rare = np.zeros(n)
    rare[rng.choice(n, 1234, replace=False)] = rng.normal(size=1234)  # 99.5 % zeros
    frame = pd.DataFrame({"x": rng.normal(size=n), "rare": rare,
                          "leak": y + rng.normal(scale=0.05, size=n),
                          "y": y})  # fmt: skip
    found = checks_of(project.data("big", frame, target="y").check())
    assert found[("near-constant column", "rare")]["value"] == pytest.approx(
        1 - 1234 / n
    )
    assert found[("target leakage", "leak")]["severity"] == "error"
    assert {col for _, col in found} == {"rare", "leak"}
