"""EBM defaults are sized by the data: interactions where it is small (issue 13.11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _helpers import reopen
from mlops_nb.model._estimators import EBM_INTERACTION_CELLS, make_estimator


def interacting(seed: int, n: int) -> pd.DataFrame:
    """A regression target driven mostly by the product of two inputs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    smoker = rng.random(n) < 0.3
    y = 2 * x[:, 0] + np.where(smoker, 6 + 4 * x[:, 1], 0) + rng.normal(0, 0.5, n)
    frame = pd.DataFrame(x, columns=["age", "bmi", "a", "b"])
    return frame.assign(smoker=smoker.astype(float), y=y)


@pytest.mark.parametrize(
    ("task", "rows", "features", "expected"),
    [
        ("regression", 1338, 6, "5x"),
        ("binary", 2000, 10, "3x"),
        ("multiclass", 1000, 20, "3x"),
        ("regression", 2001, 10, 0),
        ("multiclass", 4898, 11, 0),
        ("binary", 100_000, 20, 0),
    ],
)
def test_interactions_follow_the_size_of_the_data(task, rows, features, expected):
    est, _, _ = make_estimator("ebm", task, None, 0, shape=(rows, features))
    assert est.get_params()["interactions"] == expected
    assert (rows * features <= EBM_INTERACTION_CELLS) == (expected != 0)
    assert est.get_params()["outer_bags"] == 2  # notebooks stay fast
    user, _, _ = make_estimator(
        "ebm", task, {"interactions": 1}, 0, shape=(rows, features)
    )
    assert user.get_params()["interactions"] == 1  # a user's choice wins


@pytest.mark.slow  # two EBM fits: about 10 s idle, 50 s on a shared 2-core machine
@pytest.mark.parametrize("seed", [0])
def test_a_small_regression_table_learns_its_interaction(project, seed):
    frame = interacting(seed, 700)
    data = project.data("ins", frame, target="y")
    train, test = data.split(test=0.3, seed=seed)
    model = project.train("ebm", train, estimator="ebm", params={"n_jobs": 1})
    flat = project.train(
        "flat", train, estimator="ebm", params={"n_jobs": 1, "interactions": 0}
    )
    assert model.recipe["params"]["interactions"] == "5x"
    r2, r2_flat = model.evaluate(test).metrics["r2"], flat.evaluate(test).metrics["r2"]
    assert r2 > r2_flat + 0.05, (r2, r2_flat)
    again = reopen(project).model("ebm", version=model.version)
    np.testing.assert_allclose(again.predict(test), model.predict(test))
