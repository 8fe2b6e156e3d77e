"""Fixtures of the Drift Ops tests: a small trained model, copied per test."""

from __future__ import annotations

import shutil

import pytest
from _drift_helpers import scenario_frames

import mlops_nb as mnb


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("drift") / "template"
    proj = mnb.Project.open(path)
    _, ref, _ = scenario_frames()
    asset = proj.data(
        "sc", ref, target="y", sensitive="group", time="timestamp", id="id"
    )
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = proj.train("m", train, params={"n_estimators": 40}, seed=0)
    model.promote("production", reason="first release", data=test)
    return path


@pytest.fixture
def drift_project(_template, tmp_path) -> mnb.Project:
    """A project with ``sc`` (sc-train, sc-test) and model ``m`` v1 in production."""
    path = tmp_path / "proj"
    shutil.copytree(_template, path)
    return mnb.Project.open(path)


@pytest.fixture
def model(drift_project):
    return drift_project.model("m")


@pytest.fixture
def test_split(drift_project):
    return drift_project.asset("sc-test")


@pytest.fixture
def analysis():
    """12,000 clean analysis rows, without labels."""
    return scenario_frames()[2].drop(columns="y")
