"""Features that used to read blob files from the project folder, on a team project.

The optimisation table's native model size and model signing read blobs through the
store's interface, so they work on PostgreSQL + S3 (moto over HTTP) as on a folder;
and a blob changed in S3 after signing fails verification by artifact name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb.errors import IntegrityError


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "y": (x1 + rng.normal(scale=0.7, size=n) > 0).astype(int),
        }
    )


@pytest.fixture
def team_model(team_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_NB_TEAM_HOME", str(tmp_path / "home"))  # keys go here
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    data = proj.data("d", _frame(), target="y")
    train, test = data.split(test=0.3, seed=0, stratify="y")
    model = proj.train("clf", train, estimator="lightgbm", params={"n_estimators": 5})
    yield proj, model, test
    proj._store.close()


def test_optimize_measures_the_native_model_of_a_team_project(team_model):
    proj, model, test = team_model
    variants = model.optimize(test, kinds=("graph",), latency_seconds=0.02)
    native = next(r for r in variants.rows if r["kind"] == "native")
    expected = sum(len(proj._store.read_blob(d)) for d in model.artifacts.values())
    assert native["size_bytes"] == expected > 0
    assert native["status"] == "measured"


def test_a_team_model_is_signed_verified_and_a_changed_s3_blob_named(team_model):
    import s3fs

    proj, model, _ = team_model
    check = mnb.secure.sign_model(model)
    assert check.status == "verified", check.problems
    assert mnb.secure.verify_model(model).status == "verified"
    assert mnb.secure.verify_model(model, rehash=False).status == "verified"
    art, blob = sorted(model.artifacts.items())[0]
    key = proj._store.artifacts.key_for(blob)
    s3fs.S3FileSystem(skip_instance_cache=True).pipe_file(key, b"planted bytes")
    changed = mnb.secure.verify_model(model)
    assert changed.status == "failed"
    assert any(art in p["problem"] for p in changed.problems), changed.problems
    with pytest.raises(IntegrityError, match="not signed"):
        mnb.secure.sign_model(model)
    s3fs.S3FileSystem(skip_instance_cache=True).rm_file(key)
    gone = mnb.secure.verify_model(model)
    assert gone.status == "failed"
    assert any(art in p["problem"] for p in gone.problems), gone.problems
