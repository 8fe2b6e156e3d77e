"""Experimental: LightGBM on a Dask cluster (``Project.train(..., engine="dask")``).

Training stays single-machine by default. With ``engine="dask"`` a LightGBM version is
fitted by ``lightgbm.dask`` on the data version's Dask frame (:meth:`DataAsset.dask`
for a large version, the frame split into one partition per worker for a small one):

- **Preprocessing.** The single-machine path fits a scikit-learn ColumnTransformer
  (median imputer, ordinal encoder), which cannot run on a Dask frame. It is fitted here
  on a seeded sample of :data:`PREP_ROWS` labelled rows (``asset.sample``'s bottom-k
  sample for a large version; all rows of a small one) and applied to every partition on
  the workers with ``map_partitions``: medians come from the sample, and a category
  never seen in it is encoded like an unknown one (-1).
- **Validation.** A seeded ``random_split`` holds out ``holdout`` of the rows; at most
  :data:`HOLDOUT_ROWS` of them are scored (on the workers) and collected for the
  validation metrics and the decision threshold. ``cv`` is refused.
- **Ports.** ``lightgbm.dask`` finds an open port on each worker. A fixed
  ``local_listen_port`` (or its aliases) with several workers on one host is refused
  before training; pass ``machines`` instead, or omit it.
- **Storing.** ``to_local()`` turns the Dask estimator into a plain LightGBM one,
  stored exactly like a single-machine version (LightGBM text booster, skops
  preprocessing, no pickle), so predict, evaluate and ONNX export work unchanged.
  The version's recipe records ``engine: "dask"`` and ``experimental: true``.

Results differ from single-machine training on the same rows (each worker builds
histograms on its own partitions; the preprocessing statistics come from a sample),
and ``lightgbm.dask`` holds every training partition in the workers' memory while it
fits. A UserWarning says so at each use.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model._model import Model
    from mlops_nb.model._prep import Features

#: labelled rows the preprocessing (medians, category codes) is fitted on
PREP_ROWS = 100_000
#: most holdout rows scored and collected for the validation metrics
HOLDOUT_ROWS = 200_000
_LABEL = "__mlops_nb_label__"
_PORTS = ("local_listen_port", "local_port", "port")
EXPERIMENTAL = (
    "engine='dask' training is experimental: results differ from single-machine "
    "training on the same rows, the preprocessing is fitted on a seeded sample, and "
    "lightgbm.dask keeps every training partition in the workers' memory while it fits."
)


def check_dask_estimator(estimator: Any, cv: int | None, what: str) -> None:
    """Refuse what ``engine="dask"`` cannot train, before anything runs."""
    if not (isinstance(estimator, str) and estimator == "lightgbm"):
        shown = estimator if isinstance(estimator, str) else type(estimator).__name__
        msg = (
            f"{what}: engine='dask' trains LightGBM only (lightgbm.dask), not "
            f"estimator={shown!r}. Pass estimator='lightgbm', or train on one machine "
            "(engine='local') on a sample: proj.train(name, asset.sample(100_000, "
            "seed=0), estimator=...)."
        )
        raise ValidationError(msg)
    if cv is not None:
        msg = (
            f"{what}: engine='dask' validates on a holdout only; drop cv={cv!r} "
            "(use holdout=0.2)."
        )
        raise ValidationError(msg)


def _check_ports(client: Any, params: dict[str, Any], what: str) -> None:
    """Refuse a fixed listen port shared by several workers on one host."""
    from urllib.parse import urlparse

    given = [k for k in _PORTS if k in params]
    if not given or any(k in params for k in ("machines", "nodes", "workers")):
        return
    hosts = [urlparse(a).hostname for a in client.scheduler_info()["workers"]]
    if len(set(hosts)) < len(hosts):
        msg = (
            f"{what}: params set {given[0]}={params[given[0]]!r}, but several Dask "
            "workers run on one host and cannot all listen on one port. Omit it "
            "(lightgbm.dask then finds an open port on each worker), or pass "
            "'machines' listing one ip:port per worker."
        )
        raise ValidationError(msg)


class _Prepare:
    """Per partition: the prepared input columns plus the label (picklable)."""

    def __init__(
        self, features: Features, prep: Any, target: str, codes: Any, what: str
    ):
        self.features, self.prep, self.target = features, prep, target
        self.codes, self.what = codes, what

    def __call__(self, part: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        from mlops_nb.model._prep import prepare_X

        part = part[part[self.target].notna()]
        cols = self.features.names
        if len(part) == 0:
            out = pd.DataFrame({c: pd.Series([], dtype="float64") for c in cols})
        else:
            X = prepare_X(part, self.features, what=self.what)
            out = self.prep.transform(X)[cols].astype("float64")
            out.index = part.index
        y = part[self.target]
        out[_LABEL] = (
            y.astype("float64")
            if self.codes is None
            else y.map(self.codes).astype("int64")
        )
        return out


class _Score:
    """Per partition: the label and the local model's scores (picklable)."""

    def __init__(self, model: Any, cols: list[str], classify: bool):
        self.model, self.cols, self.classify = model, cols, classify

    def __call__(self, part: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        n = 0 if not self.classify else len(self.model.classes_)
        if len(part) == 0:
            scores = np.empty((0, max(n, 1)))
        elif self.classify:
            scores = self.model.predict_proba(part[self.cols])
        else:
            scores = self.model.predict(part[self.cols]).reshape(-1, 1)
        out = pd.DataFrame(scores, index=part.index).add_prefix("s")
        out[_LABEL] = part[_LABEL].to_numpy()
        return out


def _distinct(labels: pd.Series) -> pd.Series:
    """Return the distinct non-missing labels of one partition."""
    return labels.dropna().drop_duplicates().reset_index(drop=True)


def _frames(data: DataAsset, seed: int, n_workers: int) -> tuple[Any, pd.DataFrame]:
    """Return the version's Dask frame and the rows the preprocessing fits on."""
    if data.is_large:
        from mlops_nb.data._large import sample_rows

        sample, _ = sample_rows(data, PREP_ROWS, seed=seed)
        return data.dask(), sample
    import dask.dataframe as dd

    frame = data.frame
    return dd.from_pandas(frame, npartitions=max(1, n_workers)), frame


def train_dask(
    project: Project,
    name: str,
    data: DataAsset,
    *,
    params: dict[str, Any] | None,
    holdout: float,
    seed: int,
    use_sensitive: bool,
    note: str,
    parent: Model | None,
    client: Any = None,
    fitted: list[Any] | None = None,
) -> Model:
    """Fit LightGBM with ``lightgbm.dask`` and store it like a single-machine version.

    See the module docstring and :meth:`Project.train`. ``fitted``, when given,
    receives ``(dask_estimator, fitted_preprocessor)``: the estimator's
    ``to_local()`` is what is stored.

    Raises
    ------
    ValidationError
        A fixed listen port with several workers on one host, or a target with a
        single class.
    """
    from mlops_nb.deploy._batch import engine
    from mlops_nb.model._estimators import make_estimator
    from mlops_nb.model._prep import features_from_schema, make_preprocessor, prepare_X
    from mlops_nb.model._train import (
        _default_threshold,
        _fit_params,
        _labels,
        _pipeline,
        _store_version,
    )
    from mlops_nb.sustain import measure
    from mlops_nb.ui._progress import progress

    what = f"Project.train({name!r}, engine='dask')"
    warnings.warn(EXPERIMENTAL, UserWarning, stacklevel=5)
    schema = data.schema
    features = features_from_schema(schema, use_sensitive=use_sensitive)
    task = schema.task or "binary"
    target = schema.target
    with (
        engine(client, what) as cl,
        measure(project, "train", f"model:{name}", note=note) as energy,
        progress(4, f"training {name} on Dask (experimental)") as bar,
    ):
        start = time.perf_counter()
        est, est_name, family = make_estimator("lightgbm", task, params, seed)
        est_params = {k: v for k, v in est.get_params().items() if k != "n_jobs"}
        _check_ports(cl, est_params, what)
        ddf, sample = _frames(data, seed, len(cl.scheduler_info()["workers"]))
        sample = sample[sample[target].notna()]
        classes = None
        if task != "regression":  # distinct labels per partition, no shuffle
            found = ddf[target].map_partitions(_distinct).compute()
            classes = sorted(_labels(found.drop_duplicates()).tolist())
            if len(classes) < 2:
                msg = f"{what}: the target {target!r} has a single class {classes}."
                raise ValidationError(msg)
        X_sample = prepare_X(sample, features, what=what)
        prep = make_preprocessor(features, family).fit(X_sample)
        bar.step("preprocessing fitted on a sample")
        codes = None if classes is None else {c: i for i, c in enumerate(classes)}
        prepare = _Prepare(features, prep, target, codes, what)
        meta = prepare(sample.iloc[:0])
        prepared = ddf.map_partitions(prepare, meta=meta)
        train_part, hold_part = prepared.random_split(
            [1 - holdout, holdout], random_state=seed
        )
        (train_part,) = cl.persist([train_part])
        cols = features.names
        from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

        cls = DaskLGBMRegressor if task == "regression" else DaskLGBMClassifier
        dask_model = cls(client=cl, **est_params)
        kw = {
            k.removeprefix("model__"): v
            for k, v in _fit_params(_pipeline(prep, dask_model), sample[cols]).items()
        }
        with warnings.catch_warnings():  # Dask sets the threads of each worker
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
            dask_model.fit(train_part[cols], train_part[_LABEL], **kw)
        bar.step("fitted on the workers")
        if fitted is not None:
            fitted.append((dask_model, prep))
        local = dask_model.to_local()
        rows_fitted = len(train_part)
        validation, scored = _validate(
            local, hold_part, cols, task, classes, holdout, seed, rows_fitted
        )
        bar.step("validated")
        pipe = _pipeline(prep, local)
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
            cv=None,
            holdout=holdout,
            use_sensitive=use_sensitive,
            params=params,
            note=note,
            parent=parent,
            n_rows=rows_fitted + int(validation.get("holdout_rows", 0)),
            engine="dask",
            experimental=True,
            dask={
                "workers": len(cl.scheduler_info()["workers"]),
                "partitions": int(ddf.npartitions),
                "prep_rows": len(X_sample),
                "caveats": EXPERIMENTAL,
            },
            **({"threshold": threshold} if threshold else {}),
        )
        energy.attach(result)
        bar.step("stored")
    return result


def _validate(
    local: Any,
    hold: Any,
    cols: list[str],
    task: str,
    classes: list[Any] | None,
    holdout: float,
    seed: int,
    rows_fitted: int,
) -> tuple[dict[str, Any], list[Any]]:
    """Holdout metrics from at most :data:`HOLDOUT_ROWS` rows scored on the workers."""
    import numpy as np

    classify = task != "regression"
    n_hold = len(hold)
    if n_hold > HOLDOUT_ROWS:
        hold = hold.sample(frac=HOLDOUT_ROWS / n_hold, random_state=seed)
    width = len(classes) if classify and classes else 1
    meta = _Score(local, cols, classify)(hold._meta.iloc[:0])
    meta = meta.reindex(columns=[*(f"s{i}" for i in range(width)), _LABEL])
    got = hold.map_partitions(_Score(local, cols, classify), meta=meta).compute()
    scores = got.drop(columns=_LABEL).to_numpy(dtype=np.float64)
    codes = got[_LABEL].to_numpy()
    scheme = f"{holdout:.0%} holdout (Dask random_split, seed {seed})"
    validation: dict[str, Any] = {
        "scheme": scheme,
        "rows_fitted": rows_fitted,
        "holdout_rows": n_hold,
        "rows": len(got),
    }
    if len(got) == 0:
        validation["metrics"] = {}
        return validation, []
    import pandas as pd

    from mlops_nb.model._metrics import classification_metrics, regression_metrics

    if not classify:
        validation["metrics"] = regression_metrics(pd.Series(codes), scores[:, 0])
        return validation, []
    y = pd.Series(np.asarray(classes, dtype=object)[codes.astype(int)]).infer_objects()
    validation["metrics"] = classification_metrics(y, scores, classes or [])
    return validation, [(y, scores, scheme)]
