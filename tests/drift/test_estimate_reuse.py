"""The label-free estimate is fitted once per data: labels arriving do not refit CBPE.

CBPE reads the model's scores and decisions, never the analysis labels. After
``add_targets`` the review computes realized performance and the concept verdict,
but its estimate (values, bands, thresholds, confusion counts, value per chunk)
must be the same numbers as before, and the same as a fresh fit in a project that
never saw the first review.
"""

from __future__ import annotations

import pytest
from _drift_helpers import scenario_frames

import mlops_nb as mnb
from mlops_nb.drift import _performance

ESTIMATED = ("estimated", "sampling_error", "lower_band", "upper_band", "alert")


@pytest.fixture
def cbpe_fits(monkeypatch):
    """Count the real CBPE runs (the estimator itself runs unchanged)."""
    calls = []
    real = _performance.estimate_cbpe

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_performance, "estimate_cbpe", counted)
    return calls


@pytest.mark.parametrize(
    ("effects", "chunk"),
    [
        ({}, 3000),
        ({"drift": {"features": ["x1", "group"], "start": 0.5}}, 4000),
        ({"label_noise": 0.2}, 2500),
    ],
    ids=["clean", "drift", "noise"],
)
def test_labels_arriving_reuse_the_estimate_and_keep_its_numbers(
    drift_project, cbpe_fits, tmp_path, effects, chunk
):
    proj = drift_project
    model, test_split = proj.model("m"), proj.asset("sc-test")
    proj.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    _, _, ana = scenario_frames(**effects)
    mon = model.monitor(reference=test_split, chunk=chunk)
    mon.observe(ana.drop(columns="y"))
    before = mon.review().payload
    assert len(cbpe_fits) == 1
    mon.add_targets(ana[["id", "y"]])

    # the same project state in another folder: no earlier estimate to reuse
    fresh_path = proj.backup(tmp_path / "fresh")  # a folder, from either store
    after = mon.review().payload
    assert len(cbpe_fits) == 1, "CBPE fitted again although only labels arrived"
    fresh = mnb.Project.open(fresh_path).monitor("m").review().payload
    assert len(cbpe_fits) == 2

    assert any(r is not None for r in after["performance"]["realized"])
    for key in ESTIMATED:
        assert after["performance"][key] == before["performance"][key], key
        assert after["performance"][key] == fresh["performance"][key], key
    assert after["performance"]["confusion"] == fresh["performance"]["confusion"]
    assert after["performance"]["concept"] == fresh["performance"]["concept"]
    assert after["value"] == fresh["value"]
    assert after["recommendation"] == fresh["recommendation"]


def test_new_data_is_estimated_afresh(drift_project, cbpe_fits):
    model, test_split = drift_project.model("m"), drift_project.asset("sc-test")
    _, _, ana = scenario_frames()
    mon = model.monitor(reference=test_split, chunk=3000)
    mon.observe(ana.iloc[:6000].drop(columns="y"))
    mon.review()
    mon.observe(ana.iloc[6000:].drop(columns="y"))
    second = mon.review().payload
    assert len(cbpe_fits) == 2
    assert len(second["performance"]["estimated"]) == 4
