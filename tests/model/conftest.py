from __future__ import annotations

import pytest


@pytest.fixture
def split(tiny_asset):
    return tiny_asset.split(test=0.3, seed=0, stratify="y")


@pytest.fixture
def lgbm(project, split):
    return project.train(
        "clf", split[0], estimator="lightgbm", params={"n_estimators": 30}
    )


@pytest.fixture
def canvas(project):
    return project.canvas(process="Offer a discount", value_level="optimize",
                          outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
                          positive_class=1)  # fmt: skip
