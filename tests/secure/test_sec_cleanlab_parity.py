"""Our confident learning flags the same rows as cleanlab's (parity, issue 7)."""

from __future__ import annotations

import cleanlab.filter  # a dev dependency: installed by `make test`
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_predict

from mlops_nb.secure._poisoning import find_label_issues


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flagged_rows_match_cleanlab_prune_by_noise_rate(seed):
    X, y = make_classification(
        3000, 10, n_informative=6, n_classes=3, class_sep=1.2, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flip = rng.choice(3000, 300, replace=False)
    noisy = y.copy()
    noisy[flip] = (noisy[flip] + rng.integers(1, 3, 300)) % 3
    P = cross_val_predict(
        RandomForestClassifier(100, random_state=0),
        X,
        noisy,
        cv=5,
        method="predict_proba",
    )
    ours, _, _ = find_label_issues(P, noisy)
    theirs = cleanlab.filter.find_label_issues(
        noisy, P, filter_by="prune_by_noise_rate"
    )
    jaccard = (ours & theirs).sum() / (ours | theirs).sum()
    assert jaccard >= 0.98, (
        f"seed {seed}: ours {ours.sum()}, cleanlab {theirs.sum()}, "
        f"jaccard {jaccard:.3f}"
    )
    assert abs(int(ours.sum()) - int(theirs.sum())) <= 0.01 * len(y)
