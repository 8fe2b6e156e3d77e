"""The Monitor: storage, observe, labels, anchored reference, verdicts, retraining."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _drift_helpers import scenario_frames

from _helpers import reopen
from mlops_nb.drift import Monitor, list_monitors, open_monitor
from mlops_nb.drift._verdict import UNVERIFIED
from mlops_nb.errors import (
    EmptyDataError,
    NotFoundError,
    SchemaError,
    ValidationError,
)


def _mon(model, test_split, **options):
    return model.monitor(reference=test_split, chunk=2000, multivariate=[], **options)


def test_monitor_is_stored_with_its_model_version_and_reopens(
    drift_project, model, test_split, analysis
):
    mon = _mon(model, test_split)
    assert isinstance(mon, Monitor)
    assert mon.name == "m@v1"
    obs = mon.observe(analysis)
    assert obs.new
    assert obs.rows == 12_000
    assert len(obs.chunks) == 6
    again = reopen(drift_project).model("m").monitor(reference=test_split)
    assert [a.label for a in again.batches] == ["m-v1-analysis v1"]
    assert again.options["chunk"] == {
        "kind": "size",
        "value": 2000,
        "time_column": "timestamp",
    }
    assert "Monitor m@v1" in again._text()
    assert open_monitor(drift_project, "m").name == "m@v1"
    table = list_monitors(drift_project)
    assert table[["monitor", "batches"]].to_dict("records") == [
        {"monitor": "m@v1", "batches": 1}
    ]
    with pytest.raises(NotFoundError, match="Monitors: 'm@v1'"):
        open_monitor(drift_project, "other")


def test_observing_the_same_batch_twice_changes_nothing(model, test_split, analysis):
    mon = _mon(model, test_split)
    mon.observe(analysis)
    versions = len(mon.history())
    obs = mon.observe(analysis)
    assert not obs.new
    assert len(mon.history()) == versions


def test_batches_are_data_versions_with_lineage(
    drift_project, model, test_split, analysis
):
    mon = _mon(model, test_split)
    mon.observe(analysis.iloc[:6000])
    mon.observe(analysis.iloc[6000:])
    second = drift_project.asset("m-v1-analysis", 2)
    assert second.parents == (("m-v1-analysis", 1),)
    assert second.schema.time == "timestamp"
    assert second.schema.id == "id"
    assert second.schema.target is None


def test_a_missing_or_retyped_column_is_refused_and_nothing_is_stored(
    drift_project, model, test_split, analysis
):
    mon = _mon(model, test_split)
    bad = analysis.drop(columns=["x2"]).assign(
        x1=analysis["x1"].map(lambda v: f"{v:.2f} kg")
    )
    with pytest.raises(SchemaError, match="'x2' missing") as err:
        mon.observe(bad)
    assert set(err.value.failure_cases["column"]) == {"x2", "x1"}
    assert "retyped" in str(err.value)
    assert "m-v1-analysis" not in drift_project.assets()["name"].tolist()
    assert mon.state["batches"] == []
    with pytest.raises(EmptyDataError):
        mon.observe(analysis.iloc[:0])


def test_options_are_checked_all_at_once(model, test_split):
    with pytest.raises(ValidationError, match="3 invalid option") as err:
        model.monitor(reference=test_split, chunk="fortnight", alert_on=["js"], std=-1)
    assert len(err.value.failure_cases) == 3
    with pytest.raises(ValidationError, match="Did you mean 'chunk'"):
        model.monitor(reference=test_split, chunks=5)


def test_labels_join_by_id_and_report_matches(model, test_split, analysis):
    mon = _mon(model, test_split)
    mon.observe(analysis)
    _, _, labelled = scenario_frames()
    labels = labelled[["id", "y"]].iloc[:5000]
    stray = labels.iloc[:10].assign(id=labels["id"].iloc[:10] + 10**6)
    report = mon.add_targets(__import__("pandas").concat([labels, stray]), on="id")
    assert (report.labels, report.matched, report.unmatched, report.labelled) == (
        5010,
        5000,
        10,
        5000,
    )
    with pytest.raises(SchemaError, match="repeated id"):
        mon.add_targets(labels.iloc[[0, 0]])
    with pytest.raises(SchemaError, match="missing column"):
        mon.add_targets(labels[["id"]])


def test_the_reference_changes_only_through_an_audited_rebaseline(
    drift_project, model, test_split
):
    mon = _mon(model, test_split)
    new_ref = drift_project.asset("sc-train")
    with pytest.raises(ValidationError, match="anchored to sc-test v1"):
        model.monitor(reference=new_ref)
    with pytest.raises(ValidationError, match="give a reason"):
        mon.approve_rebaseline(new_ref, reason="")
    record = mon.approve_rebaseline(
        new_ref, reason="new product line, reviewed by the data owner"
    )
    assert mon.reference.label == "sc-train v1"
    entry = (
        drift_project.audit_log(limit=5).query("action == 'approve rebaseline'").iloc[0]
    )
    detail = json.loads(entry["detail"])
    assert entry["user"] == "tester"
    assert entry["object"] == "monitor:m@v1"
    assert detail["reason"] == "new product line, reviewed by the data owner"
    assert detail["old_sha256"] == test_split.content_hash
    assert detail["new_sha256"] == new_ref.content_hash
    assert "audited" in record._html()


def test_planted_covariate_drift_is_found_and_clean_data_is_not(model, test_split):
    _, _, ana = scenario_frames(
        drift={"features": ["x1"], "start": 2 / 3, "shift": 0.5}
    )
    mon = _mon(model, test_split)
    mon.observe(ana.drop(columns="y"))
    review = mon.review()
    uni = review.payload["univariate"]
    row = uni["alerts"][uni["columns"].index("x1")]
    assert row == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]  # drift from row 12,000 = chunk 3
    others = [
        a
        for a in review.payload["alerts"]
        if a["kind"] == "data drift" and a["what"] != "x1"
    ]
    assert len(others) <= 2
    assert review.recommendation["action"] == "investigate"
    assert any("x1" in r for r in review.recommendation["reasons"])


def test_concept_shift_is_unverified_until_labels_show_it(
    drift_project, model, test_split
):
    """SECURITY-TESTS T27: labels of one region flip from a point in time on."""
    _, _, ana = scenario_frames()
    flip = (ana["id"] >= 12_000) & (ana["region"] == "north")
    ana.loc[flip, "y"] = 1 - ana.loc[flip, "y"]
    mon = _mon(model, test_split)
    mon.observe(ana.drop(columns="y"))
    before = mon.review()
    assert before.status == [UNVERIFIED] * 6  # never "healthy" without labels
    est = before.payload["performance"]["estimated"]
    ref_auc = before.payload["performance"]["reference_value"]
    assert (
        max(abs(e - ref_auc) for e in est) < 0.03
    )  # CBPE stays near the reference (it cannot see it)
    mon.add_targets(ana[["id", "y"]], on="id")
    after = mon.review()
    perf = after.payload["performance"]
    assert perf["realized_alert"][3:] == [True] * 3
    assert not any(perf["realized_alert"][:3])
    assert after.status[:3] == ["healthy"] * 3
    assert set(after.status[3:]) == {"concept drift"}
    assert after.recommendation["action"] == "retrain"


def test_review_is_stored_and_reloaded(drift_project, model, test_split, analysis):
    mon = _mon(model, test_split)
    mon.observe(analysis)
    first = mon.review()
    reopened = reopen(drift_project).model("m").monitor(reference=test_split).review()
    assert reopened.payload == json.loads(json.dumps(first.payload))
    assert reopened.payload["timings"] == first.payload["timings"]  # not recomputed


def test_retrain_hands_labelled_data_to_model_ops(drift_project, model, test_split):
    _, _, ana = scenario_frames()
    mon = _mon(model, test_split)
    mon.observe(ana.drop(columns="y"))
    with pytest.raises(ValidationError, match="no observed row has a label"):
        mon.retrain()
    mon.add_targets(ana[["id", "y"]])
    result = mon.retrain(last_chunks=2, reason="drift review: test hand-off")
    assert result.challenger == 2
    assert result.data == "sc v2"
    new_data = drift_project.asset("sc", 2)
    assert new_data.n_rows == 4000
    assert new_data.parents == (("sc", 1),)
    assert new_data.frame["y"].dtype == np.int64
    assert mon.state["retrains"][0]["challenger"] == 2


def test_retrain_needs_a_production_version(drift_project, test_split, analysis):
    model = drift_project.train(
        "other", drift_project.asset("sc-train"), params={"n_estimators": 5}
    )
    mon = model.monitor(reference=test_split, chunk=2000, multivariate=[])
    mon.observe(analysis)
    with pytest.raises(ValidationError, match="has no production version"):
        mon.retrain()


def test_labels_do_not_recompute_label_free_sections(model, test_split):
    _, _, ana = scenario_frames()
    mon = model.monitor(reference=test_split, chunk=3000)  # multivariate on
    mon.observe(ana.drop(columns="y"))
    before = mon.review()
    mon.add_targets(ana[["id", "y"]])
    after = mon.review()
    assert "multivariate" in before.payload["timings"]
    assert "multivariate" not in after.payload["timings"]
    assert after.payload["multivariate"] == before.payload["multivariate"]
    assert after.payload["performance"]["realized"][0] is not None
