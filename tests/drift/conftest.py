"""Fixtures of the Drift Ops tests: a small trained model, copied per test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _drift_helpers import drift_copy, fill, scenario_frames

import mlops_nb as mnb

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("drift") / "template"
    fill(mnb.Project.open(path))
    return path


@pytest.fixture
def drift_project(request, tmp_path, team_store) -> Iterator[mnb.Project]:
    """A project with ``sc`` (sc-train, sc-test) and model ``m`` v1 in production.

    Under the team store (``MLOPS_NB_TEST_STORE``): a new team project, filled.
    """
    with drift_copy(request, tmp_path) as proj:
        yield proj


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
