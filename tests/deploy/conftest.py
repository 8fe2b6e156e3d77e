"""Shared fixtures of the deploy tests: one small project with trained models."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb


def make_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(10, 2, size=n)
    x2[rng.random(n) < 0.05] = np.nan  # imputed inside the ONNX graph
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    color[rng.random(n) < 0.03] = None  # the "(missing)" category
    y = (x1 + 0.3 * (color == "red") + rng.normal(scale=0.8, size=n) > 0).astype(int)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x1": x1,
            "x2": x2,
            "color": pd.Series(color, dtype=object),
            "size": rng.choice(["S", "M", "L"], size=n),
            "group": rng.choice(["A", "B"], size=n, p=[0.7, 0.3]),
            "y": y,
        }
    )


@pytest.fixture(scope="session")
def dep(tmp_path_factory):
    """A project with data, a value canvas and a LightGBM model."""
    with mnb.config_context(user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("deploy") / "proj")
        frame = make_frame()
        asset = proj.data("tiny", frame, target="y", sensitive="group", id="id")
        train, test = asset.split(test=0.3, seed=0, stratify="y")
        proj.canvas(
            process="Offer a discount",
            value_level="optimize",
            outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
            positive_class=1,
        )
        lgbm = proj.train(
            "clf", train, estimator="lightgbm", params={"n_estimators": 40}
        )
    return SimpleNamespace(project=proj, frame=frame, train=train, test=test, lgbm=lgbm)


@pytest.fixture(scope="session")
def lgbm_export(dep):
    with mnb.config_context(user="tester"):
        return dep.lgbm.export_onnx(check=dep.test)
