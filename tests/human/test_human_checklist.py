from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from _helpers import open_code, reopen
from mlops_nb import errors
from mlops_nb.human import configure_checklist


def _ready(case):
    """Record everything the checklist asks for except the sign-off."""
    proj, model, test = case["project"], case["model"], case["test"]
    configure_checklist(
        proj, by="Release manager", note="this project requires release sign-off"
    )
    proj.canvas(
        process="Approve small loans",
        value_level="optimize",
        positive_class=1,
        outcomes={"tp": 40, "fp": -100, "fn": -20, "tn": 0},
    )
    model.evaluate(test)
    model.fairness(test)
    model.explain(test)
    model.monitor(test)
    return model


def test_the_gate_is_off_until_a_project_requires_a_checklist(project):
    from _human_cases import build

    case = build(project, bias=False)
    report = case["model"].promote(
        "production", reason="first experiment", data=case["test"]
    )
    gate = next(g for g in report.gates if g.gate == "release checklist")
    assert gate.passed
    assert "configure_checklist" in gate.message


def test_checklist_blocks_production_until_signed(clean):
    model = _ready(clean)
    cl = model.checklist()
    assert [i.name for i in cl.open_items] == ["signed off"]
    with pytest.raises(
        errors.GateError, match="release checklist: signed off: no sign-off"
    ) as refused:
        model.promote("production", reason="first release")
    assert refused.value.failure_cases["gate"].tolist() == ["release checklist"]
    assert model.stage == "candidate"
    signed = cl.sign("A. Reviewer", note="fairness reviewed")
    assert signed.passed
    assert (
        "A. Reviewer" in signed.to_frame().set_index("name").loc["signed off", "detail"]
    )
    report = model.promote("production", reason="first release")
    assert report.to_stage == "production"
    gate = next(g for g in report.gates if g.gate == "release checklist")
    assert gate.passed
    assert "signed off by A. Reviewer" in gate.message
    log = clean["project"].audit_log()
    signoff = log[log["action"] == "save release-signoff"].iloc[0]
    assert "A. Reviewer" in signoff["detail"]
    assert "fairness reviewed" in signoff["detail"]
    assert {"promotion refused", "promote"} <= set(log["action"])
    card = model.card()
    assert "A. Reviewer" in dict(card.section("Release").facts)["sign-off"]


def test_sign_off_is_refused_while_items_fail_and_waivers_are_named(biased):
    model = _ready(biased)  # the planted bias exceeds the disparity limits
    cl = model.checklist()
    assert [i.name for i in cl.open_items] == ["fairness within limits", "signed off"]
    with pytest.raises(errors.ValidationError, match="cannot sign while 1 item"):
        cl.sign("A. Reviewer")
    assert (
        model.project._document("release-signoff", f"{model.name}@{model.version}")
        is None
    )
    with pytest.raises(errors.ValidationError, match="cannot be waived"):
        cl.waive("security checks passed", by="A. Reviewer", reason="no time")
    with pytest.raises(errors.ValidationError, match="needs a reason"):
        cl.waive("fairness within limits", by="A. Reviewer", reason=" ")
    waived = cl.waive(
        "fairness within limits",
        by="C. Officer",
        reason="pilot limited to 100 cases, reviewed weekly",
    )
    item = waived.to_frame().set_index("name").loc["fairness within limits"]
    assert item["passed"]
    assert "waived by C. Officer" in item["detail"]
    assert waived.sign("A. Reviewer").passed


def test_configuration_is_a_named_recorded_decision(project, tiny_asset):
    model = project.train("cfg", tiny_asset, estimator="logistic")
    with pytest.raises(errors.ValidationError, match="Did you mean 'signed off'"):
        configure_checklist(project, by="Lead", items=["signed of"])
    with pytest.raises(errors.ValidationError, match="must name a person"):
        configure_checklist(project, by="", items=[])
    config = configure_checklist(
        project,
        by="Lead Person",
        items=["signed off"],
        limits={"equalized_odds_difference": 0.05},
        note="pilot",
    )
    assert config["items"] == ["signed off"]
    assert config["limits"]["equalized_odds_difference"] == 0.05
    assert [i.name for i in model.checklist().items] == ["signed off"]
    configure_checklist(
        project, by="Lead Person", items=[], note="unit test: gate off on the record"
    )
    assert model.promote("production").to_stage == "production"
    assert (project.audit_log()["action"] == "save release-checklist").sum() == 2


def test_sign_off_form_in_the_widget(clean):
    model = clean["model"]
    box = model.checklist().widget()
    box.signer.value = ""
    box.sign_button.click()
    assert box.status.value.startswith("not signed")


@pytest.mark.slow
def test_the_gate_applies_in_a_kernel_that_never_imported_human(project):
    # this project requires a release checklist (recorded here, in another process)
    configure_checklist(project, by="Release manager")
    script = textwrap.dedent(f"""
        import json, sys
        import pandas as pd, numpy as np
        import mlops_nb as mnb
        proj = {open_code(project)}
        rng = np.random.default_rng(0)
        x, g = rng.normal(size=300), rng.choice(["a", "b"], 300)
        frame = pd.DataFrame({{"x": x, "g": g, "y": (x > 0).astype(int)}})
        data = proj.data("d", frame, target="y", sensitive="g")
        model = proj.train("m", data, estimator="logistic")
        assert "mlops_nb.human" not in sys.modules
        try:
            model.promote("production")
            print(json.dumps({{"promoted": True}}))
        except mnb.errors.GateError as err:
            gates = err.failure_cases["gate"].tolist()
            print(json.dumps({{"promoted": False, "gates": gates}}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_DISPLAY"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "promoted": False,
        "gates": ["release checklist"],
    }
    assert reopen(project).model("m").stage == "candidate"
