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
    return project.data("tiny", tiny_frame, target="y", sensitive="group", time="when", id="id")


def tree_snapshot(root) -> dict[str, object]:
    """What a folder holds, to show nothing changed: (size, sha256) of every file, and
    for a registry database its content (SQLite's own -wal/-shm bookkeeping aside)."""
    import hashlib
    import sqlite3
    from pathlib import Path

    out: dict[str, object] = {}
    for p in sorted(Path(root).rglob("*")):
        if not p.is_file() or p.is_symlink() or p.name.endswith(("-wal", "-shm")):
            continue
        key = str(p.relative_to(root))
        if p.name == "registry.sqlite":
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                out[key] = list(conn.iterdump())
            finally:
                conn.close()
        else:
            out[key] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out
