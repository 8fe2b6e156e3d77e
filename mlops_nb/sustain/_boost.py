"""LightGBM continued training: more boosting rounds on new data, from a stored model.

:func:`fit_warm` loads a model version's fitted preprocessing and booster, adds
boosting rounds fitted on new rows (LightGBM's ``init_model``: the old trees'
scores are the starting point), validates on the recipe's holdout like a training,
and stores the result as a new version whose recipe records the warm start and
whose lineage points to the model it continued.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    from mlops_nb.data import DataAsset
    from mlops_nb.model import Model


def fit_warm(
    model: Model,
    data: DataAsset,
    *,
    extra_trees: int,
    learning_rate: float | None,
    note: str,
    base_model: dict[str, Any] | None = None,
) -> Model:
    """Continue ``model``'s booster on ``data`` and store the new version."""
    from sklearn.model_selection import train_test_split

    from mlops_nb.model._estimators import make_estimator
    from mlops_nb.model._persist import load_booster, load_skops
    from mlops_nb.model._prep import Features
    from mlops_nb.model._train import _pipeline, _scores, _store_version

    what = f"{model.label}.retrain_warm"
    recipe = model.recipe
    target, task, classes = recipe["target"], recipe["task"], recipe.get("classes")
    features = Features.from_dict(recipe["features"])
    frame = data.frame
    labelled = frame[target].notna()
    X = model._X(frame[labelled], "retrain_warm")  # applies generated features
    y = frame.loc[labelled, target]
    clf = task != "regression"
    if clf:
        found = sorted(y.unique().tolist())
        if [str(c) for c in found] != [str(c) for c in classes or []]:
            msg = (
                f"{what}: {data.label} has the classes {found}, the model {classes}; "
                "warm start needs every class of the model in the new data."
            )
            raise ValidationError(msg)
    store = model.project._store
    prep = load_skops(
        store.read_blob(model.artifacts["prep"]), artifact=model.artifacts["prep"]
    )
    prep.set_output(transform="pandas")  # feature names reach LightGBM, as in training
    booster = load_booster(
        store.read_blob(model.artifacts["booster"]), artifact=model.artifacts["booster"]
    )
    seed, holdout = recipe.get("seed", 0), recipe.get("holdout", 0.2)
    est, _, _ = make_estimator(
        "lightgbm", task, recipe.get("user_params") or None, seed
    )
    est.set_params(n_estimators=int(extra_trees))
    if learning_rate is not None:
        est.set_params(learning_rate=float(learning_rate))
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=holdout, random_state=seed, stratify=y if clf else None
    )
    start = time.perf_counter()
    est.fit(prep.transform(X_tr), y_tr, init_model=booster)
    pipe = _pipeline(prep, est)
    validation = {
        "scheme": f"{holdout:.0%} holdout of the training data",
        "rows_fitted": len(X_tr),
        "metrics": _scores(pipe, X_te, y_te, task, classes),
        "rows": len(X_te),
    }
    duration = time.perf_counter() - start
    initial = booster.current_iteration()
    warm_start = {
        "from": model.label,
        "initial_rounds": initial,
        "extra_rounds": int(extra_trees),
        "total_rounds": est.booster_.current_iteration(),
        "learning_rate": est.get_params()["learning_rate"],
        "preprocessing": f"kept from {model.label}",
    }
    return _store_version(
        model.project,
        model.name,
        data,
        pipe,
        "lightgbm",
        "lightgbm",
        features,
        task,
        classes,
        validation,
        duration,
        seed=seed,
        cv=None,
        holdout=holdout,
        use_sensitive=recipe.get("use_sensitive", False),
        params=recipe.get("user_params") or None,
        note=note,
        parent=model,
        n_rows=len(X),
        feature_recipe=recipe.get("feature_recipe"),  # the parent's, kept with its prep
        warm_start=warm_start,
        base_model=base_model,
    )
