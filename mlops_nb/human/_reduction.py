"""Exponentiated gradient: new models trained under a fairness constraint.

fairlearn's reduction refits the learner tens of times with reweighted rows, so its
defaults are sized for a notebook on 2 cores: logistic regression on 2,000 sampled
rows, at most 10 iterations, ``eps=0.02`` (10-20 s on the employment data); a progress
bar counts the fits. The randomized mixture it returns is stored as a soft-voting
ensemble of the scikit-learn pipelines that carry weight: a plain scikit-learn model
(no new file types to trust) that reads no sensitive column at prediction time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.errors import UnsupportedFormatError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb.model import Model

CONSTRAINTS = {
    "demographic_parity": "DemographicParity",
    "equalized_odds": "EqualizedOdds",
    "true_positive_rate_parity": "TruePositiveRateParity",
    "false_positive_rate_parity": "FalsePositiveRateParity",
}
_PROGRESS: dict[str, Any] = {}


def _weighted_pipeline(pipe: Any, token: str) -> Any:
    """Wrap a pipeline so fairlearn can fit it with sample weights, counting fits."""
    from sklearn.base import BaseEstimator, ClassifierMixin, clone

    class Weighted(ClassifierMixin, BaseEstimator):
        def __init__(self, pipe: Any = None, token: str = ""):
            self.pipe, self.token = pipe, token

        def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
            self.pipeline_ = clone(self.pipe).fit(
                X, y, model__sample_weight=sample_weight
            )
            self.classes_ = self.pipeline_.classes_
            bar = _PROGRESS.get(self.token)
            if bar is not None:
                bar.step("fit")
            return self

        def predict(self, X: Any) -> Any:
            return self.pipeline_.predict(X)

        def predict_proba(self, X: Any) -> Any:
            return self.pipeline_.predict_proba(X)

    return Weighted(pipe, token)


def fit_reduction(
    model: Model,
    frame: pd.DataFrame,
    y01: np.ndarray,
    groups: np.ndarray,
    *,
    constraint: str,
    estimator: Any,
    sample_rows: int,
    max_iter: int,
    eps: float,
    seed: int,
) -> tuple[Any, str, str, dict[str, Any], np.ndarray]:
    import uuid
    import warnings

    import fairlearn.reductions as red
    import numpy as np
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder

    from mlops_nb.model._estimators import make_estimator
    from mlops_nb.model._prep import Features, make_preprocessor, prepare_X
    from mlops_nb.ui._progress import progress

    features = Features.from_dict(model.recipe["features"])
    est, est_name, family = make_estimator(estimator, "binary", None, seed)
    if family == "lightgbm":
        msg = (
            f"{model.label}.mitigate(method='exponentiated_gradient', "
            f"estimator={estimator!r}): "
            "its members are stored as scikit-learn pipelines; use 'logistic' "
            "(default) or "
            "'hist_gradient_boosting'."
        )
        raise UnsupportedFormatError(msg)
    rng = np.random.default_rng(seed)
    idx = np.sort(
        rng.choice(len(frame), size=min(sample_rows, len(frame)), replace=False)
    )
    X = prepare_X(frame.iloc[idx], features, what=f"{model.label}.mitigate")
    token = uuid.uuid4().hex
    with progress(2 * max_iter + 2, "exponentiated gradient") as bar:
        _PROGRESS[token] = bar
        try:
            pipe = Pipeline(
                [("prep", make_preprocessor(features, family)), ("model", est)]
            )
            eg = red.ExponentiatedGradient(
                _weighted_pipeline(pipe, token),
                getattr(red, CONSTRAINTS[constraint])(),
                eps=eps,
                max_iter=max_iter,
            )
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", module=r"fairlearn\."
                )  # pandas deprecations inside fairlearn
                eg.fit(X, y01[idx], sensitive_features=groups[idx])
        finally:
            _PROGRESS.pop(token, None)
    weights = np.asarray(eg.weights_, dtype=float)
    members = [
        (w, p.pipeline_)
        for w, p in zip(weights, eg.predictors_, strict=True)
        if w > 1e-6
    ]
    total = sum(w for w, _ in members)
    vc = VotingClassifier(
        [(f"m{i}", p) for i, (_, p) in enumerate(members)],
        voting="soft",
        flatten_transform=False,  # what skl2onnx converts; predictions are the same
        weights=np.array([w / total for w, _ in members]),  # an array: skl2onnx sums it
    )
    vc.estimators_ = [p for _, p in members]  # fitted by the reduction: no refit
    vc.le_ = LabelEncoder().fit([0, 1])
    vc.classes_ = vc.le_.classes_
    info = {
        "estimator": est_name,
        "eps": eps,
        "max_iter": max_iter,
        "rows": len(idx),
        "fits": int(eg.n_oracle_calls_),
        "members": len(members),
        "weights": [round(w / total, 6) for w, _ in members],
    }
    return Pipeline([("model", vc)]), est_name, family, info, idx
