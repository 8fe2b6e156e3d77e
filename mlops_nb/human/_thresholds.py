"""Per-group thresholds: the ``threshold_optimizer`` mitigation, fitted and applied.

fairlearn's ``ThresholdOptimizer`` returns a *randomized* rule per group (two
thresholds on the original model's score, mixed with some probabilities). mlops_nb
stores one deterministic threshold per group instead: the one that selects, on the
fitting data, the share of the group that the randomized rule selects in expectation.
The same person then always gets the same decision, the version is a small JSON table
over the original's stored files (no new file types to trust), and on the employment
data it keeps most of the reduction. Groups smaller than ``min_group_size`` (or with a
single label) share one pooled threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.human._common import OTHER, group_keys

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_EPS = 1e-9


class GroupThresholds:
    """Predictions of a ``threshold_optimizer`` version: score, then group threshold.

    ``proba`` returns the selected class's score shifted per group on the log-odds
    scale, ``sigmoid(logit(p) - logit(t_group))``, so 0.5 is each group's threshold
    and ``predict`` (the most likely class) is the mitigated decision. The shifted
    scores rank people within a group as the original did; they are not calibrated
    probabilities. Groups not seen when fitting get the pooled threshold of small
    groups, else the original's decision (0.5).
    """

    def __init__(self, base: Any, recipe: dict[str, Any]):
        m = recipe["mitigation"]
        self.base, self.task, self.classes = base, base.task, base.classes
        self.flavor, self.objects = base.flavor, base.objects
        self.features, self.sensitive = list(m["base_features"]), list(m["sensitive"])
        self.thresholds = dict(m["thresholds"])
        self.default = self.thresholds.get(OTHER, 0.5)
        self.k = [str(c) for c in self.classes].index(str(m["pos_label"]))

    def proba(self, X: pd.DataFrame) -> np.ndarray:
        """Shifted scores, columns in the order of ``classes``."""
        import numpy as np

        p = self.base.proba(X[self.features])
        t = np.array(
            [
                self.thresholds.get(k, self.default)
                for k in group_keys(X, self.sensitive)
            ]
        )
        s, t = np.clip(p[:, self.k], _EPS, 1 - _EPS), np.clip(t, _EPS, 1 - _EPS)
        z = 1 / (1 + np.exp(-(np.log(s / (1 - s)) - np.log(t / (1 - t)))))
        out = np.empty_like(p)
        out[:, self.k], out[:, 1 - self.k] = z, 1 - z
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict the mitigated decisions (labels): score >= the group's threshold.

        The version's own threshold (:attr:`Model.threshold_info`, source
        ``"mitigation"``) is 0.5 on these shifted scores, which is the same rule.
        """
        import numpy as np

        chosen = np.where(self.proba(X)[:, self.k] >= 0.5, self.k, 1 - self.k)
        return np.asarray(self.classes)[chosen]


def _operation(op: Any) -> str:
    return f"score {op.operator} {op.threshold:.4f}"


def _scores_estimator(scores: np.ndarray) -> Any:
    """Return a prefit estimator that hands fairlearn precomputed scores by row."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Scores(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> Any:
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            s = scores[np.asarray(X)[:, 0].astype(int)]
            return np.column_stack([1 - s, s])

        def __sklearn_is_fitted__(self) -> bool:
            return True

    return Scores()


def fit_thresholds(
    scores: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    constraint: str,
    objective: str,
    min_size: int,
) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from fairlearn.postprocessing import ThresholdOptimizer

    uniq, counts = np.unique(groups, return_counts=True)
    degenerate = {g for g in uniq if len(set(y[groups == g].tolist())) < 2}
    pooled = [
        str(g)
        for g, c in zip(uniq, counts, strict=True)
        if c < min_size or g in degenerate
    ]
    fit_groups = np.where(np.isin(groups, pooled), OTHER, groups).astype(str)
    keep = np.ones(len(y), dtype=bool)
    if pooled and len(set(y[fit_groups == OTHER].tolist())) < 2:
        keep = (
            fit_groups != OTHER
        )  # still one label: these rows keep the original decision
    X = pd.DataFrame({"row": np.flatnonzero(keep)})
    to = ThresholdOptimizer(
        estimator=_scores_estimator(scores),
        constraints=constraint,
        objective=objective,
        prefit=True,
        predict_method="predict_proba",
    )
    to.fit(X, y[keep].astype(int), sensitive_features=fit_groups[keep])
    pmf = to._pmf_predict(X, sensitive_features=fit_groups[keep])[:, 1]
    thresholds, rules = {}, {}
    for g, rule in to.interpolated_thresholder_.interpolation_dict.items():
        s = np.sort(scores[keep][fit_groups[keep] == g])[::-1]
        k = round(pmf[fit_groups[keep] == g].mean() * len(s))
        thresholds[str(g)] = (
            1.0 if k <= 0 else 0.0 if k >= len(s) else float((s[k - 1] + s[k]) / 2)
        )
        rules[str(g)] = {
            "p0": rule.p0,
            "operation0": _operation(rule.operation0),
            "p1": rule.p1,
            "operation1": _operation(rule.operation1),
            "expected selection": pmf[fit_groups[keep] == g].mean(),
        }
    return {"thresholds": thresholds, "fairlearn_rules": rules, "pooled": pooled}
