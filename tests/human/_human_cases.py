"""Scenario data with planted bias, split three ways, and a fast model on it."""

from __future__ import annotations

import mlops_nb as mnb
from mlops_nb.datasets import scenario

FAST = {"n_estimators": 60}


def build(
    root,
    *,
    bias: bool,
    use_sensitive: bool = True,
    n: int = 8000,
    estimator="lightgbm",
    params=FAST,
):
    """Return a project with scenario data (sensitive ``group``), splits and a model.

    ``root`` is a folder for a new project, or an opened (empty) project.
    """
    s = scenario(n, seed=0, bias={"group": "B", "strength": 1.0} if bias else None)
    proj = root if isinstance(root, mnb.Project) else mnb.Project.open(root)
    with mnb.config_context(user="tester"):
        data = proj.data(
            "loans",
            s.frame.drop(columns=["timestamp"]),
            target="y",
            sensitive="group",
            id="id",
        )
        rest, test = data.split(test=0.3, seed=0, stratify="y")
        train, valid = rest.split(test=0.3, seed=0, stratify="y")
        model = proj.train(
            "credit",
            train,
            estimator=estimator,
            params=params,
            use_sensitive=use_sensitive,
        )
    return {
        "project": proj,
        "train": train,
        "valid": valid,
        "test": test,
        "model": model,
        "scenario": s,
    }
