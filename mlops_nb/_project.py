"""Project: a folder on disk that holds every version, report and audit entry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config
from mlops_nb.store import Store, VerifyResult
from mlops_nb.ui import Displayable, Flow, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

    from mlops_nb.business import ValueCanvas
    from mlops_nb.data import DataAsset
    from mlops_nb.drift import Monitor
    from mlops_nb.model import Comparison, Model, PromotionReport


class Project(Displayable):
    """An mlops_nb project: a folder with ``registry.sqlite`` and ``artifacts/``.

    Use :meth:`open` to create or reopen one. Everything a project holds (data
    versions, reports, the audit log) survives a kernel restart.

    Examples
    --------
    >>> import tempfile, pandas as pd, mlops_nb as mnb
    >>> proj = mnb.Project.open(tempfile.mkdtemp() + "/demo")
    >>> frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    >>> v1 = proj.data("toy", frame, target="y")
    >>> v1.version, proj.data("toy", frame).version
    (1, 1)
    """

    def __init__(self, store: Store, *, trust: tuple[str, ...] = ()):
        self._store = store
        self._trust = tuple(trust)  # pinned key fingerprints (see mlops_nb.secure)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = True,
        trust: Any = None,
        artifacts: str | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> Project:
        """Create or reopen the project at ``path``.

        Parameters
        ----------
        path : str or Path
            The project folder. A missing or empty folder becomes a new project.
            Or a team project's database, ``postgresql://user@host/db?schema=name``
            (upgraded once with ``mlops-nb db upgrade URL``; never by a kernel).
        artifacts : str, optional
            A team project's file store (required with a database URL):
            ``s3://bucket/prefix`` (credentials from the standard AWS chain) or a
            local folder URL such as ``file:///srv/ml/project``; default: the
            environment variable ``MLOPS_NB_ARTIFACTS``.
        storage_options : dict, optional
            Non-secret fsspec options of ``artifacts`` (e.g.
            ``{"client_kwargs": {"endpoint_url": ...}}``).
        create : bool
            When False, a missing project is an error instead of being created.
        trust : str or list of str, optional
            Pin the signing key(s): a public key as ``mnb.secure.public_key(proj)``
            prints it, or its fingerprint ``"sha256:<64 hex>"``. Model versions then
            load only when signed by a pinned key (also ``MLOPS_NB_TRUST``).

        Raises
        ------
        NotAProjectError
            When ``path`` is a file, or a non-empty folder that is not a project.
        StoreError
            When the folder is writable by other users, or the database is unusable.
        IntegrityError
            When ``trust`` is given and the folder's key material names another key
            (a restored backup of another project, or a swapped key).
        """
        from mlops_nb.secure._trust import check_open, parse_pins

        pins = parse_pins(trust, what="Project.open(trust=...)")
        if _is_team_url(path):
            import os

            from mlops_nb.store._team_store import TeamStore

            # a notebook's project_dir parameter may be a URL: the files' place then
            # comes from MLOPS_NB_ARTIFACTS (papermill, make demo)
            artifacts = artifacts or os.environ.get("MLOPS_NB_ARTIFACTS") or None
            store: Any = TeamStore(
                str(path), artifacts, storage_options=storage_options
            )
        elif artifacts is not None or storage_options is not None:
            from mlops_nb.errors import ValidationError

            msg = (
                f"Project.open({str(path)!r}, artifacts=...): artifacts= is for team "
                "projects (a postgresql:// database URL); a project folder keeps its "
                "files in its own artifacts/ folder. Remove artifacts=."
            )
            raise ValidationError(msg)
        else:
            store = Store(Path(path), create=create)
        project = cls(store, trust=pins)
        check_open(project)
        return project

    @property
    def path(self) -> Path:
        """The project folder."""
        return self._store.root

    @property
    def name(self) -> str:
        """The folder's name (a team project's schema)."""
        return str(getattr(self._store, "name", None) or self._store.root.name)

    @staticmethod
    def _user() -> str:
        return get_config()["user"]

    # -- data ------------------------------------------------------------------------
    def data(
        self,
        name: str,
        source: pd.DataFrame | str | Path,
        *,
        target: str | None = None,
        sensitive: str | Sequence[str] | None = None,
        time: str | None = None,
        id: str | None = None,
        kinds: Mapping[str, str] | None = None,
        labels: Mapping[str, Mapping[Any, str] | None] | None = None,
        descriptions: Mapping[str, str | None] | None = None,
        note: str = "",
    ) -> DataAsset:
        """Register a table as a version of the asset ``name``.

        Parameters
        ----------
        name : str
            The asset's name: letters, digits, ``_ - .``; at most 64 characters.
        source : DataFrame, path, glob, URL or Dask DataFrame
            The data, or a ``.csv`` / ``.parquet`` file. A folder of parquet
            files, a glob (``"logs/*.parquet"``), a URL (``"s3://..."``) or a Dask
            DataFrame registers a *large* version: each partition is stored and
            pinned by SHA-256, never loaded whole (``asset.dask()``,
            ``asset.sample(n, seed=)``).
        target, time, id : str, optional
            Columns with those roles. When omitted for a name that already has
            versions, the roles of its newest version are kept.
        sensitive : str or list of str, optional
            Sensitive attributes (fairness reviews use them).
        kinds : dict, optional
            Overrides of inferred column kinds, e.g. ``{"zip": "categorical"}``.
        labels : dict, optional
            The data dictionary's labels of coded values, e.g. ``{"SEX": {1:
            "male", 2: "female"}}``: views show the label, with the code on hover.
            Kept by later versions of ``name`` and versions derived from it unless
            given anew (``{column: None}`` removes a column's labels).
        descriptions : dict, optional
            What columns hold, e.g. ``{"SEX": "Sex of the person"}``; kept likewise.
        note : str
            Why this version exists; recorded in lineage and the audit log.

        Returns
        -------
        DataAsset
            The new version, or the existing one when the same data was registered
            (the dictionary is not part of the content hash: given anew for the same
            data, it updates that version's dictionary, see ``with_labels``).

        Raises
        ------
        RegistryNameError, EmptyDataError, SchemaError, UnsupportedFormatError,
        DataReadError
            With a message that says what to change; nothing is stored.
        """
        from mlops_nb.data._frames import read_source
        from mlops_nb.data._register import _UNSET, register_frame

        what = f"Project.data({name!r})"

        def role(value: Any) -> Any:
            return _UNSET if value is None else value

        from mlops_nb.data._large import is_large_source

        if is_large_source(source):  # partitions stored one at a time, never loaded
            from mlops_nb.data._large import register_large

            return register_large(
                self,
                name,
                source,
                roles={
                    "target": role(target),
                    "sensitive": role(sensitive),
                    "time": role(time),
                    "id": role(id),
                },
                kinds=kinds,
                labels=labels,
                descriptions=descriptions,
                note=note,
                what=what,
            )
        frame, described = read_source(source, what=what)
        return register_frame(
            self,
            name,
            frame,
            target=role(target),
            sensitive=role(sensitive),
            time=role(time),
            id=role(id),
            kinds=kinds,
            labels=labels,
            descriptions=descriptions,
            note=note,
            source=described,
            what=what,
        )

    def asset(self, name: str, version: int | None = None) -> DataAsset:
        """Return a version of an asset (the newest when ``version`` is None).

        Raises
        ------
        NotFoundError
            Naming the assets or versions that do exist.
        """
        from mlops_nb.data._register import asset_row

        return self._asset_from_row(asset_row(self, name, version))

    def assets(self) -> pd.DataFrame:
        """One row per asset: newest version, number of versions, size, last change."""
        import pandas as pd

        from mlops_nb.store._q_assets import asset_summaries

        out = []
        for r in asset_summaries(self._store):
            latest = self._asset_row(r["name"], r["latest"])
            out.append(
                {
                    "name": r["name"],
                    "latest": r["latest"],
                    "versions": r["versions"],
                    "rows": latest["n_rows"],
                    "columns": latest["n_cols"],
                    "made by": latest["operation"],
                    "updated": r["updated"][:19].replace("T", " "),
                }
            )
        cols = ["name", "latest", "versions", "rows", "columns", "made by", "updated"]
        return pd.DataFrame(out, columns=cols)

    def versions(self, name: str) -> pd.DataFrame:
        """Every version of one asset with its parents, operation and note."""
        import pandas as pd

        self.asset(name)  # clear error for an unknown name
        from mlops_nb.store._q_assets import asset_history

        frame = pd.DataFrame(asset_history(self._store, name))
        frame["parents"] = frame["parents"].map(
            lambda p: ", ".join(f"{n} v{v}" for n, v in json.loads(p))
        )
        return frame

    def _asset_row(self, name: str, version: int) -> Any:
        from mlops_nb.data._register import asset_row

        return asset_row(self, name, version)

    def _asset_from_row(self, row: Any) -> DataAsset:
        from mlops_nb.data._asset import asset_from_row

        return asset_from_row(self, row)

    # -- reports ---------------------------------------------------------------------
    def _report(
        self, owner_kind: str, owner_id: int, kind: str
    ) -> dict[str, Any] | None:
        from mlops_nb.store._q_reports import report_payload

        text = report_payload(self._store, owner_kind, owner_id, kind)
        return None if text is None else json.loads(text)

    def _save_report(
        self, owner_kind: str, owner_id: int, kind: str, payload: Any
    ) -> None:
        from mlops_nb.store._db import now
        from mlops_nb.store._q_reports import insert_report_once

        text = json.dumps(payload, default=_json_default)
        with self._store.write() as conn:
            insert_report_once(conn, owner_kind, owner_id, kind, text, now())

    # -- Business Ops ----------------------------------------------------------------
    def canvas(self, **fields: Any) -> ValueCanvas:
        """Return the project's value canvas; with fields, save a new version of it.

        Parameters
        ----------
        **fields
            ``process``, ``value_level``, ``kpis``, ``outcomes`` (money value of tp,
            fp, fn, tn), ``stakeholders``, ``risks``, ``success``,
            ``positive_class``, ``currency``, ``note``. Fields not given keep their
            current values.

        Returns
        -------
        ValueCanvas

        Raises
        ------
        NotFoundError
            Without fields, when the project has no canvas yet.
        ValidationError
            Listing every invalid field; nothing is saved.
        """
        from mlops_nb.business._canvas import current_canvas, save_canvas
        from mlops_nb.errors import NotFoundError

        if fields:
            return save_canvas(self, **fields)
        canvas = current_canvas(self)
        if canvas is None:
            msg = (
                "this project has no value canvas yet: call proj.canvas(process=..., "
                "value_level=..., "
                "outcomes={'tp': ..., 'fp': ..., 'fn': ..., 'tn': ...})"
            )
            raise NotFoundError(msg)
        return canvas

    # -- Model Ops -------------------------------------------------------------------
    def train(
        self,
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
        engine: str = "local",
        client: Any = None,
    ) -> Model:
        """Train a new version of model ``name`` on a labelled data version.

        Parameters
        ----------
        name : str
            The model's name (validated like asset names).
        data : DataAsset
            Training data with a target; its schema decides features and task.
        estimator : str or scikit-learn estimator
            ``"lightgbm"``, ``"logistic"`` (``"linear"`` for regression),
            ``"hist_gradient_boosting"``, ``"random_forest"``, ``"ebm"``, or an object.
        params : dict, optional
            Estimator parameters over mlops_nb's defaults.
        cv : int, optional
            Validate with k-fold cross-validation instead of a holdout.
        holdout : float
            Share of rows held out for validation metrics (when ``cv`` is None); the
            stored model is the one fitted on the other rows, so the metrics describe
            it exactly. With ``cv`` the stored model is refit on all rows.
        seed : int
            Seeds the holdout, the folds and the estimator.
        use_sensitive : bool
            Use sensitive columns as features (default: left out).
        note : str
            Recorded with the version.
        engine : str
            ``"local"`` (default): one process. ``"dask"`` (experimental, LightGBM
            only, needs the ``scale`` extra): ``lightgbm.dask`` on a Dask cluster,
            for a large version; the preprocessing is fitted on a seeded sample, the
            results differ from single-machine training, and the version is stored
            like any LightGBM one (``to_local()``, text booster). See the README.
        client : dask.distributed.Client or str, optional
            With ``engine="dask"``: a Client or a scheduler address; None uses the
            active client, else a LocalCluster on this machine.

        Returns
        -------
        Model
            The new version, at stage ``candidate``.
        """
        from mlops_nb.model._train import train_model

        return train_model(
            self,
            name,
            data,
            estimator=estimator,
            params=params,
            cv=cv,
            holdout=holdout,
            seed=seed,
            use_sensitive=use_sensitive,
            note=note,
            engine=engine,
            client=client,
        )

    def from_mlflow(
        self,
        uri: str,
        *,
        data: DataAsset,
        name: str | None = None,
        trust_pickle: bool = False,
        registry: str | None = None,
    ) -> Model:
        """Import an MLflow model as a new model version (see :mod:`mlops_nb.interop`).

        Reads the ``sklearn`` flavor in skops format, the ``lightgbm`` flavor (a
        Booster's text, or a scikit-learn-API model in skops format), the ``onnx``
        flavor (one input per column, named as the column; the ONNX file is stored
        as it is and answers through onnxruntime) and MLflow models
        mlops_nb wrote (:meth:`Model.to_mlflow`). The version records the source URI
        and every file's SHA-256, and is measured on ``data``; it evaluates, monitors,
        explains and builds a card like a trained one. Needs the extra:
        ``pip install 'mlops-nb[mlflow]'``.

        Parameters
        ----------
        uri : str
            A local MLmodel folder, a ``runs:/`` URI, or ``models:/name/version``
            (``models:/name/Stage``, ``models:/name@alias``) with ``registry``.
        data : DataAsset
            Labelled data with the model's input columns.
        name : str, optional
            The model name in this project (default: the name mlops_nb exported it
            under, else ``mlflow-import``).
        trust_pickle : bool
            Load a pickle/cloudpickle flavor (this runs code from the file); it is
            then stored in safe formats. Default: refused.
        registry : str, optional
            The MLflow tracking server for ``models:/`` and ``runs:/`` URIs.

        Raises
        ------
        UnsafeFormatError
            A pickled flavor without ``trust_pickle=True``, or untrusted skops types.
        UnsupportedFormatError
            A flavor mlops_nb does not import (e.g. pyfunc only).
        SchemaError
            The model's inputs (signature or ONNX graph inputs) do not match
            ``data``'s columns.
        """
        from mlops_nb.interop import from_mlflow

        return from_mlflow(
            self,
            uri,
            data=data,
            name=name,
            trust_pickle=trust_pickle,
            registry=registry,
        )

    def model(
        self, name: str, version: int | None = None, *, stage: str | None = None
    ) -> Model:
        """Return a model version: the newest, a given ``version``, or one at ``stage``.

        Raises
        ------
        NotFoundError
            Naming the models, versions or stages that exist.
        """
        from mlops_nb.errors import NotFoundError, did_you_mean, listing
        from mlops_nb.model._model import model_from_row
        from mlops_nb.model._registry import _check_stage
        from mlops_nb.store._q_models import find_model, model_names

        if stage is not None:
            _check_stage(stage)
        row = find_model(self._store, name, version, stage)
        if row is not None:
            if stage is not None:  # its history and audit log must explain the stage
                from mlops_nb.store._consistency import check_stage

                check_stage(self._store, row, f"{name} v{row['version']}")
            return model_from_row(self, row)
        names = model_names(self._store)
        if name not in names:
            msg = (
                f"no model named {name!r}. Models: {listing(names)}."
                f"{did_you_mean(name, names)}"
            )
            raise NotFoundError(msg)
        found = (
            self.models()
            .query("name == @name")[["version", "stage"]]
            .to_dict("records")
        )
        msg = (
            f"model {name!r} has no version matching version={version}, "
            f"stage={stage}; it has {found}."
        )
        raise NotFoundError(msg)

    def models(self) -> pd.DataFrame:
        """Return every model version.

        Columns: name, version, stage, estimator, data, validation metric.
        """
        import pandas as pd

        from mlops_nb.store._q_models import model_summaries

        out = []
        for r in model_summaries(self._store):
            recipe, lineage = json.loads(r["recipe"]), json.loads(r["lineage"])
            out.append(
                {
                    "name": r["name"],
                    "version": r["version"],
                    "stage": r["stage"],
                    "estimator": recipe["estimator"],
                    "task": recipe["task"],
                    "data": ", ".join(
                        f"{d['name']} v{d['version']}" for d in lineage["data"]
                    ),
                    "created": r["created_at"][:19].replace("T", " "),
                }
            )
        return pd.DataFrame(
            out,
            columns=[
                "name",
                "version",
                "stage",
                "estimator",
                "task",
                "data",
                "created",
            ],
        )

    def compare(self, name: str, data: DataAsset | None = None) -> Comparison:
        """Compare champion and challengers of ``name`` side by side.

        They are evaluated on ``data`` when it is given.
        """
        from mlops_nb.model._registry import compare

        return compare(self, name, data)

    def rollback(self, name: str, *, reason: str = "") -> PromotionReport:
        """Put back the production version that the current production one replaced."""
        from mlops_nb.model._registry import rollback

        return rollback(self, name, reason=reason)

    # -- Drift Ops -------------------------------------------------------------------
    def monitor(self, model: str, version: int | None = None) -> Monitor:
        """Reopen the drift monitor of a model version (default: newest monitored one).

        Raises
        ------
        NotFoundError
            Naming the monitors that exist.
        """
        from mlops_nb.drift import open_monitor

        return open_monitor(self, model, version)

    def monitors(self) -> pd.DataFrame:
        """List drift monitors, one row each.

        Columns: model version, reference, batches, labels, updated.
        """
        from mlops_nb.drift import list_monitors

        return list_monitors(self)

    # -- Sustainable Ops and Sec Ops ------------------------------------------------
    def sustainability(self, **options: Any) -> Any:
        """Return the project's carbon/energy ledger; see :mod:`mlops_nb.sustain`."""
        from mlops_nb.sustain import sustainability

        return sustainability(self, **options)

    def poisoning_trend(self, name: str, **options: Any) -> Any:
        """Track the suspicious-label rate across an asset's versions.

        The trend comes with change-point alerts.
        """
        from mlops_nb.secure import poisoning_trend

        return poisoning_trend(self, name, **options)

    def vet(self, data: Any, **options: Any) -> Any:
        """Vet an open dataset.

        Checks provenance, licence, duplicates/leakage, relevance and PII.
        """
        from mlops_nb.secure import vet

        return vet(self, data, **options)

    # -- versioned documents (value canvas, ...) -------------------------------------
    def _save_document(
        self, kind: str, name: str, payload: Any, *, note: str = ""
    ) -> dict[str, Any]:
        """Store ``payload`` as the next version of document ``kind``/``name``.

        The same payload again returns the existing version. Returns the stored row as
        a dict with ``payload`` decoded.
        """
        import hashlib

        from mlops_nb.store import _q_documents as q
        from mlops_nb.store._db import now

        text = json.dumps(payload, sort_keys=True, default=_json_default)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._store.write() as conn:
            row = q.document_by_hash_in(conn, kind, name, digest)
            if row is None:
                version = q.next_document_version(conn, kind, name)
                q.insert_document(
                    conn, kind, name, version, digest, text, note, now(), self._user()
                )
                self._store.audit(
                    conn, f"save {kind}", f"{kind}:{name}@{version}", note=note
                )
                row = q.document_at_in(conn, kind, name, version)
        assert row is not None  # written in this transaction
        return {**row, "payload": json.loads(row["payload"])}

    def _document(
        self, kind: str, name: str, version: int | None = None
    ) -> dict[str, Any] | None:
        """Return the newest (or a given) version of a document, or ``None``."""
        from mlops_nb.store._q_documents import find_document

        row = find_document(self._store, kind, name, version)
        return None if row is None else {**row, "payload": json.loads(row["payload"])}

    # -- integrity and maintenance ---------------------------------------------------
    def verify(self) -> VerifyReport:
        """Re-hash every artifact and check the database and the audit chain.

        Also checks what every model and asset row points at, every model stage
        against its history and the audit log, every document against the audit
        entry that saved it, and the audit log against its anchor (``audit.head``).

        Returns
        -------
        VerifyReport
            ``ok`` is False when any artifact changed, is missing or is a link, a
            signed model version's signature does not verify, or any of the records
            above is inconsistent (each is listed in ``problems``).
        """
        from mlops_nb.secure._signing import signature_problems
        from mlops_nb.store._consistency import (
            document_problems,
            pointer_problems,
            stage_problems,
        )

        records: dict[str, str] = {}
        with self._store.db.lenient_payloads():  # bad JSON rows: listed, not raised
            for found in (
                self._store.payload_problems(),
                pointer_problems(self._store),
                stage_problems(self._store),
                document_problems(self._store),
            ):
                for key, problem in found.items():
                    records[key] = "; ".join(filter(None, [records.get(key), problem]))
            return VerifyReport(
                self.name, self._store.verify(), signature_problems(self), records
            )

    def gc(self) -> dict[str, int]:
        """Remove leftovers of interrupted writes and blobs no row refers to."""
        return self._store.gc()

    def backup(self, dest: str | Path) -> Path:
        """Copy the project consistently (SQLite backup API) to an empty folder."""
        from mlops_nb.secure._trust import copy_trust_file

        # the public key and policy (never the private key), inside backup(): a
        # failure there removes the partial copy too
        return self._store.backup(
            Path(dest), then=lambda out: copy_trust_file(self, out)
        )

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        """Return the audit log, newest first: time, user, action, object, detail."""
        import pandas as pd

        from mlops_nb.store._q_reports import audit_entries

        return pd.DataFrame(
            audit_entries(self._store, limit),
            columns=["id", "at", "user", "action", "object", "detail"],
        )

    # -- rendering -------------------------------------------------------------------
    def _where(self) -> list[tuple[str, str]]:
        """Where the project lives: its folder, or a team project's URLs (masked)."""
        location = getattr(self._store, "location", None)
        if location is None:
            return [("folder", str(self.path))]
        return [("database", location), ("artifacts", self._store.artifacts_location)]

    def _view(self) -> View:
        assets = self.assets()
        n_versions = int(assets["versions"].sum()) if len(assets) else 0
        from mlops_nb.data._lineage import plural, project_lineage
        from mlops_nb.store._q_reports import audit_count

        audit = self.audit_log(limit=30)
        # data -> data, data -> model, model -> exports, bundles and monitors
        edges = project_lineage(self)
        overview = KeyValues(
            [
                *self._where(),
                ("assets", len(assets)),
                ("data versions", n_versions),
                ("audit entries", audit_count(self._store)),
            ]
        )
        tabs = [
            Tab("Overview", [overview]),
            Tab(
                "Assets",
                [Table(assets)]
                if len(assets)
                else [Text("No data yet: proj.data(name, frame).", "muted")],
            ),
            Tab(
                "Lineage",
                [Flow(edges)]
                if edges
                else [Text("No derived versions or models yet.", "muted")],
            ),
            Tab(
                "Audit log",
                [Table(_readable_audit(audit), max_rows=30)],
            ),
        ]
        models = self.models()
        if len(models):  # the model registry, once there is one
            tabs.insert(2, Tab("Models", [Table(models, max_rows=50)]))
        data = f"{plural(len(assets), 'asset')}, {plural(n_versions, 'version')}"
        at = getattr(self._store, "location", None) or self.path
        summary = f"{data}, at {at}"
        if len(models):
            summary = (
                f"{data}, {plural(models['name'].nunique(), 'model')} "
                f"({plural(len(models), 'version')}), at {at}"
            )
        return View("Project", self.name, summary, [], tabs)


def _is_team_url(path: object) -> bool:
    """Whether ``path`` is a team database URL (no SQLAlchemy import for a folder)."""
    return isinstance(path, str) and path.strip().lower().startswith(
        ("postgresql://", "postgresql+psycopg://")
    )


def _readable_audit(audit: pd.DataFrame) -> pd.DataFrame:
    """Return the audit log as people read it: times to the second, objects as labels.

    ``2026-12-06T09:25:49.845276+00:00`` shows as ``2026-12-06 09:25:49 UTC`` and
    ``model:employment@2`` as ``model employment v2`` (the form entries that already
    say ``model:employment v2`` take too), documents by what they are and whose
    (``onnx:clf@1@1`` as ``ONNX export of model clf v1``, see
    :func:`mlops_nb._readable.readable_object`); :meth:`Project.audit_log` keeps the
    raw rows.
    """
    import pandas as pd

    from mlops_nb._readable import readable_object

    at = pd.to_datetime(audit["at"], utc=True, errors="coerce", format="ISO8601")
    shown = audit[["at", "user", "action", "object"]].copy()
    shown["at"] = [
        t.strftime("%Y-%m-%d %H:%M:%S UTC") if not pd.isna(t) else raw
        for t, raw in zip(at, audit["at"], strict=True)
    ]
    shown["object"] = [readable_object(o) for o in audit["object"]]
    return shown


@dataclass(frozen=True, repr=False)
class VerifyReport(Displayable):
    """The result of :meth:`Project.verify`.

    It covers artifacts, the database, the audit chain and signatures.
    """

    project: str
    result: VerifyResult
    signatures: dict[str, str] = field(default_factory=dict)
    records: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when artifacts, database, audit chain, records and signatures hold."""
        return self.result.ok and not self.signatures and not self.records

    @property
    def problems(self) -> dict[str, str]:
        """Artifact id, model/asset/document or audit anchor -> what is wrong."""
        out = dict(self.result.problems)
        for found in (self.records, self.signatures):
            for key, problem in found.items():
                out[key] = "; ".join(filter(None, [out.get(key), problem]))
        if self.result.audit:
            out["audit log"] = "; ".join(self.result.audit)
        return out

    def _view(self) -> View:
        import pandas as pd

        r = self.result
        blocks: list[Any] = [
            KeyValues(
                [
                    ("artifacts checked", r.checked),
                    ("damaged or missing", len(r.problems)),
                    ("database", r.database),
                    ("audit chain", "ok" if not r.audit else "; ".join(r.audit)),
                    (
                        "signatures",
                        "ok"
                        if not self.signatures
                        else f"{len(self.signatures)} failed",
                    ),
                    (
                        "records (pointers, stages, documents)",
                        "ok" if not self.records else f"{len(self.records)} problems",
                    ),
                    ("unreferenced blobs (gc removes)", len(r.unreferenced)),
                ]
            )
        ]
        problems = self.problems
        if problems:
            frame = pd.DataFrame(
                {"artifact": list(problems), "problem": list(problems.values())}
            )
            blocks.append(Table(frame))
        summary = (
            "all artifacts intact"
            if self.ok
            else f"{len(problems)} integrity problem(s)"
        )
        badge = ("verified", "ok") if self.ok else ("integrity problem", "error")
        return View("Verify", self.project, summary, [badge], [Tab("Result", blocks)])


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return str(value)
