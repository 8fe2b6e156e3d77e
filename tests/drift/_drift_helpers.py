"""Helpers of the Drift Ops tests (import with ``from _drift_helpers import ...``)."""

from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING

import mlops_nb as mnb

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pytest

N_REFERENCE = 6000


def scenario_frames(seed: int = 3, n: int = 18000, **effects):
    """Reference rows (first N_REFERENCE) and analysis rows of one scenario."""
    s = mnb.datasets.scenario(n, seed=seed, **effects)
    return s, s.frame.iloc[:N_REFERENCE].copy(), s.frame.iloc[N_REFERENCE:].copy()


def fill(proj: mnb.Project) -> mnb.Project:
    """Register ``sc`` (sc-train, sc-test) and put model ``m`` v1 in production."""
    _, ref, _ = scenario_frames()
    asset = proj.data(
        "sc", ref, target="y", sensitive="group", time="timestamp", id="id"
    )
    train, test = asset.split(test=0.5, seed=0, stratify="y")
    model = proj.train("m", train, params={"n_estimators": 40}, seed=0)
    model.promote("production", reason="first release", data=test)
    return proj


@contextlib.contextmanager
def drift_copy(request: pytest.FixtureRequest, folder: Path) -> Iterator[mnb.Project]:
    """A filled project (see :func:`fill`) for a fixture of any scope.

    A copy of the session's ``_template`` folder in ``folder / "proj"``; under
    ``MLOPS_NB_TEST_STORE`` a new team project, filled. The fixture using it should
    request ``team_store`` (that keeps its tests in the team run).
    """
    from _team_fixtures import open_test_project, team_store_requested

    if not team_store_requested():
        path = folder / "proj"
        shutil.copytree(request.getfixturevalue("_template"), path)
        yield mnb.Project.open(path)
        return
    with open_test_project(request, folder) as proj:
        yield fill(proj)
