from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

import mlops_nb as mnb
from _helpers import reopen
from mlops_nb import errors

REMOTE = re.compile(
    r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)


def test_planted_bias_is_found(biased):
    rep = biased["model"].fairness(biased["test"])
    d = rep.disparities.set_index("grouping").loc["group"]
    assert d["demographic_parity_difference"] > 0.12
    assert (
        d["demographic_parity_difference low"] > 0.05
    )  # the interval excludes "no disparity"
    assert d["demographic_parity_ratio"] < 0.8
    assert not rep.within()
    assert any("by group" in f for f in rep.findings())
    groups = rep.to_frame().set_index("group")
    assert (
        groups.loc["group=B", "selection rate"]
        < groups.loc["group=A", "selection rate"]
    )
    assert (
        groups.loc["group=B", "base rate"] < groups.loc["group=A", "base rate"]
    )  # the planted labels
    assert rep.payload["pos_source"].startswith("the model's second class")


def test_clean_data_is_within_tolerance(clean):
    rep = clean["model"].fairness(clean["test"])
    d = rep.disparities.set_index("grouping").loc["group"]
    assert d["demographic_parity_difference"] < 0.05
    assert d["equalized_odds_difference"] < 0.07
    assert rep.within()


def test_values_match_fairlearn_metricframe(clean):
    model, test = clean["model"], clean["test"]
    rep = model.fairness(test, min_group_size=1, n_boot=50)
    frame = test.frame
    y, d = frame["y"].to_numpy() == 1, model.predict(frame) == 1
    keys = "group=" + frame["group"].astype(str)
    mf = MetricFrame(
        metrics={
            "selection rate": selection_rate,
            "TPR": true_positive_rate,
            "FPR": false_positive_rate,
        },
        y_true=y,
        y_pred=d,
        sensitive_features=keys,
    )
    ours = rep.to_frame().set_index("group")
    for m in ("selection rate", "TPR", "FPR"):
        for g, v in mf.by_group[m].items():
            assert ours.loc[g, m] == pytest.approx(v)
            assert ours.loc[g, f"{m} low"] <= v <= ours.loc[g, f"{m} high"]
    disp = rep.disparities.iloc[0]
    assert disp["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, d, sensitive_features=keys)
    )
    assert disp["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, d, sensitive_features=keys)
    )
    for k in ("demographic_parity_difference", "demographic_parity_ratio"):
        fn = {
            "demographic_parity_difference": demographic_parity_difference,
            "demographic_parity_ratio": demographic_parity_ratio,
        }[k]
        assert disp[f"{k} (all groups)"] == pytest.approx(
            fn(y, d, sensitive_features=keys)
        )
    overall = rep.payload["overall"]
    assert overall["accuracy"] == pytest.approx((y == d).mean())


def test_small_groups_are_flagged_and_intersections_reported(project):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "sex": rng.choice(["f", "m"], n),
            "race": np.where(np.arange(n) < 12, "tiny", rng.choice(["a", "b"], n)),
        }
    )
    frame["y"] = (frame["x"] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    data = project.data("people", frame, target="y", sensitive=["sex", "race"])
    model = project.train("m", data, estimator="logistic")
    rep = model.fairness(data, n_boot=0)
    groups = rep.to_frame().set_index("group")
    assert bool(groups.loc["race=tiny", "small"])
    assert not bool(groups.loc["race=a", "small"])
    by = rep.disparities.set_index("grouping")
    assert list(by.index) == ["sex", "race", "sex x race"]
    assert by.loc["race", "small groups"] == ["race=tiny"]
    assert by.loc["race", "groups compared"] == 2
    assert "race=tiny" not in str(by.loc["race", "demographic_parity_difference"])
    assert "sex=f, race=a" in groups.index


def test_report_is_stored_renders_offline_and_reopens(clean):
    model, test = clean["model"], clean["test"]
    rep = model.fairness(test)
    again = (
        reopen(clean["project"]).model("credit", version=model.version).fairness(test)
    )
    assert again.payload == rep.payload
    html = rep.to_html()
    assert "Disparities" in html
    assert "group=B" in html
    assert "window.Plotly" in html
    assert not REMOTE.search(html)
    with mnb.config_context(display="html"):
        assert set(rep._repr_mimebundle_()) == {"text/plain", "text/html"}
    assert "within limits" in repr(rep)


def test_errors_say_what_to_fix(clean, project, tiny_frame):
    model, test = clean["model"], clean["test"]
    with pytest.raises(errors.SchemaError, match="Did you mean 'group'"):
        model.fairness(test, sensitive="Group")
    with pytest.raises(errors.ValidationError, match="DataAsset"):
        model.fairness(test.frame)
    reg = project.data("r", tiny_frame.assign(y=tiny_frame["x2"]), target="y")
    with pytest.raises(errors.ValidationError, match="regression model"):
        project.train("reg", reg, estimator="linear").fairness(reg)
    no_sensitive = project.data("plain", tiny_frame.drop(columns=["group"]), target="y")
    clf = project.train("clf", no_sensitive, estimator="logistic")
    with pytest.raises(errors.SchemaError, match="no sensitive columns"):
        clf.fairness(no_sensitive)
