from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _team_fixtures import open_test_project


def _fill(proj: mnb.Project) -> mnb.Project:
    """Add a data split and two versions of model 'clf' to ``proj``."""
    rng = np.random.default_rng(0)
    n = 300
    x1 = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "y": (x1 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )
    train, _ = proj.data("tiny", frame, target="y", id="id").split(
        test=0.3, seed=0, stratify="y"
    )
    proj.train("clf", train, estimator="logistic")
    proj.train("clf", train, estimator="lightgbm", params={"n_estimators": 10})
    return proj


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    """A project with a data split and two versions of model 'clf' (once per module)."""
    return _fill(mnb.Project.open(tmp_path_factory.mktemp("template") / "proj"))


@pytest.fixture
def sec_project(request, tmp_path, team_store):
    """A fresh copy of the template project (SQLite backup API, blobs copied).

    Under the team store (``MLOPS_NB_TEST_STORE``): a new team project, filled.
    """
    if not team_store:
        template = request.getfixturevalue("_template")
        yield mnb.Project.open(template.backup(tmp_path / "proj"))
        return
    with open_test_project(request, tmp_path) as proj:
        yield _fill(proj)


@pytest.fixture
def sec_split(sec_project):
    return sec_project.asset("tiny-train"), sec_project.asset("tiny-test")


@pytest.fixture
def two_versions(sec_project):
    return sec_project.model("clf", version=1), sec_project.model("clf", version=2)
