from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    """A project with a data split and two versions of model 'clf' (once per module)."""
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
    proj = mnb.Project.open(tmp_path_factory.mktemp("template") / "proj")
    train, _ = proj.data("tiny", frame, target="y", id="id").split(
        test=0.3, seed=0, stratify="y"
    )
    proj.train("clf", train, estimator="logistic")
    proj.train("clf", train, estimator="lightgbm", params={"n_estimators": 10})
    return proj


@pytest.fixture
def sec_project(_template, tmp_path):
    """A fresh copy of the template project (SQLite backup API, blobs copied)."""
    return mnb.Project.open(_template.backup(tmp_path / "proj"))


@pytest.fixture
def sec_split(sec_project):
    return sec_project.asset("tiny-train"), sec_project.asset("tiny-test")


@pytest.fixture
def two_versions(sec_project):
    return sec_project.model("clf", version=1), sec_project.model("clf", version=2)
