"""Embedded tests of data, model registry and drift, run on both back ends.

Each test takes ``any_project`` (``tests/team/conftest.py``): a project folder, then a
team project on a real PostgreSQL and moto's S3 server. The bodies are those of the
embedded tests they come from (named in each docstring), minus on-disk details.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.errors import GateError


@pytest.fixture
def project(any_project):
    return any_project


@pytest.fixture
def asset(project, tiny_frame):
    return project.data(
        "tiny", tiny_frame, target="y", sensitive="group", time="when", id="id"
    )


@pytest.fixture
def split(asset):
    return asset.split(test=0.3, seed=0, stratify="y")


@pytest.fixture
def lgbm(project, split):
    return project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 30}
    )


def test_same_data_is_one_version_and_changed_data_a_second(project, tiny_frame, asset):
    """tests/data/test_asset.py: same data twice / changed data is version two."""
    again = project.data("tiny", tiny_frame.copy())
    assert again == asset
    assert again.version == 1
    assert len(project.versions("tiny")) == 1
    v2 = project.data("tiny", tiny_frame.assign(x1=tiny_frame["x1"] + 1))
    assert v2.version == 2
    assert v2.parents == (("tiny", 1),)
    assert v2.schema.target == "y"
    assert project.asset("tiny").version == 2
    pd.testing.assert_frame_equal(project.asset("tiny", 1).frame, tiny_frame)


def test_split_is_stratified_seeded_and_has_lineage(asset):
    """tests/data/test_asset.py::test_split_is_stratified_seeded_and_has_lineage."""
    train, test = asset.split(test=0.25, seed=3, stratify="y")
    assert (train.name, test.name) == ("tiny-train", "tiny-test")
    assert train.n_rows + test.n_rows == 400
    assert test.n_rows == 100
    assert set(train.frame["id"]).isdisjoint(test.frame["id"])
    assert abs(test.frame["y"].mean() - asset.frame["y"].mean()) < 0.02
    assert str(test.lineage()) == "tiny v1 -> split -> tiny-test v1"
    assert test.parents == (("tiny", 1),)
    assert asset.split(test=0.25, seed=3, stratify="y")[1] == test


def test_promotion_over_a_champion_archives_it_and_names_the_metrics(
    project, lgbm, split
):
    """tests/model/test_promotion_view.py: promotion over a champion."""
    challenger = project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 12}
    )
    lgbm.promote("production")
    test = split[1]
    report = challenger.promote("production", data=test, tolerance=1)
    key, ours = challenger.evaluate(test).primary()
    theirs = lgbm.evaluate(test).metrics[key]
    assert f"{key} {ours:.4f} vs champion {lgbm.label} {theirs:.4f}" in (
        report._decided()
    )
    models = project.models().set_index("version")["stage"].to_dict()
    assert models == {1: "archived", 2: "production"}
    assert project.verify().ok


def test_a_refused_gate_changes_no_stage_and_is_audited(project, lgbm, split):
    """tests/model/test_gate_refusal_readable.py: a refusal names what failed."""
    with pytest.raises(GateError, match="minimum roc_auc"):
        lgbm.promote("production", data=split[1], min_metrics={"roc_auc": 1.01})
    assert project.model("clf").stage == "candidate"
    assert project.audit_log(limit=1)["action"].iloc[0] == "promotion refused"


def test_observing_the_same_batch_twice_changes_nothing(project, lgbm, split):
    """tests/drift/test_monitor.py::test_observing_the_same_batch_twice_..."""
    mon = lgbm.monitor(reference=split[0], chunk=40, multivariate=[])
    rng = np.random.default_rng(5)
    batch = (
        split[1]
        .frame.drop(columns="y")
        .assign(x1=lambda f: f["x1"] + rng.normal(2, 0.1, size=len(f)))
    )
    first = mon.observe(batch)
    audit = len(project.audit_log())
    again = mon.observe(batch)
    assert (first.new, again.new) == (True, False)
    assert again.batch == first.batch
    assert len(project.audit_log()) == audit
    assert first.alerts > 0  # the planted shift of x1 is seen on both back ends
