"""Registry: stages, gates that refuse and change nothing, hooks, rollback, compare."""

from __future__ import annotations

import pytest

from _helpers import reopen
from mlops_nb import errors
from mlops_nb.model import register_gate, unregister_gate
from mlops_nb.model._registry import stage_history


@pytest.fixture
def weak(project, split):
    # a deliberately poor model: one feature that carries no signal
    f = split[0].frame.assign(x1=0.0)
    noisy = project.data("tiny-train", f)
    return project.train("clf", noisy, estimator="logistic")


def test_first_promotion_and_one_production_per_name(project, lgbm, split):
    report = lgbm.promote("production", reason="first release")
    assert report.to_stage == "production"
    assert lgbm.stage == "production"
    assert project.model("clf", stage="production") == lgbm
    second = project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 31}
    )
    second.promote("production", data=split[1], reason="retrained")
    assert project.model("clf", stage="production") == second
    assert project.model("clf", version=1).stage == "archived"
    hist = stage_history(project, "clf")
    assert hist[["version", "from_stage", "to_stage"]].values.tolist() == [
        [1, "candidate", "production"],
        [1, "production", "archived"],
        [2, "candidate", "production"],
    ]  # fmt: skip
    assert set(hist["by"]) == {"tester"}


def test_worse_challenger_is_refused_and_nothing_changes(project, lgbm, weak, split):
    lgbm.promote("production")
    before = (project.models().to_dict("records"), len(stage_history(project, "clf")))
    with pytest.raises(errors.GateError, match="not worse than champion") as info:
        weak.promote("production", data=split[1])
    assert "Nothing changed" in str(info.value)
    assert info.value.failure_cases["gate"].tolist() == ["not worse than champion"]
    assert (
        project.models().to_dict("records"),
        len(stage_history(project, "clf")),
    ) == before
    assert project.audit_log()["action"].iloc[0] == "promotion refused"
    weak.promote("staging")  # no champion comparison for staging
    assert project.model("clf", version=weak.version).stage == "staging"


def test_every_failed_gate_is_listed(project, weak, split):
    register_gate("always no", lambda m, s, c: (False, "a reviewer said no"))
    try:
        with pytest.raises(errors.GateError) as info:
            weak.promote(
                "production",
                data=split[1],
                min_metrics={"roc_auc": 0.99, "nonsense": 1},
            )
    finally:
        unregister_gate("always no")
    gates = info.value.failure_cases["gate"].tolist()
    assert gates == ["minimum roc_auc", "minimum nonsense", "always no"]
    assert "unknown metric 'nonsense'" in str(info.value)
    assert project.model("clf", version=weak.version).stage == "candidate"


def test_registered_gate_passes_and_a_broken_gate_fails_closed(project, lgbm, split):
    register_gate(
        "checklist",
        lambda m, s, c: (True, "signed by A. Reviewer"),
        stages=["production"],
    )
    register_gate("broken", lambda m, s, c: 1 / 0, stages=["staging"])
    try:
        with pytest.raises(errors.GateError, match="ZeroDivisionError"):
            lgbm.promote("staging")
        report = lgbm.promote("production", data=split[1])
    finally:
        unregister_gate("checklist")
        unregister_gate("broken")
    gates = {g.gate: g for g in report.gates}
    assert gates["checklist"].passed
    assert "signed by" in report._html()
    # the release checklist gate exists but is off in a project that does not require it
    assert set(gates) == {"checklist", "release checklist"}
    assert gates["release checklist"].passed
    with pytest.raises(errors.ValidationError, match="unknown stage"):
        register_gate("x", lambda m, s, c: (True, ""), stages=["prod"])


def test_promotion_without_evaluation_data_is_refused(project, lgbm, split):
    lgbm.promote("production")
    other = project.train("clf", split[0], estimator="logistic")
    with pytest.raises(errors.GateError, match="no labelled data to compare on"):
        other.promote("production")


def test_rollback(project, lgbm, split):
    lgbm.promote("production")
    second = project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 31}
    )
    second.promote("production", data=split[1], tolerance=1)
    project.rollback("clf", reason="bad predictions in the field")
    assert project.model("clf", stage="production").version == 1
    assert project.model("clf", version=2).stage == "archived"
    assert project.audit_log()["action"].iloc[0] == "rollback"
    reopen(project).rollback("clf", reason="undo")  # a second rollback undoes the first
    assert project.model("clf", stage="production").version == 2


def test_rollback_needs_an_earlier_production_version(project, lgbm):
    with pytest.raises(errors.NotFoundError, match="no production version"):
        project.rollback("clf")
    lgbm.promote("production")
    with pytest.raises(errors.NotFoundError, match="no earlier production version"):
        project.rollback("clf")


def test_compare_and_unknown_stage(project, lgbm, weak, split):
    lgbm.promote("production")
    cmp = project.compare("clf", split[1])
    frame = cmp.to_frame()
    assert frame["version"].tolist() == [1, 2]
    assert frame["stage"].tolist() == ["production", "candidate"]
    assert frame.loc[0, "test roc_auc"] > frame.loc[1, "test roc_auc"]
    assert "Comparison" in cmp._html()
    with pytest.raises(errors.ValidationError, match="Did you mean 'production'"):
        lgbm.promote("prodution")
