"""The estimators Model Ops trains by name, with defaults sized for notebooks.

Names: ``lightgbm``, ``logistic`` (classification) / ``linear`` (regression),
``hist_gradient_boosting``, ``random_forest``, ``ebm`` (interpret's Explainable
Boosting Machine). Any scikit-learn estimator object is accepted too (it is cloned).

EBM defaults are sized by the training data: ``outer_bags=2, inner_bags=0`` always (with
interpret's own 14 outer bags an EBM on 100k rows x 20 columns took about 150 s on 2
cores), and pairwise interactions (interpret's default count: ``"3x"`` for classifiers,
``"5x"`` for regressors) while rows x features stay within :data:`EBM_INTERACTION_CELLS`
(20,000 cells, e.g. 2,000 rows x 10 features); above it ``interactions=0`` keeps a
notebook within its minute (on 2,000 x 10 the interactions cost 9.7 s of CPU instead of
0.5 s, and the cost grows with rows x features). Without interactions a generated
insurance-like regression table (1,338 rows x 6, a smoker x bmi effect) reached R² 0.76
against interpret's defaults' 0.866; with them 0.864, in 9 s instead of 64 s.

LightGBM runs single-threaded by default (``n_jobs=1``): on a 2-core machine shared with
a notebook server or another job, its OpenMP threads spin while waiting, and training
with 2 threads was measured 5-7x slower than with one (1.1 s vs 7.4 s for 200 trees on
55k rows). Pass ``params={"n_jobs": 2}`` on an otherwise idle machine.
"""

from __future__ import annotations

from typing import Any

from mlops_nb.errors import UnsupportedFormatError, did_you_mean, listing

#: rows x features up to which EBMs learn pairwise interactions by default
EBM_INTERACTION_CELLS = 20_000

NAMES = (
    "lightgbm",
    "logistic",
    "linear",
    "hist_gradient_boosting",
    "random_forest",
    "ebm",
)


def _defaults(
    name: str, task: str, seed: int, shape: tuple[int, int] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Return (import path, family, default params) for a named estimator and task.

    ``shape`` (rows, features) of the training data sizes the EBM defaults.
    """
    clf = task != "regression"
    if name == "lightgbm":
        path = "lightgbm.LGBMClassifier" if clf else "lightgbm.LGBMRegressor"
        params = {
            "n_estimators": 200,
            "learning_rate": 0.05,
            "num_leaves": 31,
            "random_state": seed,
            "n_jobs": 1,
            "verbose": -1,
        }
        return path, "lightgbm", params
    if name == "logistic" and clf:
        return "sklearn.linear_model.LogisticRegression", "linear", {"max_iter": 1000}
    if name == "linear" and not clf:
        return "sklearn.linear_model.Ridge", "linear", {"alpha": 1.0}
    if name == "hist_gradient_boosting":
        path = "sklearn.ensemble.HistGradientBoosting" + (
            "Classifier" if clf else "Regressor"
        )
        return path, "tree", {"random_state": seed}
    if name == "random_forest":
        path = "sklearn.ensemble.RandomForest" + ("Classifier" if clf else "Regressor")
        return (
            path,
            "tree",
            {
                "n_estimators": 200,
                "random_state": seed,
                "n_jobs": 2,
                "min_samples_leaf": 2,
            },
        )
    if name == "ebm":
        path = "interpret.glassbox.ExplainableBoosting" + (
            "Classifier" if clf else "Regressor"
        )
        return (
            path,
            "tree",
            {
                "interactions": _ebm_interactions(task, shape),
                "outer_bags": 2,
                "inner_bags": 0,
                "random_state": seed,
                "n_jobs": 2,
            },
        )
    if name in ("logistic", "linear"):
        other = "linear" if name == "logistic" else "logistic"
        msg = f"estimator={name!r} does not fit a {task} target; use {other!r}."
        raise UnsupportedFormatError(msg)
    msg = (
        f"estimator={name!r} is not known. Use one of {listing(NAMES)}, or pass a "
        f"scikit-learn estimator object.{did_you_mean(name, NAMES)}"
    )
    raise UnsupportedFormatError(msg)


def _ebm_interactions(task: str, shape: tuple[int, int] | None) -> int | str:
    """Return interpret's default interactions when the data is small enough, else 0."""
    if shape is None or shape[0] * shape[1] > EBM_INTERACTION_CELLS:
        return 0
    return "5x" if task == "regression" else "3x"


def make_estimator(
    estimator: Any,
    task: str,
    params: dict[str, Any] | None,
    seed: int,
    *,
    shape: tuple[int, int] | None = None,
) -> tuple[Any, str, str]:
    """Build the estimator; return ``(estimator, name, family)``.

    ``family`` picks the preprocessing: ``linear`` (scaled, one-hot) or ``tree`` /
    ``lightgbm`` (ordinal codes). ``shape`` (rows, features) of the training data
    sizes the defaults that depend on it (EBM interactions).
    """
    import importlib

    if isinstance(estimator, str):
        path, family, defaults = _defaults(estimator, task, seed, shape)
        module_name, cls_name = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module_name), cls_name)
        merged = {**defaults, **(params or {})}
        try:
            return cls(**merged), estimator, family
        except TypeError as err:
            msg = f"estimator={estimator!r}: invalid params {params!r}: {err}"
            raise UnsupportedFormatError(msg) from err
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        msg = (
            f"estimator={estimator!r} is neither a known name ({listing(NAMES)}) nor a "
            "scikit-learn estimator (an object with fit and get_params)."
        )
        raise UnsupportedFormatError(msg)
    from sklearn.base import clone

    est = clone(estimator)
    if params:
        est.set_params(**params)
    name = type(est).__name__
    linear = any(
        k in name for k in ("Logistic", "Linear", "Ridge", "Lasso", "SVC", "SVR", "MLP")
    )
    return est, name, "linear" if linear else "tree"
