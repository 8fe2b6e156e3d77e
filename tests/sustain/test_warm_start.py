"""retrain_warm: LightGBM continued training vs a full retrain, both measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb


def _frame(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    cat = rng.choice(["a", "b", "c", "d"], size=n)
    logit = (
        X[:, 0]
        + 0.6 * X[:, 1] * X[:, 2]
        - 0.7 * X[:, 3]
        + shift * X[:, 4]
        + 0.8 * (cat == "a")
    )
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(cat=cat, y=y)
    return frame.assign(id=np.arange(n) + seed * n)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    proj = mnb.Project.open(tmp_path_factory.mktemp("warm") / "proj")
    proj.canvas(
        process="Offer a discount",
        value_level="optimize",
        outcomes={"tp": 50, "fp": -10, "fn": -20, "tn": 0},
        positive_class=1,
    )
    old = proj.data("d", _frame(40_000, 1, 0.0), target="y", id="id")
    parent = proj.train("m", old)  # 200 rounds
    new = proj.data("d", _frame(40_000, 2, 1.0), note="drifted")
    report = parent.retrain_warm(new, extra_trees=10)
    return proj, parent, new, report


def test_warm_start_makes_a_valid_version_with_lineage(warm):
    proj, parent, _, report = warm
    w = report.warm
    assert (w.label, w.stage, w.flavor) == ("m v2", "candidate", "lightgbm")
    assert w.lineage["parent_model"] == ["m", 1]
    assert w.lineage["data"][0]["name"] == "d-train"
    ws = w.recipe["warm_start"]
    assert ws == {
        "from": "m v1",
        "initial_rounds": 200,
        "extra_rounds": 10,
        "total_rounds": 210,
        "learning_rate": 0.05,
        "preprocessing": "kept from m v1",
    }
    assert w.recipe["params"]["n_estimators"] == 10
    assert w.recipe["user_params"] == parent.recipe["user_params"]
    test = proj.asset("d-test")
    p_parent, p_warm = parent.predict_proba(test), w.predict_proba(test)
    assert p_warm.shape == p_parent.shape
    assert np.allclose(p_warm.sum(axis=1), 1)
    assert not np.allclose(p_warm, p_parent)  # the added rounds learnt something
    # reloading from the stored files predicts the same
    again = mnb.Project.open(proj.path).model("m", 2)
    assert np.array_equal(again.predict_proba(test), p_warm)


def test_warm_start_trains_less_and_uses_less_energy_than_a_full_retrain(warm):
    proj, _, _, report = warm
    rows = {r["option"].split(" (")[0]: r for r in report.payload["rows"]}
    w, f = rows["warm start"], rows["full retrain"]
    assert report.full.label == "m v3"
    assert report.full.lineage["parent_model"] == ["m", 1]
    assert "warm_start" not in report.full.recipe
    assert (w["boosting rounds trained"], f["boosting rounds trained"]) == (10, 200)
    # Less work: fewer CPU seconds, and CodeCarbon's CPU energy (in process mode it
    # follows this process's CPU time, with TDP estimates and with RAPL alike).
    # Wall-clock figures (RAM energy, total energy, seconds) are printed, not
    # asserted: on a shared machine other processes stretch them at random.
    assert 0 < w["cpu s"] < f["cpu s"]
    assert 0 < w["cpu_energy_kwh"] < f["cpu_energy_kwh"]
    assert report.payload["cpu_saved_share"] > 0
    assert report.energy_saved_kwh == pytest.approx(f["energy_kwh"] - w["energy_kwh"])
    assert report.energy_saved_share < 1
    print(
        f"warm start: {w['cpu s']:.3f} CPU s, {w['energy_kwh'] * 1000:.5f} Wh; "
        f"full retrain: {f['cpu s']:.3f} CPU s, {f['energy_kwh'] * 1000:.5f} Wh; "
        f"saved {report.energy_saved_share:.0%}; "
        f"roc_auc change {report.metric_change:+.4f}"
    )
    # both actions are in the ledger, each attached to the version it produced
    # (a train hook, when wired, adds an entry nested within the full retrain's)
    ledger = proj.sustainability().to_frame()
    top = ledger[ledger["within"].isna() & (ledger["stage"] == "train")]
    by_note = top.set_index(top["note"].str.split(":").str[0])
    assert by_note.loc["warm start", "object"] == "model:m@2"
    assert by_note.loc["warm start", "energy_kwh"] == pytest.approx(w["energy_kwh"])
    full = by_note.loc["full retrain with the recipe of m v1 (comparison)"]
    assert full["object"] == "model:m@3"
    assert full["energy_kwh"] == pytest.approx(f["energy_kwh"])


def test_accuracy_and_money_are_compared_on_the_same_test_split(warm):
    proj, _, _, report = warm
    p = report.payload
    assert (p["test"], p["train"]) == ("d-test v1", "d-train v1")
    test = proj.asset("d-test")
    metrics = {r["model"]: r["metrics"] for r in p["rows"]}
    for label in ("m v1", "m v2", "m v3"):
        name, version = label.split(" v")
        ev = proj.model(name, int(version)).evaluate(test)
        assert metrics[label]["roc_auc"] == pytest.approx(ev.metrics["roc_auc"])
    assert report.metric_change == pytest.approx(
        metrics["m v2"]["roc_auc"] - metrics["m v3"]["roc_auc"]
    )
    assert report.value_change_per_1000 is not None
    assert abs(report.metric_change) < 0.05
    frame = report.to_frame()
    assert list(frame["option"].str[:4]) == ["befo", "warm", "full"]
    assert "value per 1,000 (EUR)" in frame
    html = report._repr_html_()
    for text in (
        "WarmStart",
        "energy saved by warm start",
        "m v3",
        "d-test v1",
        "estimates",
    ):
        assert text in html, text
    stored = proj._report("model", report.warm.id, "warm_start:d-test@1")
    assert stored["warm"] == "m v2"


def test_without_comparison_and_with_a_given_test_split(warm):
    proj, parent, _, _ = warm
    train, test = proj.asset("d-train"), proj.asset("d-test")
    report = parent.retrain_warm(
        train, extra_trees=3, test=test, compare=False, learning_rate=0.2
    )
    assert (report.full, report.energy_saved_kwh) == (None, None)
    assert report.warm.recipe["warm_start"]["learning_rate"] == 0.2
    assert len(report.payload["rows"]) == 2
    assert "warm start" in repr(report)


def test_refusals_name_the_problem(warm, project, tiny_asset):
    proj, parent, new, _ = warm
    with pytest.raises(mnb.errors.ValidationError, match="must be a DataAsset"):
        parent.retrain_warm(new.frame)
    with pytest.raises(mnb.errors.ValidationError, match="extra_trees"):
        parent.retrain_warm(new, extra_trees=0)
    with pytest.raises(mnb.errors.ValidationError, match="test="):
        parent.retrain_warm(new, test=1.5)
    one_class = proj.data("one", _frame(200, 3, 0.0).assign(y=1), target="y", id="id")
    with pytest.raises(mnb.errors.ValidationError, match="every class"):
        parent.retrain_warm(one_class, test=proj.asset("d-test"), compare=False)
    linear = project.train("lin", tiny_asset, estimator="logistic")
    with pytest.raises(mnb.errors.ValidationError, match="continues LightGBM boosting"):
        linear.retrain_warm(tiny_asset)


def test_warm_start_chart_draws_the_metric_as_dots_not_cut_bars(warm):
    fig = warm[3].plot()
    metric = [t for t in fig.data if t.xaxis == "x2"]
    assert metric
    assert all(t.type == "scatter" for t in metric)
    energy = [t for t in fig.data if t.xaxis in (None, "x")]
    assert energy
    assert all(t.type == "bar" for t in energy)
    assert fig.layout.yaxis.range is None  # energy bars start at zero
