"""Kernels promoting different versions of one model at the same time (issue 16.2).

Real processes, on the embedded store and on PostgreSQL + S3 (moto): each promotes
its own version of ``clf`` to production (and now and then to staging) repeatedly.
Afterwards there is exactly one production version, and the audit log replays to the
final stages: every ``promote`` entry names the stage its version really was at and
the production version it really replaced.
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

WORKER = str(Path(__file__).with_name("_promote_worker.py"))
_WORKERS, _COUNT = 3, 5


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(10, 2, size=n),
            "y": (x1 + rng.normal(scale=0.7, size=n) > 0).astype(int),
        }
    )


def _setup(proj: mnb.Project) -> None:
    data = proj.data("clf-data", _frame(), target="y")
    for trees in range(3, 3 + _WORKERS):  # versions 1..WORKERS, one per worker
        proj.train("clf", data, estimator="lightgbm", params={"n_estimators": trees})
    report = proj.model("clf", 1).promote("production", data=data, tolerance=1)
    assert report.replaced is None


def _race(where: dict, tmp_path: Path) -> list[dict]:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, json.dumps(where), str(w), str(_COUNT), str(go)],
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
    return lines


def _replay(proj: mnb.Project, lines: list[dict]) -> None:
    """The audit's promote entries, oldest first, must replay to the final stages."""
    log = proj.audit_log().sort_values("id")
    entries = log[
        (log["action"] == "promote") & log["object"].str.startswith("model:clf v")
    ]
    stages = dict.fromkeys(range(1, _WORKERS + 1), "candidate")
    production = None
    for obj, detail in zip(entries["object"], entries["detail"], strict=True):
        d = json.loads(detail) if isinstance(detail, str) else detail
        v = int(obj.rsplit(" v", 1)[1])
        assert d["frm"] == stages[v], (obj, d)  # the stage it really was at
        if d["to"] == "production":
            replaced = None if production in (None, v) else production
            assert d["replaced"] == (None if replaced is None else f"v{replaced}")
            if replaced is not None:
                stages[replaced] = "archived"
            production = v
        else:
            assert d["replaced"] is None
            if production == v:
                production = None
        stages[v] = d["to"]
    final = proj.models().set_index("version")["stage"].to_dict()
    assert final == stages
    assert list(final.values()).count("production") == (production is not None)
    # what each kernel was told is what the log says (the first entry: the setup's)
    told = sorted(
        (r["version"], r["from"], r["to"], r["replaced"]) for r in lines if "to" in r
    )
    logged = []
    for obj, detail in zip(entries["object"], entries["detail"], strict=True):
        d = json.loads(detail) if isinstance(detail, str) else detail
        replaced = None if d["replaced"] is None else int(d["replaced"][1:])
        logged.append((int(obj.rsplit(" v", 1)[1]), d["frm"], d["to"], replaced))
    assert told == sorted(logged[1:])
    conflicts = [r for r in lines if "conflict" in r]
    assert len(told) + len(conflicts) == _WORKERS * _COUNT
    assert len(told) > len(conflicts)
    checked = proj.verify()
    assert checked.ok, checked.problems


def _roll_back(proj: mnb.Project) -> None:
    """A rollback after the race puts back what the history says was replaced."""
    current = proj.model("clf", stage="production").version
    expected = proj._store.query(
        "SELECT m.version FROM model_stage_history h JOIN model_versions m "
        "ON m.id = h.model_id WHERE h.to_stage = 'archived' "
        "AND h.from_stage = 'production' AND m.version != ? ORDER BY h.id DESC",
        (current,),
    )[0]["version"]
    report = proj.rollback("clf", reason="race over")
    assert (report.replaced, report.model) == (current, f"clf v{expected}")
    assert proj.model("clf", stage="production").version == expected
    checked = proj.verify()
    assert checked.ok, checked.problems


@pytest.mark.slow
def test_processes_promoting_one_name_on_the_embedded_store(tmp_path):
    proj = mnb.Project.open(tmp_path / "proj")
    _setup(proj)
    lines = _race({"path": str(tmp_path / "proj")}, tmp_path)
    again = mnb.Project.open(tmp_path / "proj")
    _replay(again, lines)
    _roll_back(again)


@pytest.mark.slow
def test_processes_promoting_one_name_on_postgresql(team_url, tmp_path):
    url, artifacts = team_url
    proj = mnb.Project.open(url, artifacts=artifacts)
    try:
        _setup(proj)
        lines = _race({"url": url, "artifacts": artifacts}, tmp_path)
        _replay(proj, lines)
        _roll_back(proj)
    finally:
        proj._store.close()
