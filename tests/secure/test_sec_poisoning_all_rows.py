"""The poisoning screen scores every row, or says how many it left out (issue 13.10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb import errors


def flipped_frame(seed: int, n: int, *, classes: int, rate: float, missing: bool):
    """Mixed numeric/categorical inputs; ``rate`` of the labels moved to another class.

    Returns the frame (column ``label``, id ``rid``) and the ids of the flipped rows.
    """
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        n_classes=classes,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame["kind"] = np.where(X[:, 0] + rng.normal(size=n) > 0, "p", "q")
    if missing:
        frame.loc[rng.random(n) < 0.1, "x3"] = np.nan
    flips = np.sort(rng.choice(n, round(rate * n), replace=False))
    noisy = y.copy()
    noisy[flips] = (y[flips] + rng.integers(1, classes, len(flips))) % classes
    frame["label"] = noisy
    frame["rid"] = np.arange(n) + 1000
    return frame, set((flips + 1000).tolist())


@pytest.mark.parametrize(
    ("seed", "classes", "missing"), [(0, 2, False), (1, 3, True), (2, 4, False)]
)
def test_every_row_is_scored_and_planted_flips_are_found(
    sec_project, seed, classes, missing
):
    n = 2500
    frame, flips = flipped_frame(seed, n, classes=classes, rate=0.08, missing=missing)
    report = sec_project.data("flips", frame, target="label", id="rid").poisoning()
    scores = report.scores
    assert len(scores) == n
    assert sorted(scores["row"]) == list(range(n))
    assert scores["label_quality"].notna().all()
    assert scores["outlier_score"].notna().all()
    assert report.unscreened == 0
    assert f"in all {n:,} rows" in repr(report)
    found = set(report.label_issues["id"])
    recall = len(found & flips) / len(flips)
    precision = len(found & flips) / max(len(found), 1)
    assert recall >= 0.7, f"recall {recall:.2f}"
    assert precision >= 0.5, f"precision {precision:.2f}"
    flipped_rows = frame.index[frame["rid"].isin(flips)]
    quality = scores.set_index("row")["label_quality"]
    assert quality[flipped_rows].median() < quality.drop(flipped_rows).median()

    clean, _ = flipped_frame(seed, n, classes=classes, rate=0.0, missing=missing)
    quiet = sec_project.data("clean", clean, target="label", id="rid").poisoning()
    assert quiet.suspicious_rate < 0.03
    assert quiet.suspicious_rate < report.suspicious_rate / 3


@pytest.mark.parametrize(("n", "cap"), [(900, 600), (1300, 1000)])
def test_a_cap_says_how_many_rows_went_unscreened(sec_project, n, cap):
    frame, _ = flipped_frame(n, n, classes=2, rate=0.05, missing=False)
    frame.loc[frame.index[:7], "label"] = np.nan  # unlabelled rows: not screened either
    asset = sec_project.data("capped", frame, target="label", id="rid")
    report = asset.poisoning(max_rows=cap)
    left = n - 7 - cap
    assert report.unscreened == left + 7
    assert len(report.scores) == cap
    text = f"{left + 7:,} rows NOT screened ({left:,} over max_rows={cap:,}; 7 without"
    assert text in repr(report)
    assert text in report.to_html()
    assert f"{left + 7:,} rows unscreened" in report.to_html()  # the badge
    full = asset.poisoning()
    assert full.unscreened == 7
    assert len(full.scores) == n - 7


@pytest.mark.parametrize("bad", [0, 5, 2.5, "all", True])
def test_bad_caps_and_base_models_are_refused(sec_project, bad):
    frame, _ = flipped_frame(0, 200, classes=2, rate=0.0, missing=False)
    asset = sec_project.data("small", frame, target="label", id="rid")
    with pytest.raises(errors.ValidationError, match="max_rows"):
        asset.poisoning(max_rows=bad)
    with pytest.raises(errors.ValidationError, match="base_model"):
        asset.poisoning(base_model="svm")


@pytest.mark.slow
def test_more_rows_than_the_old_sample_are_all_scored(sec_project):
    n = 21_000  # over the former silent 20,000-row sample
    frame, flips = flipped_frame(5, n, classes=2, rate=0.05, missing=True)
    report = sec_project.data("big", frame, target="label", id="rid").poisoning()
    assert len(report.scores) == n
    assert report.unscreened == 0
    found = set(report.label_issues["id"])
    assert len(found & flips) / len(flips) >= 0.7
