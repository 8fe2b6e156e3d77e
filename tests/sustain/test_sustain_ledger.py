"""The ledger: entries summed by model version, stage, in total, per 1,000 rows."""

from __future__ import annotations

import time

import pytest

import mlops_nb as mnb
from mlops_nb.sustain import SustainabilityReport, measure


def _work(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(i * i for i in range(500))


@pytest.fixture
def ledger(project, tiny_asset):
    """Entries of known shape; training itself may add entries (the train hook)."""
    v1 = project.train("clf", tiny_asset, params={"n_estimators": 5})
    v2 = project.train("clf", tiny_asset, params={"n_estimators": 10})
    before = len(project.sustainability().entries)
    with measure(project, "train", v1):
        _work(0.03)
    with measure(project, "train", v2):
        _work(0.02)
    with measure(project, "evaluate", v1):
        _work(0.01)
    with measure(project, "benchmark", v1, variant="native", predictions=4000):
        for _ in range(10):
            v1.predict(tiny_asset)
    with measure(project, "benchmark", v1, variant="onnx-int8", predictions=2000):
        _work(0.02)
    with measure(project, "export", "bundle:edge"):
        _work(0.01)
    return project.sustainability(), before


def test_entries_are_summed_by_stage_model_and_in_total(ledger):
    report, before = ledger
    frame = report.to_frame()
    ours = frame.iloc[before:]
    stages = ["train", "train", "evaluate", "benchmark", "benchmark", "export"]
    assert list(ours["stage"]) == stages
    assert ours["within"].isna().all()
    # totals count each entry's own share, so nested entries are not counted twice
    total_wh = frame["self_energy_kwh"].sum() * 1000
    assert report.energy_kwh * 1000 == pytest.approx(total_wh)
    top = frame[frame["within"].isna()]
    assert total_wh == pytest.approx(top["energy_kwh"].sum() * 1000)
    assert report.emissions_kg == pytest.approx(frame["self_emissions_kg"].sum())
    by_stage = report.by_stage().set_index("stage")
    assert by_stage.loc["benchmark", "entries"] == 2
    assert by_stage.loc["export", "Wh"] == pytest.approx(
        ours.iloc[5]["energy_kwh"] * 1e3
    )
    assert by_stage["Wh"].sum() == pytest.approx(total_wh)
    train_rows = frame[frame["stage"] == "train"]
    train_wh = train_rows["self_energy_kwh"].sum() * 1000
    assert by_stage.loc["train", "Wh"] == pytest.approx(train_wh)
    by_model = report.by_model().set_index("model version")
    assert list(by_model.index) == ["clf v1", "clf v2"]
    v1_rows = frame[(frame["model"] == "clf") & (frame["model_version"] == 1)]
    assert by_model.loc["clf v1", "entries"] == len(v1_rows)
    v1_wh = v1_rows["self_energy_kwh"].sum() * 1000
    assert by_model.loc["clf v1", "Wh"] == pytest.approx(v1_wh)
    v1_train = v1_rows[v1_rows["stage"] == "train"]["self_energy_kwh"].sum() * 1000
    assert by_model.loc["clf v1", "train Wh"] == pytest.approx(v1_train)
    # the bundle export belongs to no model version
    assert by_model["Wh"].sum() == pytest.approx(
        total_wh - by_stage.loc["export", "Wh"]
    )


def test_per_1000_predictions_for_each_variant(ledger):
    report, _ = ledger
    per = report.per_1000_predictions().set_index("variant")
    frame = report.to_frame().set_index("variant")
    native = frame.loc["native"]
    assert per.loc["native", "predictions"] == 4000
    assert per.loc["native", "Wh per 1,000"] == pytest.approx(
        native["energy_kwh"] * 1e6 / 4000
    )
    assert per.loc["onnx-int8", "g CO2e per 1,000"] == pytest.approx(
        frame.loc["onnx-int8", "emissions_kg"] * 1e6 / 2000
    )
    assert set(per["object"]) == {"model:clf@1"}


def test_the_ledger_renders_with_charts_and_says_it_estimates(ledger):
    report, _ = ledger
    html = report._repr_html_()
    for text in (
        "Sustainability",
        "By model version",
        "By stage",
        "Per 1,000 predictions",
        "Entries",
        "clf v1",
        "onnx-int8",
        "CodeCarbon",
        "DEU",
        "a default",
    ):
        assert text in html, text
    assert "estimates, not meter readings" in html or report.estimated is False
    assert len(report._view().figures()) == 4
    assert "Wh" in repr(report)
    for kind in ("cumulative", "stage", "model", "per_1000"):
        assert report.plot(kind).data
    with pytest.raises(mnb.errors.ValidationError, match="per_1000"):
        report.plot("pie")


def test_filter_by_model_and_reopen_in_a_new_session(project, ledger):
    report, _ = ledger
    only = project.sustainability(model="clf")
    assert len(only.entries) == len(report.entries) - 1  # all but the bundle export
    assert {e["model"] for e in only.entries} == {"clf"}
    with pytest.raises(mnb.errors.NotFoundError, match="clf"):
        project.sustainability(model="nope")
    reopened = mnb.Project.open(project.path).sustainability()
    assert reopened.entries == report.entries


def test_an_empty_ledger_says_how_to_start(project):
    report = project.sustainability()
    assert isinstance(report, SustainabilityReport)
    assert report.energy_kwh == 0
    assert report.to_frame().empty
    assert "No measured actions yet" in report._repr_html_()
    assert report.by_model().empty
    assert report.per_1000_predictions().empty
