"""Model: one stored, immutable model version with its recipe, metrics and lineage."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError
from mlops_nb.model._prep import Features, prepare_X
from mlops_nb.store._version import StoredVersion
from mlops_nb.ui import Displayable, Flow, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.model._evaluate import Evaluation
    from mlops_nb.model._registry import PromotionReport


class Predictor:
    """Loaded model objects: a scikit-learn pipeline, or preprocessing + booster.

    The booster is a LightGBM booster.

    ``objects`` maps each artifact (``pipeline``; or ``prep``, ``booster``,
    ``tree_prep`` and ``trees``) to its parsed object. A LightGBM version preprocesses
    with the JSON numbers of ``tree_prep`` and predicts a few rows with the ``trees``
    table; its skops ``prep`` and LightGBM text are parsed only when something asks for
    them (large batches, ONNX export, explanations). Versions saved before these
    files existed use ``prep`` and ``booster``.
    """

    def __init__(
        self,
        flavor: str,
        objects: Mapping[str, Any],
        task: str,
        classes: list[Any] | None,
    ):
        self.flavor, self.objects, self.task = flavor, objects, task
        self.classes = classes

    @property
    def tree_prep(self) -> Any:
        """The numpy preprocessing of a LightGBM version, or None."""
        return self.objects.get("tree_prep") if self.flavor == "lightgbm" else None

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> Any:
        """Return the booster's input: ``X`` itself when it already is the matrix."""
        if not hasattr(X, "columns"):
            return X
        if self.tree_prep is not None:
            return self.tree_prep.transform(X)
        return self.objects["prep"].transform(X)

    def proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``.

        ``X`` is :func:`prepare_X` output, or for a LightGBM version also the model
        matrix of :meth:`TreePrep.matrix`.
        """
        import numpy as np

        if self.flavor == "sklearn":
            return self.objects["pipeline"].predict_proba(X)
        p = self._boosted(self._matrix(X))
        return np.column_stack([1 - p, p]) if p.ndim == 1 else p

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Labels (classification) or values (regression); ``X`` as in :meth:`proba`."""
        import numpy as np

        if self.task == "regression":
            if self.flavor == "sklearn":
                return self.objects["pipeline"].predict(X)
            return self._boosted(self._matrix(X))
        return np.asarray(self.classes)[self.proba(X).argmax(axis=1)]

    def _boosted(self, matrix: Any) -> np.ndarray:
        """Return ``Booster.predict``.

        It comes from the tree table (equal to the bit) while LightGBM's text is not
        parsed yet and the batch is small enough for that to be faster.
        """
        from mlops_nb.model._trees import SMALL_BATCH

        objects = self.objects
        cold = isinstance(objects, LoadedArtifacts) and not objects.is_parsed("booster")
        if cold and len(matrix) <= SMALL_BATCH and "trees" in objects:
            return objects["trees"].predict(matrix)
        return objects["booster"].predict(matrix)


class LoadedArtifacts(Mapping[str, Any]):
    """Artifacts of a model version, each parsed on first access and then kept.

    Every file has been read and checked against its SHA-256 (and its magic bytes)
    before this mapping exists; parsing later changes only *when* a parser runs.
    """

    def __init__(self, parsers: dict[str, Callable[[], Any]]):
        self._parsers = parsers
        self._parsed: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._parsed:
            self._parsed[key] = self._parsers[key]()
        return self._parsed[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsers)

    def __len__(self) -> int:
        return len(self._parsers)

    def is_parsed(self, key: str) -> bool:
        """Whether ``key`` has been parsed already."""
        return key in self._parsed


#: The format each artifact key must hold; any other key is a skops file.
_FORMATS = {
    "booster": "lightgbm",
    "trees": "trees",
    "tree_prep": "tree-prep",
    "onnx": "onnx",  # an imported ONNX model; its pipeline is parsed from it
}


def _parsers(blobs: dict[str, bytes], digests: dict[str, str]) -> LoadedArtifacts:
    """Build parsers for verified blobs, after checking each holds its key's format.

    Pickle bytes are refused here, and so is a file of the wrong kind for its key
    (say the preprocessing and the booster swapped in the registry): the numpy forms
    would otherwise predict while the swapped files waited, unparsed.
    """
    from mlops_nb.model._persist import (
        load_booster,
        load_onnx,
        load_skops,
        load_tree_prep,
        load_trees,
        sniff,
    )

    for key, data in blobs.items():
        found, needed = sniff(data, artifact=digests[key]), _FORMATS.get(key, "skops")
        if found != needed:  # intact bytes, wrong file: swapped or repointed
            msg = (
                f"artifact {digests[key]} ({key!r}) holds {found} data, but a model "
                f"version's {key!r} file is {needed}: the registry points at the wrong "
                "file (swapped or replaced). Nothing was loaded; restore the project "
                "from a backup or re-train."
            )
            raise IntegrityError(msg)

    checked = None
    if "booster" in blobs:  # strictly read before LightGBM's parser may ever see it
        checked = _checked_text(blobs["booster"], digests["booster"])

    def parse(key: str) -> Any:
        if key == "booster":
            return load_booster(blobs[key], artifact=digests[key], checked=checked)
        if key == "trees":
            return load_trees(blobs[key], artifact=digests[key])
        if key == "tree_prep":
            return load_tree_prep(blobs[key], artifact=digests[key])
        if key == "onnx":
            return load_onnx(blobs[key], artifact=digests[key])
        obj = load_skops(blobs[key], artifact=digests[key])
        if key == "prep":
            # numpy between preprocessing and booster: no pandas round trip
            obj.set_output(transform="default")
        return obj

    parsers = {key: functools.partial(parse, key) for key in blobs}
    if "onnx" in blobs and "pipeline" not in blobs:  # an imported ONNX model
        parsers["pipeline"] = lambda: loaded["onnx"]
    loaded = LoadedArtifacts(parsers)
    # parse now all but what the numpy forms stand in for: the skops preprocessing
    # (tree_prep) and the LightGBM text (trees; parsed for large batches)
    stand_ins = {"prep": "tree_prep", "booster": "trees"}
    for key in blobs:
        if stand_ins.get(key) not in blobs:
            loaded[key]
    pair = (digests.get("booster"), digests.get("trees"))
    if checked is not None and "trees" in blobs and pair not in _SAME_MODEL:
        # small batches answer from the table: it must hold the text's very trees
        from mlops_nb.model._lgb_text import check_same_model

        check_same_model(checked, loaded["trees"], artifact=digests["booster"])
        _SAME_MODEL.add(pair)
    return loaded


#: LightGBM texts this process has read strictly, by their verified SHA-256 (the same
#: bytes always give the same answer), and (text, table) pairs found to be one model.
#: Reading a 200-tree text strictly takes ~15 ms; a version loaded again skips it.
_CHECKED: dict[str, Any] = {}
_SAME_MODEL: set[tuple[str | None, str | None]] = set()


def _checked_text(data: bytes, digest: str) -> Any:
    from mlops_nb.model._lgb_text import check_model_text

    if digest not in _CHECKED:
        if len(_CHECKED) >= 16:  # a notebook's handful of versions, bounded
            _CHECKED.pop(next(iter(_CHECKED)))
        _CHECKED[digest] = check_model_text(data, artifact=digest)
    return _CHECKED[digest]


@dataclass(frozen=True, eq=False, repr=False)
class Model(StoredVersion, Displayable):
    """A model version: what it was trained on, how, how well, and where it stands.

    Get one from :meth:`Project.train` or :meth:`Project.model`. Its stage
    (candidate, staging, production, archived) changes only through :meth:`promote`
    and :meth:`Project.rollback`; its files never change.
    """

    project: Project = field(repr=False)
    id: int
    name: str
    version: int
    stage: str
    flavor: str
    artifacts: dict[str, str]
    recipe: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    environment: dict[str, Any]
    created_at: str
    created_by: str

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return self.recipe["task"]

    @property
    def classes(self) -> list[Any] | None:
        """Class labels in the order of :meth:`predict_proba`'s columns."""
        return self.recipe.get("classes")

    @property
    def features(self) -> list[str]:
        """Input columns the model reads."""
        return Features.from_dict(self.recipe["features"]).names

    @property
    def data(self) -> list[str]:
        """Labels of the data versions the model learnt from."""
        return [f"{d['name']} v{d['version']}" for d in self.lineage["data"]]

    # -- predictions -----------------------------------------------------------------
    def _predictor(self) -> Predictor:
        cached = self.__dict__.get("_cached_predictor")
        if cached is None:
            from mlops_nb.secure._signing import check_on_load

            check_on_load(
                self
            )  # a signed version's manifest is verified before any file is read

            # every file is read and verified before any parser sees any of them
            read = self.project._store.read_blobs(list(self.artifacts.values()))
            blobs = {key: read[digest] for key, digest in self.artifacts.items()}
            objects = _parsers(blobs, self.artifacts)
            cached = Predictor(self.flavor, objects, self.task, self.classes)
            mitigation = self.recipe.get("mitigation") or {}
            if mitigation.get("method") == "threshold_optimizer":
                # a fairness-mitigated version: the original's files plus per-group
                # thresholds
                from mlops_nb.human._thresholds import GroupThresholds

                cached = GroupThresholds(cached, self.recipe)
            object.__setattr__(self, "_cached_predictor", cached)
        return cached

    def _frame(self, X: pd.DataFrame | DataAsset) -> pd.DataFrame:
        """Return the user's rows, with generated features computed when missing."""
        from mlops_nb.data import DataAsset

        frame = X.frame if isinstance(X, DataAsset) else X
        generated = self.recipe.get("feature_recipe")
        if generated and any(c not in frame.columns for c in generated["outputs"]):
            from mlops_nb.data._recipe import apply_recipe

            frame = apply_recipe(frame, generated)
        return frame

    def _X(self, X: pd.DataFrame | DataAsset, what: str) -> pd.DataFrame:
        return prepare_X(
            self._frame(X),
            Features.from_dict(self.recipe["features"]),
            what=f"{self.label}.{what}",
        )

    def _inputs(self, X: pd.DataFrame | DataAsset, what: str) -> tuple[Any, Any]:
        """Return the loaded predictor and what it reads.

        For LightGBM, what it reads is the model matrix.
        """
        predictor = self._predictor()
        tree_prep = predictor.tree_prep if isinstance(predictor, Predictor) else None
        if tree_prep is not None:  # numpy all the way: no prepared DataFrame in between
            return predictor, tree_prep.matrix(
                self._frame(X), what=f"{self.label}.{what}"
            )
        return predictor, self._X(X, what)

    def predict(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Predicted labels (classification) or values (regression) for each row.

        A binary classifier decides its positive class when the probability of that
        class is at least :attr:`threshold`; a multiclass one, the most likely class.

        Raises
        ------
        SchemaError
            When an input column is missing or not numeric where it must be.
        IntegrityError, UnsafeFormatError
            When a stored file changed or holds a type mlops_nb does not load.
        """
        predictor, inputs = self._inputs(X, "predict")
        info = self.threshold_info
        if info is None:
            return predictor.predict(inputs)
        from mlops_nb.model._threshold import decide

        return decide(predictor.proba(inputs), self.classes or [], info)

    def predict_proba(self, X: pd.DataFrame | DataAsset) -> np.ndarray:
        """Class probabilities, one column per class in the order of :attr:`classes`."""
        from mlops_nb.errors import ValidationError

        if self.task == "regression":
            msg = f"{self.label} is a regression model; use predict()."
            raise ValidationError(msg)
        predictor, inputs = self._inputs(X, "predict_proba")
        return predictor.proba(inputs)

    # -- the decision threshold ------------------------------------------------------
    @property
    def threshold_info(self) -> dict[str, Any] | None:
        """The decision threshold and where it comes from (None unless binary).

        A dict with ``value``, ``positive_class``, ``source`` (``"canvas"``: the
        value canvas's value-maximising threshold on the validation rows, recorded
        at training; ``"default"``: 0.5; ``"set"``: :meth:`set_threshold`;
        ``"mitigation"``: per-group thresholds), ``reason``, ``by`` and ``at``.
        Predictions, evaluation, fairness, serving, bundles and monitoring all decide
        ``positive_class`` when ``P(positive_class) >= value``.
        """
        from mlops_nb.model._threshold import threshold_info

        return threshold_info(self)

    @property
    def threshold(self) -> float | None:
        """The decision threshold on P(positive class); None unless binary."""
        info = self.threshold_info
        return None if info is None else float(info["value"])

    def set_threshold(self, threshold: float, *, reason: str) -> dict[str, Any]:
        """Set the decision threshold of this binary version (audited).

        The setting is kept in the registry, not in the version's files: the files
        (and a signature over them) do not change, and the audit log records who set
        which threshold, from what, and why. It survives reopening the project.

        Parameters
        ----------
        threshold : float
            Strictly between 0 and 1: decide the positive class when its probability
            is at least this.
        reason : str
            Why (e.g. "value-maximising on test v1"); required.

        Returns
        -------
        dict
            The new :attr:`threshold_info`.

        Raises
        ------
        ValidationError
            Not a binary classifier, a mitigated version, a threshold outside (0, 1)
            or an empty reason; nothing changed.
        StoreError
            The project is open read-only; nothing changed.
        """
        from mlops_nb.model._threshold import set_threshold

        return set_threshold(self, threshold, reason=reason)

    # -- Model Ops actions -----------------------------------------------------------
    def evaluate(self, data: DataAsset, *, segment: str | None = None) -> Evaluation:
        """Metrics, curves, calibration and money value on a labelled data version.

        Parameters
        ----------
        data : DataAsset
            Labelled data the model did not learn from (e.g. the test split).
        segment : str, optional
            A column to break the metrics down by (default: the first sensitive
            column).

        Returns
        -------
        Evaluation
            Stored with the model; priced with the project's value canvas when it
            has one.
        """
        from mlops_nb.model._evaluate import evaluate

        return evaluate(self, data, segment=segment)

    def promote(
        self,
        stage: str,
        *,
        reason: str = "",
        data: DataAsset | None = None,
        tolerance: float = 0.01,
        min_metrics: dict[str, float] | None = None,
    ) -> PromotionReport:
        """Move this version to ``stage`` if every gate passes; else change nothing.

        Gates: not worse than the production champion beyond ``tolerance`` on the same
        data, ``min_metrics`` thresholds, and any gate registered with
        :func:`mlops_nb.model.register_gate`.

        Raises
        ------
        GateError
            Listing every failed gate; nothing changed.
        """
        from mlops_nb.model._registry import promote

        return promote(
            self,
            stage,
            reason=reason,
            data=data,
            tolerance=tolerance,
            min_metrics=min_metrics,
        )

    # -- later stages: each lives in its own package, imported when first used ------
    def monitor(self, reference: DataAsset, **options: Any) -> Any:
        """Create (or reopen) the Drift Ops monitor of this version.

        See :mod:`mlops_nb.drift`.
        """
        from mlops_nb.drift import create_monitor

        return create_monitor(self, reference, **options)

    def export_onnx(self, *, check: DataAsset | None = None, **options: Any) -> Any:
        """Export to ONNX with a parity check; see :mod:`mlops_nb.deploy`."""
        from mlops_nb.deploy import export_onnx

        return export_onnx(self, check=check, **options)

    def to_mlflow(
        self,
        path: Any = None,
        *,
        registry: str | None = None,
        name: str | None = None,
    ) -> Any:
        """Write this version as an MLflow model directory, or register it in a server.

        The directory has the ``python_function`` flavor (a loader shipped in its
        ``code/`` folder reads this version's skops / LightGBM text files, checked
        against their SHA-256; no pickle) and, when an ONNX export exists, MLflow's
        ``onnx`` flavor. ``mlflow.pyfunc.load_model(path).predict(frame)`` returns a
        frame: ``proba_<class>`` per class and ``decision`` at :attr:`threshold`
        (regression: ``prediction``). Data versions and hashes, metrics, fairness
        findings, carbon figures, threshold and lineage are in the MLmodel metadata
        (``mlops_nb``) and, when registered, in the model version's tags. Needs the
        extra: ``pip install 'mlops-nb[mlflow]'``.

        Parameters
        ----------
        path : str or path, optional
            A new (or empty) folder to write.
        registry : str, optional
            A tracking server URL (``http://127.0.0.1:5000``): log a run with the
            model and register it as a version of ``name`` (default: this name).
        name : str, optional
            The registered model name.

        Returns
        -------
        MlflowModel
            Path or URI, flavors, metadata and tags.
        """
        from mlops_nb.interop import to_mlflow

        return to_mlflow(self, path, registry=registry, name=name)

    def optimize(self, data: DataAsset, **options: Any) -> Any:
        """Build and measure smaller/faster variants (XMO).

        See :mod:`mlops_nb.deploy`.
        """
        from mlops_nb.deploy import optimize

        return optimize(self, data, **options)

    def serve(self, **options: Any) -> Any:
        """Serve this version over authenticated HTTP in the background.

        See :mod:`mlops_nb.deploy`.
        """
        from mlops_nb.deploy import serve

        return serve(self, **options)

    def predict_batch(
        self,
        source: DataAsset | pd.DataFrame,
        to: Any,
        *,
        client: Any = None,
        id: str | None = None,
        overwrite: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> Any:
        """Score a (large) data version with ONNX Runtime into partitioned parquet.

        Every partition of a large version is re-hashed first (one changed: an
        ``IntegrityError`` naming it, and nothing is scored or written), then each is
        scored on a Dask worker with one ONNX Runtime session per worker process and
        written to ``to/part-NNNNN.parquet`` with the id column (``row`` when the data
        has none), ``score`` (binary: P(positive class); multiclass: the probability
        of ``decision``; regression: the value) and ``decision`` (binary: at
        :attr:`threshold`; multiclass: the most likely class). ``to/_batch.json`` is
        written last. An audit entry and a carbon-ledger entry (``predict``, counting
        the predictions) are recorded. See :mod:`mlops_nb.deploy._batch`.

        Parameters
        ----------
        source : DataAsset or pandas.DataFrame
            A large version (scored on the workers), or a small version or frame
            (one partition, scored in this process).
        to : str or path
            An empty folder or fsspec URL (``s3://bucket/scores/``).
        client : dask.distributed.Client, str or None
            A client, a scheduler address, ``"local"`` (this process, one partition
            at a time) or None: the active default client, else a LocalCluster sized
            to the machine, closed afterwards.
        id : str, optional
            The id column to pass through (default: the data's ``id`` role).
        overwrite : bool
            Replace an earlier batch's files in ``to`` (other files are refused).
        storage_options : dict, optional
            fsspec options for ``to``.

        Returns
        -------
        BatchScores
            Rows scored, files written (rows and SHA-256 of each), the threshold.

        Raises
        ------
        IntegrityError
            A partition changed since it was registered; nothing written.
        ValidationError
            ``to`` holds files (without ``overwrite``), or a bad argument.
        """
        from mlops_nb.deploy._batch import predict_batch

        return predict_batch(
            self,
            source,
            to,
            client=client,
            id=id,
            overwrite=overwrite,
            storage_options=storage_options,
        )

    def fairness(self, data: DataAsset, **options: Any) -> Any:
        """Fairness by sensitive group and intersection; see :mod:`mlops_nb.human`."""
        from mlops_nb.human import fairness

        return fairness(self, data, **options)

    def mitigate(self, data: DataAsset, **options: Any) -> Any:
        """Build a fairness-mitigated new model version; see :mod:`mlops_nb.human`."""
        from mlops_nb.human import mitigate

        return mitigate(self, data, **options)

    def explain(self, data: Any, **options: Any) -> Any:
        """Global or local explanations with a what-if view.

        See :mod:`mlops_nb.human`.
        """
        from mlops_nb.human import explain

        return explain(self, data, **options)

    def card(self, **options: Any) -> Any:
        """Build the model card from recorded facts; see :mod:`mlops_nb.human`."""
        from mlops_nb.human import model_card

        return model_card(self, **options)

    def checklist(self, **options: Any) -> Any:
        """Build the release checklist that gates production.

        See :mod:`mlops_nb.human`.
        """
        from mlops_nb.human import checklist

        return checklist(self, **options)

    def retrain_warm(self, data: DataAsset, **options: Any) -> Any:
        """Continue training from this version on new data.

        Reports the energy saved versus a full retrain.
        """
        from mlops_nb.sustain import retrain_warm

        return retrain_warm(self, data, **options)

    def evaluations(self) -> list[Evaluation]:
        """Every stored evaluation of this version, oldest first."""
        from mlops_nb.model._evaluate import stored_evaluations

        return stored_evaluations(self)

    # -- rendering -------------------------------------------------------------------
    def _view(self) -> View:
        import pandas as pd

        from mlops_nb.model._threshold import describe

        v = self.metrics["validation"]
        r = self.recipe
        info = self.threshold_info
        decision = [("decides", f"{describe(info)}: {info['reason']}")] if info else []
        imported = r.get("imported")
        origin = (
            [  # trained elsewhere: where from, and the data it was measured on here
                ("imported from", f"{imported['uri']} (flavor {imported['flavor']})"),
                ("measured on", ", ".join(self.data)),
                ("rows measured", r.get("n_rows")),
            ]
            if imported
            else [("trained on", ", ".join(self.data)), ("rows", r.get("n_rows"))]
        )
        overview = KeyValues(
            [
                ("name", self.name),
                ("version", self.version),
                ("stage", self.stage),
                ("estimator", r["estimator"]),
                ("task", f"{r['task']} on {r['target']!r}"),
                *decision,
                *origin,
                (
                    "features",
                    f"{len(r['features']['numeric'])} numeric, "
                    f"{len(r['features']['categorical'])} categorical",
                ),
                (
                    "sensitive columns",
                    "used"
                    if r.get("use_sensitive")
                    else f"left out ({', '.join(r.get('sensitive') or []) or 'none'})",
                ),
                ("seed", r.get("seed")),
                (
                    "import time" if imported else "training time",
                    f"{self.metrics['duration_s']:.2f} s",
                ),
                (
                    "created",
                    f"{self.created_at[:19].replace('T', ' ')} UTC "
                    f"by {self.created_by}",
                ),
            ]
        )
        from mlops_nb.ui._html import Coded, header_label

        metrics = pd.DataFrame(
            {
                # words, with the metric's key on hover
                "metric": pd.Series(
                    [Coded(header_label(k), k) for k in v["metrics"]], dtype=object
                ),
                "value": list(v["metrics"].values()),
            }
        )
        tabs = [
            Tab("Overview", [overview]),
            Tab(
                "Metrics",
                [Text(f"Validation: {v['scheme']}.", "muted"), Table(metrics)],
            ),
        ]
        evals = self.evaluations()
        if evals:
            rows = [
                {
                    "data": e.data_label,
                    **({"decisions": _decided_at(e.threshold, info)} if info else {}),
                    **{k: e.metrics.get(k) for k in e.headline()},
                }
                for e in evals
            ]
            old = sum(not _same_threshold(e.threshold, info) for e in evals)
            note = (
                [
                    Text(
                        f"{old} of {len(evals)} evaluations decided at an earlier "
                        "threshold; evaluate again to see the decisions of "
                        f"{describe(info)}.",
                        "muted",
                    )
                ]
                if info and old
                else []
            )
            tabs.append(Tab("Evaluations", [*note, Table(pd.DataFrame(rows))]))
        if imported:  # the model came from elsewhere; the data only measured it
            edges = [(imported["uri"], f"import ({imported['from']})", self.label)]
            edges += [(d, "measured on", self.label) for d in self.data]
        else:
            edges = [(d, "train", self.label) for d in self.data]
        if self.lineage.get("parent_model"):
            pn, pv = self.lineage["parent_model"]
            edges.append((f"{pn} v{pv}", "recipe of", self.label))
        tabs.append(Tab("Lineage", [Flow(edges, [self.label])]))
        env = self.environment
        tabs.append(
            Tab(
                "Environment",
                [
                    KeyValues(
                        [
                            ("python", env["python"]),
                            ("platform", env["platform"]),
                            ("source", env.get("source") or "—"),
                            *[(k, v or "—") for k, v in env["packages"].items()],
                        ]
                    )
                ],
            )
        )
        primary = next(iter(v["metrics"]))
        from mlops_nb.model._metrics import PRIMARY

        key = PRIMARY[self.task][0]
        if key in v["metrics"]:
            primary = key
        summary = (
            f"{r['estimator']} on {', '.join(self.data)}; "
            f"{header_label(primary)} {v['metrics'][primary]:.3f} ({v['scheme']})"
        )
        tone = {"production": "ok", "staging": "info", "archived": "muted"}.get(
            self.stage, "warning"
        )
        return View("Model", self.label, summary, [(self.stage, tone)], tabs)


def model_from_row(project: Project, row: Any) -> Model:
    """Build a Model from its registry row."""
    return Model(
        project=project,
        id=row["id"],
        name=row["name"],
        version=row["version"],
        stage=row["stage"],
        flavor=row["flavor"],
        artifacts=json.loads(row["artifacts"]),
        recipe=json.loads(row["recipe"]),
        metrics=json.loads(row["metrics"]),
        lineage=json.loads(row["lineage"]),
        environment=json.loads(row["environment"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _same_threshold(
    stored: dict[str, Any] | None, current: dict[str, Any] | None
) -> bool:
    """Whether an evaluation decided as the version decides now (same threshold)."""
    if not stored or not current:
        return stored == current
    return stored.get("value") == current.get("value") and str(
        stored.get("positive_class")
    ) == str(current.get("positive_class"))


def _decided_at(stored: dict[str, Any] | None, current: dict[str, Any] | None) -> str:
    """Return e.g. ``decided at 0.1306 (set), current`` for the Evaluations tab."""
    where = (
        f"decided at {stored['value']:.4g} ({stored.get('source', '?')})"
        if stored
        else "decided by the most likely class"
    )
    return where + (", current" if _same_threshold(stored, current) else ", earlier")
