"""Issue 15 item 2: a binary model version has one decision threshold.

Default: the value canvas's value-maximising threshold on the validation rows,
recorded when the version is trained (else 0.5). ``set_threshold`` is validated,
audited, kept in the registry (the version's files never change) and survives
reopening; ``predict``, the evaluation and fairness decide with it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import mlops_nb as mnb
from _helpers import reopen
from mlops_nb.errors import StoreError, ValidationError
from mlops_nb.model._train import _holdout_split

WORKERS = Path(__file__).parents[1] / "store" / "_workers"
CANVASES = [
    {"tp": 50, "fp": -10, "fn": -20, "tn": 0},  # acting is cheap: a low threshold
    {"tp": 10, "fp": -40, "fn": 0, "tn": 5},  # acting is dear: a high one
    {"tp": 3, "fp": -1, "fn": -1, "tn": 1},
]


def _frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n),
            "group": rng.choice(["A", "B"], size=n),
            "y": (x + rng.normal(scale=1.0, size=n) > 0.3).astype(int),
        }
    )


def _canvas(project, outcomes, positive_class=1):
    return project.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes=outcomes,
        positive_class=positive_class,
    )


def _between(scores: np.ndarray, below: float = 0.05, above: float = 0.45) -> float:
    """A threshold halfway between two distinct scores in (below, above)."""
    s = np.unique(scores[(scores > below) & (scores < above)])
    assert len(s) >= 2
    i = len(s) // 2
    return float((s[i - 1] + s[i]) / 2)


@pytest.mark.parametrize(
    ("estimator", "outcomes", "positive"),
    [
        ("logistic", CANVASES[0], 1),
        ("logistic", CANVASES[1], 1),
        ("logistic", CANVASES[2], 0),
        ("lightgbm", CANVASES[0], 1),
    ],
)
def test_the_default_is_the_canvas_best_on_the_holdout(
    project, estimator, outcomes, positive
):
    """Default = evaluation's best threshold on the very holdout rows."""
    _canvas(project, outcomes, positive)
    frame = _frame()
    asset = project.data("d", frame, target="y", sensitive="group")
    params = {"n_estimators": 20} if estimator == "lightgbm" else None
    model = project.train("m", asset, estimator=estimator, params=params)
    info = model.threshold_info
    assert info["source"] == "canvas"
    assert info["positive_class"] == positive
    assert "holdout" in info["reason"]
    assert info["by"] == "tester"
    # the holdout rows, split as training split them, evaluated as their own data
    _, held, _, _ = _holdout_split(frame, frame["y"], 0.2, 0, stratify=True)
    holdout = project.data("holdout", frame.loc[held.index], target="y")
    ev = model.evaluate(holdout)
    assert model.threshold == ev.best_threshold
    assert ev.value["model_threshold"] == ev.best_threshold
    assert ev.threshold["source"] == "canvas"


def test_without_a_canvas_the_default_is_half_and_only_binary_has_one(project):
    frame = _frame()
    model = project.train("m", project.data("d", frame, target="y"))
    assert model.threshold == 0.5
    assert model.threshold_info["source"] == "default"
    assert model.threshold_info["positive_class"] == 1
    reg = project.train(
        "r", project.data("r", frame.assign(y=frame["x"] * 2), target="y")
    )
    multi = project.train(
        "k",
        project.data("k", frame.assign(y=np.arange(len(frame)) % 3), target="y"),
        estimator="logistic",
    )
    for other in (reg, multi):
        assert other.threshold is None
        assert other.threshold_info is None
        with pytest.raises(ValidationError, match="only a binary classifier"):
            other.set_threshold(0.3, reason="try")


_BAD_T = st.one_of(
    st.floats(max_value=0.0),
    st.floats(min_value=1.0),
    st.just(math.nan),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
_BAD_REASON = st.one_of(st.just(""), st.text(" \t\n", max_size=4), st.none())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(t=_BAD_T, reason=_BAD_REASON, which=st.sampled_from(["t", "reason"]))
def test_bad_thresholds_and_reasons_are_refused_and_change_nothing(
    tmp_path_factory, t, reason, which
):
    model = _trained_once(tmp_path_factory)
    before = model.threshold_info
    entries = len(model.project.audit_log())
    args = (t, "a reason") if which == "t" else (0.3, reason)
    with pytest.raises(ValidationError, match="set_threshold") as err:
        model.set_threshold(args[0], reason=args[1])
    assert ("between 0" in str(err.value)) == (which == "t")
    assert model.threshold_info == before
    assert len(model.project.audit_log()) == entries


_CACHE: dict[str, mnb.Model] = {}


def _trained_once(factory) -> mnb.Model:
    if "m" not in _CACHE:
        proj = mnb.Project.open(factory.mktemp("bad") / "p")
        _CACHE["m"] = proj.train(
            "m", proj.data("d", _frame(), target="y"), estimator="logistic"
        )
    return _CACHE["m"]


def test_set_threshold_is_audited_kept_after_reopening_and_files_unchanged(project):
    _canvas(project, CANVASES[0])
    model = project.train(
        "m", project.data("d", _frame(), target="y"), estimator="logistic"
    )
    mnb.secure.generate_key(project)
    mnb.secure.sign_model(model)
    artifacts, canvas_t = dict(model.artifacts), model.threshold
    info = model.set_threshold(0.3, reason="the credit committee asked for 0.3")
    assert info["value"] == 0.3
    assert info["source"] == "set"
    assert info["by"] == "tester"
    last = project.audit_log(limit=1).iloc[0]
    assert last["action"] == "set_threshold"
    assert last["object"] == "model:m@1"
    detail = json.loads(last["detail"])
    assert detail["reason"] == "the credit committee asked for 0.3"
    assert detail["previous"] == canvas_t
    assert detail["previous_source"] == "canvas"
    again = reopen(project).model("m", version=1)
    assert again.threshold == 0.3
    assert again.threshold_info["reason"] == "the credit committee asked for 0.3"
    assert again.artifacts == artifacts  # the version's files did not change
    assert project.verify().ok  # the signature still verifies ...
    assert len(again.predict(_frame(20, seed=3))) == 20  # ... and loads


@pytest.mark.embedded_only  # makes the folder read-only with chmod
def test_a_read_only_project_refuses_set_threshold(project, tmp_path):
    model = project.train(
        "m", project.data("d", _frame(), target="y"), estimator="logistic"
    )
    project._store.db.close()
    root = project.path
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from readonly_reader import drop_all_capabilities; drop_all_capabilities();"
        "import warnings; warnings.simplefilter('ignore');"
        "import mlops_nb as mnb; m = mnb.Project.open(sys.argv[2]).model('m');"
        "out = {'before': m.threshold};\n"
        "try:\n m.set_threshold(0.2, reason='x'); out['error'] = None\n"
        "except Exception as e:\n out['error'] = f'{type(e).__name__}: {e}'\n"
        "out['after'] = m.threshold; print(json.dumps(out))"
    )
    try:
        run = subprocess.run(
            [sys.executable, "-c", code, str(WORKERS), str(root)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o700 if p.is_dir() else 0o600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["error"].startswith("StoreError")
    assert "read-only" in out["error"]
    assert "set_threshold" in out["error"]
    assert out["before"] == out["after"] == model.threshold == 0.5
    assert StoreError  # the class the child named


@settings(max_examples=5, deadline=None)
@given(where=st.floats(0.1, 0.9))
def test_predict_evaluation_and_fairness_decide_at_the_threshold(
    tmp_path_factory, where
):
    with mnb.config_context(display="text", user="tester"):
        proj = mnb.Project.open(tmp_path_factory.mktemp("flip") / "p")
        asset = proj.data("d", _frame(600, seed=2), target="y", sensitive="group")
        train, test = asset.split(test=0.4, seed=0, stratify="y")
        model = proj.train("m", train, estimator="logistic")
        p = model.predict_proba(test)[:, 1]
        t = _between(p, 0.02, 0.48) if where < 0.5 else _between(p, 0.52, 0.98)
        model.set_threshold(t, reason="planted between two scores")
        y = test.frame["y"].to_numpy()
        decided = (p >= t).astype(int)
        assert (decided != (p >= 0.5)).any()  # the planted rows flip
        assert model.predict(test).tolist() == decided.tolist()
        ev = model.evaluate(test)
        assert ev.threshold["value"] == t
        assert ev.metrics["accuracy"] == pytest.approx((decided == y).mean())
        assert ev.metrics["f1"] == pytest.approx(skm.f1_score(y, decided))
        assert ev.payload["confusion"]["matrix"] == (
            skm.confusion_matrix(y, decided, labels=[0, 1]).tolist()
        )
        fair = model.fairness(test, n_boot=0)
        assert fair.payload["threshold"]["value"] == t
        assert fair.payload["overall"]["selection rate"] == pytest.approx(
            decided.mean()
        )
