"""Fixtures of the Drift Ops tests: a small trained model, copied per test."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from _drift_helpers import scenario_frames

import mlops_nb as mnb
from _team_fixtures import open_test_project

if TYPE_CHECKING:
    from collections.abc import Iterator


def _fill(proj: mnb.Project) -> mnb.Project:
    _, ref, _ = scenario_frames()
    asset = proj.data(
        "sc", ref, target="y", sensitive="group", time="timestamp", id="id"
    )
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = proj.train("m", train, params={"n_estimators": 40}, seed=0)
    model.promote("production", reason="first release", data=test)
    return proj


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("drift") / "template"
    _fill(mnb.Project.open(path))
    return path


@pytest.fixture
def drift_project(request, tmp_path) -> Iterator[mnb.Project]:
    """A project with ``sc`` (sc-train, sc-test) and model ``m`` v1 in production.

    Under the team store (``MLOPS_NB_TEST_STORE``): a new team project, filled.
    """
    if not request.getfixturevalue("team_store"):
        path = tmp_path / "proj"
        shutil.copytree(request.getfixturevalue("_template"), path)
        yield mnb.Project.open(path)
        return
    with open_test_project(request, tmp_path) as proj:
        yield _fill(proj)


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
