"""Shared fixtures: small seeded frames and a fresh project in a temporary folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb

pytest_plugins = ["_offline_guard"]


@pytest.fixture(autouse=True)
def _quiet_config():
    """Each test starts from the default settings and a known user."""
    with mnb.config_context(display="widget", user="tester"):
        yield


@pytest.fixture
def project(tmp_path) -> mnb.Project:
    return mnb.Project.open(tmp_path / "proj")


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
