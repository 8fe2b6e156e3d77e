"""T25: confident learning finds planted label flips; outliers; the report says how."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from _helpers import reopen
from mlops_nb import errors
from mlops_nb.secure import find_label_issues


def planted(seed: int, *, rate: float = 0.10, n: int = 3000):
    """3 classes, 10 features; ``rate`` of the labels flipped to another class."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=1.2,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(n, round(rate * n), replace=False))
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 3, len(flipped))) % 3
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(
        label=noisy, row_id=np.arange(n)
    )
    return frame, set(flipped.tolist())


@pytest.mark.parametrize(
    "seed",
    [
        0,
        pytest.param(1, marks=pytest.mark.slow),
        pytest.param(2, marks=pytest.mark.slow),
    ],
)
def test_t25_label_flips_recall_and_precision(sec_project, seed):
    frame, flipped = planted(seed)
    report = sec_project.data(
        f"planted-{seed}", frame, target="label", id="row_id"
    ).poisoning()
    found = set(report.label_issues["id"])
    recall, precision = (
        len(found & flipped) / len(flipped),
        len(found & flipped) / len(found),
    )
    print(f"seed {seed}: recall {recall:.3f} precision {precision:.3f}")
    assert recall >= 0.80
    assert precision >= 0.65
    assert report.base_model.startswith("LGBMClassifier(n_estimators=100")
    assert "5-fold out-of-fold" in report.base_model
    assert 0.07 < report.noise_rate < 0.15


def test_t25_random_forest_base_model_still_available(sec_project):
    frame, flipped = planted(0)
    report = sec_project.data("planted-rf", frame, target="label", id="row_id")
    report = report.poisoning(base_model="random_forest")
    found = set(report.label_issues["id"])
    assert len(found & flipped) / len(flipped) >= 0.80
    assert report.base_model.startswith("RandomForestClassifier(n_estimators=100")


def test_t25_clean_data_flags_few_rows(sec_project):
    frame, _ = planted(0, rate=0.0)
    report = sec_project.data("clean", frame, target="label", id="row_id").poisoning()
    assert (
        report.suspicious_rate < 0.03
    )  # documented bound: under 3 % on clean, separable data
    assert len(report.label_issues) == round(report.suspicious_rate * 3000)


def test_find_label_issues_on_known_probabilities():
    y = np.array([0] * 6 + [1] * 6)
    P = np.tile([0.9, 0.1], (12, 1))
    P[6:] = [0.1, 0.9]
    P[[1, 7]] = [
        [0.2, 0.8],
        [0.85, 0.15],
    ]  # row 1 looks like class 1, row 7 like class 0
    flagged, suggested, info = find_label_issues(P, y)
    assert np.flatnonzero(flagged).tolist() == [1, 7]
    assert suggested[[1, 7]].tolist() == [1, 0]
    assert info["confident_joint"] == [[5, 1], [1, 5]]


def test_outliers_and_targeted_poisoning_from_the_scenario(sec_project):
    sc = mnb.datasets.scenario(n=1500, seed=3, poison={"rate": 0.0, "outliers": 12})
    asset = sec_project.data(
        "scen", sc.frame, target="y", id="id", time="timestamp", sensitive="group"
    )
    report = asset.poisoning(n_estimators=50)
    outliers = set(report.outliers["id"])
    assert set(sc.poisoned.tolist()) <= outliers
    assert len(outliers) <= 20
    assert report.outliers["column"].str.match(r"x\d").all()
    forest = asset.poisoning(n_estimators=50, outliers="isolation_forest")
    assert len(set(forest.outliers["id"]) & set(sc.poisoned.tolist())) >= 10
    assert forest.payload["outlier_method"].startswith("IsolationForest")


def test_report_is_stored_renders_and_drops_rows(sec_project):
    frame, _flipped = planted(0, n=600)
    asset = sec_project.data("small", frame, target="label", id="row_id")
    report = asset.poisoning(n_estimators=30)
    again = reopen(sec_project).asset("small").poisoning(n_estimators=30)
    assert again.payload == report.payload  # stored with the version, not recomputed
    html = report._repr_html_()
    assert "Confident joint" in html
    assert "LGBMClassifier" in html
    assert "suspected" in repr(report)
    cleaned = report.drop_flagged(name="small-clean")
    assert cleaned.n_rows == 600 - len(
        set(report.label_issues["row"]) | set(report.outliers["row"])
    )
    assert cleaned.parents == (("small", 1),)
    assert cleaned.operation == "drop suspected poisoning"


def test_regression_and_bad_options(sec_project):
    frame = pd.DataFrame(
        {"x": np.r_[np.zeros(99), 50.0] + np.arange(100) * 0.01, "z": np.arange(100.0)}
    )
    frame["y"] = frame["z"] * 2.0
    report = sec_project.data("reg", frame, target="y").poisoning()
    assert report.suspicious_rate is None
    assert len(report.outliers) == 1
    assert "not screened" in repr(report._view().tabs[0].blocks[0].items)
    with pytest.raises(errors.ValidationError, match="unknown option"):
        sec_project.asset("reg").poisoning(model="svm")
    with pytest.raises(errors.ValidationError, match="outliers="):
        sec_project.asset("reg").poisoning(outliers="lof")
