"""`mlops-nb retrain`: new data, production recipe, gates, report, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlops_nb as mnb
from _helpers import project_args

EXE = str(Path(sys.executable).parent / "mlops-nb")


@pytest.fixture
def champion_project(tmp_path):
    data = mnb.datasets.scenario(n=3000, seed=1)
    proj = mnb.Project.open(tmp_path / "proj")
    frame = data.frame.drop(columns=[data.time])
    ref = proj.data(
        "loans", frame, target=data.target, sensitive=list(data.sensitive), id=data.id
    )
    train, test = ref.split(test=0.25, seed=0, stratify=data.target)
    model = proj.train("risk", train, params={"n_estimators": 40})
    model.evaluate(test)
    model.promote("production", reason="first")
    return proj, frame, data.target


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    return subprocess.run(
        [EXE, "retrain", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_retrain_promotes_a_good_challenger_with_report(champion_project, tmp_path):
    proj, _frame, _target = champion_project
    new = mnb.datasets.scenario(n=3000, seed=2).frame.drop(columns=["timestamp"])
    new.to_parquet(tmp_path / "new.parquet")
    done = _run([str(proj.path), "--model", "risk",
                 "--data", str(tmp_path / "new.parquet"),
                 "--report", str(tmp_path / "r.html")], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["promoted"]
    assert summary["challenger"] == 2
    assert summary["data"] == "loans v2"
    html = (tmp_path / "r.html").read_text()
    assert "Retraining report" in html
    assert "PROMOTED" in html
    assert "Comparison" in html
    fresh = mnb.Project.open(proj.path)
    prod = fresh.model("risk", stage="production")
    assert prod.version == 2
    assert prod.lineage["parent_model"] == ["risk", 1]
    assert prod.recipe["user_params"] == {"n_estimators": 40}
    assert fresh.asset("loans-train").version == 2  # split of the new data


@pytest.mark.slow
def test_retrain_refuses_a_worse_challenger_and_exits_1(champion_project, tmp_path):
    proj, _frame, target = champion_project
    rng = np.random.default_rng(0)
    noisy = mnb.datasets.scenario(n=3000, seed=3).frame.drop(columns=["timestamp"])
    noisy[target] = rng.permutation(noisy[target].to_numpy())  # labels carry no signal
    noisy.to_csv(tmp_path / "noisy.csv", index=False)
    done = _run([str(proj.path), "--model", "risk",
                 "--data", str(tmp_path / "noisy.csv"), "--min-metric", "roc_auc=0.7",
                 "--report", str(tmp_path / "r.html")], tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "gate minimum roc_auc" in done.stderr
    summary = json.loads((tmp_path / "r.json").read_text())
    assert not summary["promoted"]
    assert {f["gate"] for f in summary["failures"]} >= {"minimum roc_auc"}
    assert mnb.Project.open(proj.path).model("risk", stage="production").version == 1
    assert "NOT PROMOTED" in (tmp_path / "r.html").read_text()


def test_retrain_without_production_is_a_clear_error(tmp_path, tiny_asset, project):
    done = _run(
        [*project_args(project), "--model", "nope", "--data", "x.csv"], tmp_path
    )
    assert done.returncode == 2
    assert "no model named 'nope'" in done.stderr
