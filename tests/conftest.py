"""Shared fixtures: small seeded frames and a fresh project in a temporary folder.

With ``MLOPS_NB_TEST_STORE=postgresql`` (or a ``postgresql://`` server URL) the
``project`` fixture is a team project instead (a fresh PostgreSQL schema, upgraded,
and a fresh prefix on the session's moto S3 server; ``tests/_team_fixtures.py``), and
tests marked ``embedded_only`` (they inspect the folder layout) or that never reach
the store under test (no ``team_store`` among their fixtures) are deselected.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytest_plugins = ["_offline_guard", "_team_fixtures"]


@pytest.fixture(autouse=True)
def _quiet_config():
    """Each test starts from the default settings and a known user."""
    with mnb.config_context(display="widget", user="tester"):
        yield


@pytest.fixture(autouse=True)
def _own_blob_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own team-store blob cache (never the user's ~/.cache):
    seeded frames make identical blobs in many tests, and a copy cached by one test
    would otherwise serve another test's load of a blob it tampered with in S3."""
    monkeypatch.setenv("MLOPS_NB_CACHE", str(tmp_path_factory.mktemp("blob_cache")))


@pytest.fixture
def project(request, tmp_path, team_store) -> Iterator[mnb.Project]:
    from _team_fixtures import open_test_project  # the plugin, loaded by now

    with open_test_project(request, tmp_path) as proj:
        yield proj


@pytest.fixture
def new_project(request, team_store) -> Iterator[Callable[[Path], mnb.Project]]:
    """Open more new projects in one test, on the store this run tests.

    ``new_project(folder)`` opens ``folder / "proj"``, or under
    ``MLOPS_NB_TEST_STORE`` a team project of its own; all are closed afterwards.
    """
    from _team_fixtures import open_test_project

    with contextlib.ExitStack() as stack:
        yield lambda folder: stack.enter_context(open_test_project(request, folder))


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "group": rng.choice(["A", "B"], size=n, p=[0.7, 0.3]),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


@pytest.fixture
def tiny_asset(project, tiny_frame):
    return project.data(
        "tiny", tiny_frame, target="y", sensitive="group", time="when", id="id"
    )
