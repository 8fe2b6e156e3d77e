"""Fairness mitigation: a new model version that narrows a disparity, and what it costs.

``threshold_optimizer`` (fairlearn's post-processing, about half a second) keeps the
original model and decides each group with its own threshold (see ``_thresholds``);
the version reads the sensitive columns at prediction time. ``exponentiated_gradient``
(fairlearn's reduction, slow: tens of fits) trains new models under the constraint
(see ``_reduction``). Either way the result is a new version of the same model name,
at stage candidate, with lineage to the original, and a trade-off measured on test
data (see ``_tradeoff``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import MlopsNbError, ValidationError, did_you_mean, listing
from mlops_nb.human._common import (
    MIN_GROUP_SIZE,
    group_keys,
    jsonable,
    labelled_frame,
    require_asset,
    require_binary,
    selected_class,
    sensitive_columns,
)
from mlops_nb.human._reduction import CONSTRAINTS
from mlops_nb.human._thresholds import GroupThresholds

if TYPE_CHECKING:
    from mlops_nb.data import DataAsset
    from mlops_nb.human._tradeoff import Mitigation
    from mlops_nb.model import Model

METHODS = ("threshold_optimizer", "exponentiated_gradient")


class _Stored:
    """What ``_store_version`` reads of a LightGBM pipeline: booster, parameters."""

    def __init__(self, booster: Any, params: dict[str, Any]):
        self.booster_, self._params = booster, params

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return dict(self._params)


def _check_hook(model: Model, what: str) -> None:
    """Refuse to store a threshold version that Model.predict would not apply."""
    import dataclasses

    probe = dataclasses.replace(
        model,
        recipe={
            **model.recipe,
            "mitigation": {
                "method": "threshold_optimizer",
                "base_features": model.features,
                "sensitive": [],
                "thresholds": {},
                "pos_label": (model.classes or [None])[-1],
            },
        },
    )
    if not isinstance(probe._predictor(), GroupThresholds):
        msg = (
            f"{what}: this installation's Model does not apply stored group thresholds "
            "(mlops_nb.model._model.Model._predictor lacks the mitigation hook), so a "
            "threshold_optimizer version would predict like the original. Nothing was "
            "stored; "
            "use method='exponentiated_gradient' or update mlops_nb."
        )
        raise MlopsNbError(msg)


def mitigate(
    model: Model,
    data: DataAsset,
    *,
    method: str = "threshold_optimizer",
    constraint: str = "demographic_parity",
    sensitive: str | list[str] | None = None,
    test: DataAsset | None = None,
    pos_label: Any = None,
    objective: str = "accuracy_score",
    min_group_size: int = MIN_GROUP_SIZE,
    estimator: Any = "logistic",
    sample_rows: int = 2000,
    max_iter: int = 10,
    eps: float = 0.02,
    seed: int = 0,
    note: str = "",
) -> Mitigation:
    """Make a fairness-mitigated new version of ``model`` and measure what it costs.

    Parameters
    ----------
    model : Model
        A binary classifier (not itself a mitigated version).
    data : DataAsset
        Labelled data to fit the mitigation on. For ``threshold_optimizer`` prefer data
        the model did not learn from (a validation split): in-sample scores are sharper.
    method : {"threshold_optimizer", "exponentiated_gradient"}
    constraint : str
        ``"demographic_parity"``, ``"equalized_odds"``,
        ``"true_positive_rate_parity"`` or ``"false_positive_rate_parity"``.
    sensitive : str or list of str, optional
        Groups to equalize (default: the asset's sensitive columns, combined).
    test : DataAsset, optional
        Where to measure the trade-off (default: the data of the model's newest
        evaluation, else ``data``).
    pos_label : optional
        The class whose prediction is the decision (default as in :func:`fairness`).
    objective : str
        What ``threshold_optimizer`` maximizes under the constraint (fairlearn's names).
    min_group_size : int
        Smaller groups (and groups with a single label) share one pooled threshold.
    estimator, sample_rows, max_iter, eps : optional
        ``exponentiated_gradient`` only: the learner (a scikit-learn estimator name),
        rows sampled for fitting, iterations and the constraint's allowed slack.
    seed : int
    note : str
        Recorded with the new version.

    Returns
    -------
    Mitigation
        ``.model`` is the new version (stage candidate, lineage to the original);
        the view compares accuracy, money value and disparity of both.
    """
    import numpy as np

    from mlops_nb.human._reduction import fit_reduction
    from mlops_nb.human._thresholds import fit_thresholds
    from mlops_nb.human._tradeoff import measure_tradeoff
    from mlops_nb.model._metrics import classification_metrics
    from mlops_nb.model._prep import Features
    from mlops_nb.model._train import _store_version

    what = f"{model.label}.mitigate"
    require_binary(model, what)
    target = model.recipe["target"]
    require_asset(data, what, labelled=target)
    if method not in METHODS or constraint not in CONSTRAINTS:
        bad, choices = (
            (method, METHODS)
            if method not in METHODS
            else (constraint, tuple(CONSTRAINTS))
        )
        hint = did_you_mean(str(bad), choices)
        msg = f"{what}: unknown {bad!r}; use one of {listing(choices)}.{hint}"
        raise ValidationError(msg)
    if model.recipe.get("mitigation"):
        pn, pv = model.lineage["parent_model"]
        msg = f"{what}: {model.label} is already mitigated; mitigate {pn} v{pv}."
        raise ValidationError(msg)
    if method == "threshold_optimizer":
        _check_hook(model, what)
    cols = sensitive_columns(data, sensitive, what)
    pos, _ = selected_class(model, pos_label, what)
    frame = labelled_frame(data, target)
    groups = group_keys(frame, cols)
    classes = model.classes or []
    start = time.perf_counter()
    recipe = model.recipe
    mitigation: dict[str, Any] = {
        "method": method,
        "constraint": constraint,
        "sensitive": cols,
        "pos_label": pos,
        "fitted_on": data.label,
        "fitted_on_hash": data.content_hash,
        "base": [model.name, model.version],
    }
    if method == "threshold_optimizer":
        k = [str(c) for c in classes].index(str(pos))
        scores = model.predict_proba(frame)[:, k]
        y = (frame[target].astype(object) == pos).to_numpy()
        mitigation.update(
            fit_thresholds(
                scores,
                y,
                groups,
                constraint=constraint,
                objective=objective,
                min_size=min_group_size,
            )
        )
        base = Features.from_dict(recipe["features"])
        mitigation.update(
            objective=objective,
            base_features=base.names,
            serving=(
                f"Decisions apply a threshold per {' x '.join(cols)} group to the "
                f"original's score, so this version reads {', '.join(cols)} at "
                "prediction time. mlops_nb applies the thresholds in predict and "
                "predict_proba. An ONNX export of the original model alone does not "
                "reproduce these decisions: exporting or serving this version needs "
                "the threshold table applied after the model's score."
            ),
        )
        features = Features(
            base.numeric,
            base.categorical + tuple(c for c in cols if c not in base.names),
        )
        objs = model._predictor().objects
        family, flavor_pipe = recipe["family"], objs.get("pipeline")
        if model.flavor == "lightgbm":
            flavor_pipe = type(
                "Pipe",
                (),
                {
                    "named_steps": {
                        "prep": objs["prep"],
                        "model": _Stored(objs["booster"], recipe.get("params", {})),
                    }
                },
            )()
        est_name, n_rows = f"{recipe['estimator']} + threshold_optimizer", len(frame)
        fitted = GroupThresholds(model._predictor(), {"mitigation": mitigation})
        X_all = frame.assign(**{c: frame[c] for c in cols})
        from mlops_nb.model._prep import prepare_X

        proba = fitted.proba(prepare_X(X_all, features, what=what))
        validation = {
            "scheme": f"measured on {data.label}, where the thresholds were fitted",
            "rows_fitted": len(frame),
            "rows": len(frame),
            "metrics": classification_metrics(frame[target], proba, classes),
        }
        use_sensitive = True
    else:
        swap = {
            "true_positive_rate_parity": "false_positive_rate_parity",
            "false_positive_rate_parity": "true_positive_rate_parity",
        }
        fit_constraint = (
            swap.get(constraint, constraint)
            if str(pos) == str(classes[0])
            else constraint
        )
        y01 = (frame[target].astype(object) == classes[1]).to_numpy().astype(int)
        flavor_pipe, est_name, family, info, idx = fit_reduction(
            model,
            frame,
            y01,
            groups,
            constraint=fit_constraint,
            estimator=estimator,
            sample_rows=sample_rows,
            max_iter=max_iter,
            eps=eps,
            seed=seed,
        )
        features, n_rows = Features.from_dict(recipe["features"]), len(idx)
        rest = np.setdiff1d(np.arange(len(frame)), idx)
        held = frame.iloc[rest] if len(rest) else frame.iloc[idx]
        from mlops_nb.model._prep import prepare_X

        proba = flavor_pipe.predict_proba(prepare_X(held, features, what=what))
        validation = {
            "scheme": f"{len(held):,} rows of {data.label} not sampled for fitting"
            if len(rest)
            else f"the {len(idx):,} fitting rows of {data.label} (none left out)",
            "rows_fitted": len(idx),
            "rows": len(held),
            "metrics": classification_metrics(held[target], proba, classes),
        }
        est_name = f"exponentiated_gradient({est_name})"
        mitigation.update(
            info,
            serving=(
                f"A soft-voting ensemble of {info['members']} scikit-learn pipelines "
                "(weights from exponentiated gradient). It reads no sensitive column "
                "at prediction time and is stored, exported to ONNX and served like "
                "any scikit-learn model."
            ),
        )
        use_sensitive = recipe.get("use_sensitive", False)
    duration = time.perf_counter() - start
    new = _store_version(
        model.project,
        model.name,
        data,
        flavor_pipe,
        est_name,
        family,
        features,
        "binary",
        classes,
        validation,
        duration,
        seed=seed,
        cv=None,
        holdout=None,
        use_sensitive=use_sensitive,
        params=recipe.get("user_params"),
        note=note or f"{method} for {constraint} by {', '.join(cols)}",
        parent=model,
        n_rows=n_rows,
        mitigation=jsonable(mitigation),
    )
    return measure_tradeoff(model, new, data, test, cols, pos, round(duration, 3))
