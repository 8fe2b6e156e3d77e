"""Training a model version from a data version, with validation and full lineage."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from mlops_nb._lineage import emits
from mlops_nb.errors import SchemaError, ValidationError
from mlops_nb.model._estimators import make_estimator
from mlops_nb.model._metrics import classification_metrics, regression_metrics
from mlops_nb.model._persist import dump_booster, dump_skops
from mlops_nb.model._prep import (
    Features,
    TreePrep,
    features_from_schema,
    make_preprocessor,
    prepare_X,
)
from mlops_nb.model._trees import TreeTable
from mlops_nb.store import validate_name
from mlops_nb.store._db import now
from mlops_nb.ui._progress import Progress, progress

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model._model import Model

_PACKAGES = (
    "mlops-nb",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "interpret-core",
    "skops",
)
SKOPS = "application/vnd.skops"
LGB_TEXT = "text/vnd.lightgbm-model"
TREE_PREP = "application/vnd.mlops-nb.tree-prep+json"
TREES = "application/vnd.mlops-nb.trees"


def environment() -> dict[str, Any]:
    """Python, platform, main package versions and the notebook or script path."""
    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    source = os.environ.get("JPY_SESSION_NAME") or os.environ.get(
        "PAPERMILL_INPUT_PATH"
    )
    if (
        not source
        and sys.argv
        and sys.argv[0]
        and not sys.argv[0].endswith("ipykernel_launcher.py")
    ):
        source = sys.argv[0]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "source": source,
    }


def _pipeline(prep: Any, est: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("prep", prep), ("model", est)])


def _fit_params(pipe: Any, X: pd.DataFrame) -> dict[str, Any]:
    """Name features for LightGBM when the column names would trip it.

    LightGBM refuses names holding ``",:[]{}``, turns spaces into ``_`` (so ``a b``
    and ``a_b`` clash) and writes names unescaped into its JSON dump. Then only the
    booster's own names change (``f<i>_<name>``); the preprocessing, explanations and
    every prediction keep the column names, and the booster reads by position.
    """
    import re

    est = pipe.steps[-1][1]
    names = [str(c) for c in X.columns]
    if not type(est).__module__.startswith("lightgbm") or not any(
        re.search(r'[",:\[\]{}\\\s\x00-\x1f]', n) for n in names
    ):
        return {}
    return {
        "model__feature_name": [
            f"f{i}_" + re.sub(r"[^A-Za-z0-9_.-]", "_", n) for i, n in enumerate(names)
        ]
    }


def _scores(
    pipe: Any, X: pd.DataFrame, y: pd.Series, task: str, classes: list[Any] | None
) -> dict[str, float]:
    if task == "regression":
        return regression_metrics(y, pipe.predict(X))
    return classification_metrics(y, pipe.predict_proba(X), classes or [])


def _labels(y: pd.Series) -> pd.Series:
    """Labels held as Python objects (a frame built row by row) become numbers.

    scikit-learn refuses an object column of numbers ("Unknown label type");
    registration already refuses columns that mix value types.
    """
    return y.infer_objects() if y.dtype == object else y


def _holdout_split(
    X: pd.DataFrame, y: pd.Series, holdout: float, seed: int, *, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Split off the holdout, stratified by class where a class allows it.

    A class with a single row cannot be on both sides: its row stays in the fitted
    part (the model still learns the class) and a warning names it; every other class
    is stratified as usual. scikit-learn refuses such a class outright.
    """
    import warnings

    import pandas as pd
    from sklearn.model_selection import train_test_split

    if not stratify:
        return train_test_split(X, y, test_size=holdout, random_state=seed)
    counts = y.value_counts()
    lone = counts.index[counts < 2]
    if len(lone) == 0:
        return train_test_split(X, y, test_size=holdout, random_state=seed, stratify=y)
    warnings.warn(
        f"class(es) {sorted(map(str, lone))} have a single row: it stays in the "
        "fitted part, so the holdout metrics cannot measure that class. Add rows of "
        "it, or merge it into another class.",
        UserWarning,
        stacklevel=5,
    )
    keep = y.isin(lone).to_numpy()
    X_tr, X_te, y_tr, y_te = train_test_split(
        X[~keep], y[~keep], test_size=holdout, random_state=seed, stratify=y[~keep]
    )
    return (
        pd.concat([X_tr, X[keep]]),
        X_te,
        pd.concat([y_tr, y[keep]]),
        y_te,
    )


def fit_and_validate(
    pipe: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str,
    classes: list[Any] | None,
    cv: int | None,
    holdout: float,
    seed: int,
    bar: Progress | None = None,
    scored: list[Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit the pipeline and measure it.

    With a holdout, the stored model is the one fitted on the other rows, so its
    metrics describe exactly what is stored. With k-fold CV, the metrics are the mean
    over folds and the stored model is refit on all rows. A classifier's validation
    labels and probabilities (holdout, or out-of-fold) are appended to ``scored``
    when it is given (the decision threshold is chosen on them).
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    clf = task != "regression"
    if cv:
        splitter = (StratifiedKFold if clf else KFold)(
            n_splits=int(cv), shuffle=True, random_state=seed
        )
        folds = []
        oof = None
        for tr, te in splitter.split(X, y if clf else None):
            p = clone(pipe).fit(X.iloc[tr], y.iloc[tr], **_fit_params(pipe, X))
            folds.append(_scores(p, X.iloc[te], y.iloc[te], task, classes))
            if scored is not None and clf:
                proba = p.predict_proba(X.iloc[te])
                oof = np.zeros((len(X), proba.shape[1])) if oof is None else oof
                oof[te] = proba
            if bar is not None:
                bar.step(f"fold {len(folds)}/{cv}")
        keys = folds[0].keys()
        validation = {
            "scheme": f"{cv}-fold cross-validation",
            "rows_fitted": len(X),
            "metrics": {
                k: float(np.mean([f[k] for f in folds if k in f])) for k in keys
            },
            "std": {k: float(np.std([f[k] for f in folds if k in f])) for k in keys},
        }
        if scored is not None and oof is not None:
            scored.append((y, oof, "out-of-fold scores of the cross-validation"))
        return pipe.fit(X, y, **_fit_params(pipe, X)), validation
    X_tr, X_te, y_tr, y_te = _holdout_split(X, y, holdout, seed, stratify=clf)
    pipe.fit(X_tr, y_tr, **_fit_params(pipe, X))
    if bar is not None:
        bar.step("fitted")
    if scored is not None and clf:
        scored.append(
            (
                y_te,
                pipe.predict_proba(X_te),
                f"{holdout:.0%} holdout of the training data",
            )
        )
    return pipe, {
        "scheme": f"{holdout:.0%} holdout of the training data",
        "rows_fitted": len(X_tr),
        "metrics": _scores(pipe, X_te, y_te, task, classes),
        "rows": len(X_te),
    }


@emits("train")
def train_model(
    project: Project,
    name: str,
    data: DataAsset,
    *,
    estimator: Any = "lightgbm",
    params: dict[str, Any] | None = None,
    cv: int | None = None,
    holdout: float = 0.2,
    seed: int = 0,
    use_sensitive: bool = False,
    note: str = "",
    parent: Model | None = None,
    engine: str = "local",
    client: Any = None,
) -> Model:
    """Fit, validate and store a new version of model ``name``.

    See :meth:`Project.train`. ``engine="dask"`` (experimental, LightGBM only) fits
    with ``lightgbm.dask``: see :mod:`mlops_nb.model._train_dask`.
    """
    from mlops_nb.data import DataAsset

    what = f"Project.train({name!r})"
    validate_name(name, what="Project.train(name=...)")
    if not isinstance(data, DataAsset):
        msg = (
            f"{what}: data must be a DataAsset, got {type(data).__name__}. Register it "
            "first: asset = proj.data('name', frame, target='...')."
        )
        raise ValidationError(msg)
    schema = data.schema
    if schema.target is None:
        msg = (
            f"{what}: {data.label} has no target column; register it with target='...'."
        )
        raise SchemaError(msg)
    if cv is not None and (int(cv) < 2 or int(cv) != cv):
        msg = f"{what}: cv={cv!r} must be a whole number of folds >= 2."
        raise ValidationError(msg)
    if not 0 < holdout < 1:
        msg = f"{what}: holdout={holdout!r} must be between 0 and 1."
        raise ValidationError(msg)
    if engine not in ("local", "dask"):
        msg = f"{what}: engine={engine!r} must be 'local' (default) or 'dask'."
        raise ValidationError(msg)
    if engine == "dask":
        from mlops_nb.model._train_dask import check_dask_estimator, train_dask

        check_dask_estimator(estimator, cv, what)
        return train_dask(
            project,
            name,
            data,
            params=params,
            holdout=holdout,
            seed=seed,
            use_sensitive=use_sensitive,
            note=note,
            parent=parent,
            client=client,
        )
    if data.is_large:
        msg = (
            f"{what}: {data.label} is a large version; training loads its rows into "
            "one process. Train on a sample (proj.train(name, "
            "asset.sample(100_000, seed=0), ...)), or, experimentally, with "
            "estimator='lightgbm', engine='dask'."
        )
        raise ValidationError(msg)
    features = features_from_schema(schema, use_sensitive=use_sensitive)
    frame = data.frame
    labelled = frame[schema.target].notna()
    X = prepare_X(frame[labelled], features, what=what)
    y = _labels(frame.loc[labelled, schema.target])
    task = schema.task or "binary"
    classes = None if task == "regression" else sorted(y.unique().tolist())
    if classes is not None and len(classes) < 2:
        msg = f"{what}: the target {schema.target!r} has a single class {classes}."
        raise ValidationError(msg)
    est, est_name, family = make_estimator(
        estimator, task, params, seed, shape=(len(y), len(features.names))
    )
    pipe = _pipeline(make_preprocessor(features, family), est)
    from mlops_nb.sustain import measure

    start = time.perf_counter()
    with (
        measure(project, "train", f"model:{name}", note=note) as energy,
        progress((int(cv) + 1) if cv else 2, f"training {name}") as bar,
    ):
        scored: list[Any] = []
        pipe, validation = fit_and_validate(
            pipe,
            X,
            y,
            task=task,
            classes=classes,
            cv=cv,
            holdout=holdout,
            seed=seed,
            bar=bar,
            scored=scored,
        )
        duration = time.perf_counter() - start
        threshold = _default_threshold(project, task, classes, scored)
        result = _store_version(
            project,
            name,
            data,
            pipe,
            est_name,
            family,
            features,
            task,
            classes,
            validation,
            duration,
            seed=seed,
            cv=cv,
            holdout=holdout,
            use_sensitive=use_sensitive,
            params=params,
            note=note,
            parent=parent,
            n_rows=len(X),
            **({"threshold": threshold} if threshold else {}),
        )
        energy.attach(result)
        bar.step("stored")
    return result


def _default_threshold(
    project: Project, task: str, classes: list[Any] | None, scored: list[Any]
) -> dict[str, Any] | None:
    """Return the canvas's value-maximising threshold on validation scores, or None.

    Recorded with a binary version when the project's value canvas prices binary
    decisions at training time; see :mod:`mlops_nb.model._threshold`.
    """
    if task != "binary" or not scored:
        return None
    from mlops_nb.business._canvas import current_canvas
    from mlops_nb.model._threshold import canvas_default

    y, proba, scheme = scored[0]
    return canvas_default(
        current_canvas(project), classes, _labels(y), proba, scheme=scheme
    )


def _jsonable_params(est: Any) -> dict[str, Any]:
    out = {}
    for k, v in est.get_params(deep=False).items():
        out[k] = v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
    return out


def _store_version(
    project: Project,
    name: str,
    data: DataAsset,
    pipe: Any,
    est_name: str,
    family: str,
    features: Features,
    task: str,
    classes: list[Any] | None,
    validation: dict[str, Any],
    duration: float,
    **info: Any,
) -> Model:
    from mlops_nb.data._features import recipe_of

    store = project._store
    what = f"Project.train({name!r})"
    if family == "lightgbm":
        blobs = {
            "prep": (dump_skops(pipe.named_steps["prep"], what=what), SKOPS),
            "booster": (dump_booster(pipe.named_steps["model"].booster_), LGB_TEXT),
        }
        tree_prep = TreePrep.from_fitted(pipe.named_steps["prep"], features)
        if tree_prep is not None:  # predicting then needs neither skops nor sklearn
            blobs["tree_prep"] = (tree_prep.to_json(), TREE_PREP)
        trees = TreeTable.from_model_text(blobs["booster"][0].decode("utf-8"))
        if trees is not None:  # ... nor parsing the booster, for a few rows
            blobs["trees"] = (trees.to_bytes(), TREES)
        flavor = "lightgbm"
    else:
        blobs = {"pipeline": (dump_skops(pipe, what=what), SKOPS)}
        flavor = "sklearn"
    artifacts = {
        key: store.put_blob(b, media_type=mt) for key, (b, mt) in blobs.items()
    }
    parent = info.pop("parent")
    # fine-tuning/warm start: the checked base
    base_model = info.pop("base_model", None)
    recipe = {
        "estimator": est_name,
        "family": family,
        "params": _jsonable_params(pipe.named_steps["model"]),
        "user_params": info.pop("params") or {},
        "features": features.to_dict(),
        "target": data.schema.target,
        "task": task,
        "classes": classes,
        "sensitive": list(data.schema.sensitive),
        # generated features, recomputed at prediction
        "feature_recipe": recipe_of(data),
        **info,
    }
    lineage = {
        "data": [
            {
                "name": data.name,
                "version": data.version,
                "content_hash": data.content_hash,
            }
        ],
        "parent_model": [parent.name, parent.version] if parent is not None else None,
        **({"base_model": base_model} if base_model else {}),
    }
    metrics = {"validation": validation, "duration_s": round(duration, 3)}
    from mlops_nb.store._q_models import insert_model_version, next_model_version

    with store.write() as conn:
        version = next_model_version(conn, name)
        for key, (b, mt) in blobs.items():
            store.record_blob(conn, artifacts[key], len(b), mt, data=b)
        row = {
            "name": name,
            "version": version,
            "stage": "candidate",
            "flavor": flavor,
            "artifacts": json.dumps(artifacts),
            "recipe": json.dumps(recipe, default=str),
            "metrics": json.dumps(metrics),
            "lineage": json.dumps(lineage),
            "environment": json.dumps(environment()),
            "created_at": now(),
            "created_by": project._user(),
        }
        insert_model_version(conn, row)
        store.audit(
            conn,
            "train",
            f"model:{name}@{version}",
            data=data.label,
            estimator=est_name,
            duration_s=round(duration, 3),
        )
    return project.model(
        name, version=version
    )  # predictions come from the stored bytes
