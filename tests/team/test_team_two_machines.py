"""The issue's size of concurrent use of one team project (real PostgreSQL + moto S3).

Four processes each register 50 data versions of one name and, every other step,
promote their own model version to production or back to staging. Two of them are
"other machines" for the object store: an fsspec instance of their own with the
listings cache off. Nothing may be lost: gap-free numbering, one production version,
every promotion in the stage history, a valid audit chain and every blob present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb

_WORKERS, _COUNT = 4, 50
_OTHER_MACHINE = {"use_listings_cache": False, "skip_instance_cache": True}


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "y": (x1 + rng.normal(scale=0.7, size=n) > 0).astype(int),
        }
    )


@pytest.mark.slow
def test_four_machines_register_50_versions_each_and_promote(team_url, tmp_path):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    data = proj.data("clf-data", _frame(), target="y")
    for trees in range(3, 3 + _WORKERS):  # versions 1-4, one per worker
        proj.train("clf", data, estimator="lightgbm", params={"n_estimators": trees})
    worker = str(Path(__file__).with_name("_project_worker.py"))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, worker, url, artifacts, str(w), str(_COUNT), str(go)]
            + ([json.dumps(_OTHER_MACHINE)] if w >= 2 else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(_WORKERS)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    go.touch()
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        lines += [json.loads(line) for line in out.splitlines() if line.strip()]

    registered = sorted(r["version"] for r in lines if "version" in r)
    total = _WORKERS * _COUNT
    assert registered == list(range(1, total + 1))  # none lost or shared, no gap
    versions = proj.versions("shared")
    assert sorted(versions["version"]) == registered
    promoted = [r for r in lines if "promoted" in r]
    to_production = sum(1 for r in promoted if r["promoted"] == "production")
    assert to_production == _WORKERS * len(range(1, _COUNT, 4))
    models = proj.models()
    assert models["stage"].tolist().count("production") == 1
    history = proj.audit_log()
    assert (history["action"] == "promote").sum() >= len(promoted)
    checked = proj.verify()
    assert checked.ok, (checked.problems, checked.result.audit)
    assert checked.result.checked == len(proj._store.referenced_blobs())
    assert checked.result.unreferenced == []
    proj._store.close()
