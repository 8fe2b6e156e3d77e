"""Monitor: the drift watch over one model version, persisted in its project.

A monitor is a versioned document (kind ``"monitor"``, named ``"<model>@v<version>"``)
that holds its model version, its anchored reference (name, version and content
hash), its options, the analysis batches it observed and the label batches that
arrived. Every change is a new document version and an audit entry; the reference
changes only through :meth:`Monitor.approve_rebaseline`, which records who, when,
why and both references' hashes.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from mlops_nb._lineage import emits
from mlops_nb.drift import _options
from mlops_nb.drift._records import Observation, Rebaseline, TargetsReport
from mlops_nb.errors import NotFoundError, SchemaError, ValidationError, listing
from mlops_nb.ui import Displayable, Flow, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data import DataAsset
    from mlops_nb.drift._review import DriftReview
    from mlops_nb.model import Model
    from mlops_nb.model._retrain import RetrainResult

KIND = "monitor"


def decision_of(
    model: Model, options: dict[str, Any], canvas: Any = None
) -> dict[str, Any] | None:
    """Return the threshold a review decides at, on the class it calls positive.

    The review acts on the canvas's positive class (else the model's last class).
    Unless the monitor's ``decision_threshold`` option is set, it decides at the
    model's threshold (:attr:`Model.threshold_info`), read on that class: deciding
    the other class when ``P(other) >= t`` is deciding this one from ``1 - t``.
    None for a model that is not a binary classifier.
    """
    from mlops_nb.model._threshold import class_index, describe

    info = model.threshold_info
    if info is None:
        return None
    classes = list(model.classes or [])
    pos = len(classes) - 1
    if canvas is not None:
        k = class_index(classes, canvas.positive_class)
        pos = k if k >= 0 else pos
    given = options.get("decision_threshold")
    if given is not None:
        return {
            "threshold": float(given),
            "positive_class": classes[pos],
            "source": "monitor option",
            "text": f"P({classes[pos]}) >= {float(given):.4g} (the monitor's "
            "decision_threshold option, not the model's threshold "
            f"{describe(info)})",
        }
    same = class_index(classes, info["positive_class"]) == pos
    t = float(info["value"] if same else 1 - info["value"])
    text = describe({**info, "value": t, "positive_class": classes[pos]})
    return {
        "threshold": t,
        "positive_class": classes[pos],
        "source": info["source"],
        "text": text,
    }


def _ref_record(asset: DataAsset) -> dict[str, Any]:
    return {
        "name": asset.name,
        "version": asset.version,
        "content_hash": asset.content_hash,
        "rows": asset.n_rows,
    }


def create_monitor(model: Model, reference: DataAsset, **options: Any) -> Monitor:
    """Create the monitor of ``model`` anchored to ``reference``, or reopen it.

    Called by :meth:`mlops_nb.Model.monitor`; the options are described in
    :mod:`mlops_nb.drift._options`. Reopening with the same reference returns the
    stored monitor (options that are given replace the stored ones, recorded as a new
    version).

    Raises
    ------
    ValidationError
        When ``reference`` is not a DataAsset, lacks the model's features or target,
        or differs from the reference the existing monitor is anchored to.
    """
    from mlops_nb.data import DataAsset

    what = f"{model.label}.monitor"
    if not isinstance(reference, DataAsset):
        msg = (
            f"{what}(reference=...): expected a DataAsset with labels (e.g. the "
            "test split), got "
            f"{type(reference).__name__}. Register a frame first: proj.data(name, "
            "frame, target=...)."
        )
        raise ValidationError(msg)
    needed = [*model.features, model.recipe["target"]]
    missing = [c for c in needed if c not in reference.schema.names]
    if missing:
        msg = (
            f"{what}(reference={reference.label}): missing column(s) "
            f"{listing(missing)}. The reference "
            f"needs the model's features and its target {model.recipe['target']!r} "
            "(performance "
            "estimation is fitted on the reference's labels)."
        )
        raise SchemaError(msg, [{"column": c, "problem": "missing"} for c in missing])
    mon = Monitor(model)
    existing = model.project._document(KIND, mon.name)
    if existing is None:
        opts = _options.resolve(
            options, reference=reference, model=model, base=None, what=what
        )
        payload = {
            "model": {"name": model.name, "version": model.version},
            "reference": _ref_record(reference),
            "options": opts,
            "batches": [],
            "targets": [],
            "rebaselines": [],
            "retrains": [],
        }
        model.project._save_document(
            KIND, mon.name, payload, note=f"monitor {model.label} on {reference.label}"
        )
        return mon
    anchored = existing["payload"]["reference"]
    if anchored["content_hash"] != reference.content_hash:
        msg = (
            f"{what}(reference={reference.label}): this model's monitor is anchored to "
            f"{anchored['name']} v{anchored['version']}, and an anchored reference "
            "changes only on "
            f"purpose. Reopen it with that reference, or change it with "
            f"mon.approve_rebaseline({reference.label!r} asset, reason='...'), "
            "which is audited."
        )
        raise ValidationError(msg)
    if options:
        opts = _options.resolve(
            options,
            reference=reference,
            model=model,
            base=existing["payload"]["options"],
            what=what,
        )
        mon._update(lambda p: p.__setitem__("options", opts), note="options changed")
    return mon


class Monitor(Displayable):
    """The drift watch over one model version: reference, analysis batches, labels.

    Get one with :meth:`mlops_nb.Model.monitor`. It keeps its history in the
    project, so a new kernel reopens it as it was.

    Examples
    --------
    >>> mon = model.monitor(reference=test, chunk="year")  # doctest: +SKIP
    >>> mon.observe(mnb.datasets.employment("analysis"))  # doctest: +SKIP
    >>> mon.review()  # doctest: +SKIP
    """

    def __init__(self, model: Model):
        self.model = model
        self.project: Project = model.project
        self.name = f"{model.name}@v{model.version}"
        #: the large path's scored reference and CBPE fit, and what they were for
        self._large_setup: tuple[str, dict[str, Any]] | None = None

    # -- stored state ----------------------------------------------------------------
    def _doc(self) -> dict[str, Any]:
        doc = self.project._document(KIND, self.name)
        if doc is None:  # pragma: no cover - created before any Monitor object exists
            msg = (
                f"no monitor {self.name!r} in this project; create it with "
                "model.monitor(...)"
            )
            raise NotFoundError(msg)
        return doc

    @property
    def state(self) -> dict[str, Any]:
        """The newest stored definition (a copy): reference, options, batches."""
        return copy.deepcopy(self._doc()["payload"])

    def _update(self, change: Any, *, note: str) -> dict[str, Any]:
        """Apply ``change`` to the newest state and store it.

        Retried when another kernel stored a version in between, so no change is lost.
        """
        for _ in range(5):
            base = self._doc()
            payload = copy.deepcopy(base["payload"])
            change(payload)
            if payload == base["payload"]:
                return base
            row = self.project._save_document(KIND, self.name, payload, note=note)
            if row["version"] == base["version"] + 1:
                return row
        return row

    @property
    def reference(self) -> DataAsset:
        """The anchored reference data version."""
        r = self.state["reference"]
        return self.project.asset(r["name"], r["version"])

    @property
    def options(self) -> dict[str, Any]:
        """Chunking, statistics, thresholds and the other settings (a copy)."""
        return self.state["options"]

    @property
    def batches(self) -> list[DataAsset]:
        """The observed analysis batches, oldest first."""
        return [self.project.asset(n, v) for n, v in self.state["batches"]]

    @property
    def targets(self) -> list[DataAsset]:
        """The label batches added with :meth:`add_targets`, oldest first."""
        return [
            self.project.asset(t["name"], t["version"]) for t in self.state["targets"]
        ]

    def _asset_name(self, part: str) -> str:
        return f"{self.model.name}-v{self.model.version}-{part}"

    # -- actions ---------------------------------------------------------------------
    @emits("observe")
    def observe(
        self, data: pd.DataFrame | DataAsset, *, note: str = "", client: Any = None
    ) -> Observation:
        """Append a batch of production data (labels not needed) to the analysis.

        A DataFrame is registered as the next version of ``"<model>-v<n>-analysis"``
        (its parent is the previous batch, so lineage shows the stream); a DataAsset
        is used as it is. Observing the same batch again changes nothing.

        Parameters
        ----------
        data : DataFrame or DataAsset
            Rows with the model's features (and the time column when chunking by
            time).
        note : str
            Recorded with the batch.
        client : dask.distributed.Client, str or None
            For a large version only (``proj.data(name, "logs/*.parquet")``): the
            client or scheduler address whose workers summarise its partitions per
            chunk (None: the active client, else a LocalCluster sized to the
            machine, closed after; ``"synchronous"``: in this process). Its drift
            comes from those summaries (:mod:`mlops_nb.drift._observe_large`).

        Returns
        -------
        Observation
            The batch, the chunks it falls in and their univariate drift alerts.

        Raises
        ------
        SchemaError, EmptyDataError, ValidationError
            Naming every missing or retyped column, time values that are not dates,
            or why the batch cannot be chunked (e.g. ``chunk="M"`` without dates).
            The batch is checked and summarised before anything is stored: a
            refused batch is not stored (so :meth:`add_targets` never matches
            labels against it), and the refusal is recorded in the audit log.
        """
        import dataclasses

        from mlops_nb.data import DataAsset
        from mlops_nb.drift._observe_large import observe_large, uses_large
        from mlops_nb.drift._records import observe_summary, preview_summary

        if uses_large(self, data):
            return observe_large(self, data, client=client, note=note)
        what = f"Monitor {self.name}.observe"
        ref = self.reference
        try:
            frame = self._checked_batch(data, ref, what=what)
            preview = preview_summary(self, frame)
        except Exception as err:
            self._refused(err, what=what)
            raise
        if isinstance(data, DataAsset):
            asset = data
        else:
            roles = {
                r: v
                for r, v in ref.schema.roles().items()
                if r != "target"
                and v
                and all(c in frame.columns for c in (v if isinstance(v, list) else [v]))
            }
            if ref.schema.target in frame.columns:
                roles["target"] = ref.schema.target
            asset = self.project.data(
                self._asset_name("analysis"),
                frame,
                **roles,
                note=note or f"production data observed by monitor {self.name}",
            )
        entry = [asset.name, asset.version]
        if entry in self.state["batches"]:  # seen before: summarise the stored state
            return observe_summary(self, asset, new=False)
        self._update(
            lambda p: p["batches"].append(entry), note=f"observe {asset.label}"
        )
        return dataclasses.replace(preview, batch=asset.label, rows=asset.n_rows)

    def _checked_batch(
        self, data: pd.DataFrame | DataAsset, ref: DataAsset, *, what: str
    ) -> pd.DataFrame:
        """Return the batch as it will be stored, or raise naming what is wrong."""
        from mlops_nb.data import DataAsset
        from mlops_nb.data._frames import normalise
        from mlops_nb.drift._data import check_batch

        frame = data.frame if isinstance(data, DataAsset) else data
        check_batch(frame, ref, self.model, self.options, what=what)
        if isinstance(data, DataAsset):
            return frame
        from mlops_nb.model._retrain_checks import parse_times

        frame, problems = parse_times(normalise(frame, what=what), ref.schema)
        if problems:
            lines = "; ".join(f"{p['column']!r} {p['problem']}" for p in problems)
            msg = (
                f"{what}: {lines}, where {ref.label} holds dates. Give ISO 8601 "
                "text (2024-03-01 or 2024-03-01T12:00:00) or parse it first: "
                "batch[col] = pd.to_datetime(batch[col], format=...). Nothing was "
                "stored."
            )
            raise SchemaError(msg, problems)
        return frame

    def _refused(self, err: Exception, *, what: str) -> None:
        """Record a refused batch in the audit log and say nothing was stored."""
        from mlops_nb.model._retrain_checks import audit_refusal

        audit_refusal(
            self.project, f"monitor:{self.name}", "observe refused", err, what=what
        )

    def add_targets(
        self, targets: pd.DataFrame | DataAsset, *, on: str | None = None
    ) -> TargetsReport:
        """Join labels that arrived later to the observed rows, by id.

        Parameters
        ----------
        targets : DataFrame or DataAsset
            The id column and the model's target column.
        on : str, optional
            The id column (default: the reference's id column).

        Returns
        -------
        TargetsReport
            How many labels matched observed rows, and how many did not. Only
            stored batches count: a batch :meth:`observe` refused matches nothing,
            and labels given before any batch is stored match nothing yet.

        Raises
        ------
        SchemaError
            When the id or target column is missing, or ids repeat; nothing is stored.
        """
        from mlops_nb.data import DataAsset
        from mlops_nb.drift._data import check_targets
        from mlops_nb.drift._records import targets_report

        what = f"Monitor {self.name}.add_targets"
        on = on or self.reference.schema.id
        target = self.model.recipe["target"]
        frame = targets.frame if isinstance(targets, DataAsset) else targets
        check_targets(frame, on, target, what=what)
        if isinstance(targets, DataAsset):
            asset = targets
        else:
            asset = self.project.data(
                self._asset_name("targets"),
                frame[[on, target]],
                id=on,
                target=target,
                note=f"labels for monitor {self.name}",
            )
        entry = {"name": asset.name, "version": asset.version, "on": on}
        if entry not in self.state["targets"]:
            self._update(
                lambda p: p["targets"].append(entry), note=f"labels {asset.label}"
            )
        return targets_report(self, asset, str(on))

    def review(self) -> DriftReview:
        """Review drift: heatmap, distributions, performance, fairness, value, alerts.

        Computed once per monitor state (and value canvas) and stored, so reopening
        the project shows it without recomputing.
        """
        from mlops_nb.drift._observe_large import uses_large
        from mlops_nb.drift._review import compute_review

        if uses_large(self):
            from mlops_nb.drift._review_large import large_review

            return large_review(self)
        return compute_review(self)

    def approve_rebaseline(
        self, new_reference: DataAsset, *, reason: str
    ) -> Rebaseline:
        """Anchor the monitor to a new reference, on purpose and on the record.

        The reference never follows the data by itself (a slow drift would then
        never alarm). This is the only way to change it: the audit log records who,
        when, why, and the old and new references' content hashes.

        Raises
        ------
        ValidationError
            Without a reason, or when the new reference lacks the model's columns.
        """
        from mlops_nb.data import DataAsset
        from mlops_nb.store._db import now

        what = f"Monitor {self.name}.approve_rebaseline"
        if not isinstance(reason, str) or len(reason.strip()) < 3:
            msg = (
                f"{what}: give a reason (why the new reference is right), e.g. "
                "reason='new "
                "product line launched in March, reviewed by the data owner'."
            )
            raise ValidationError(msg)
        if not isinstance(new_reference, DataAsset):
            msg = (
                f"{what}: the new reference must be a DataAsset, got "
                f"{type(new_reference).__name__}."
            )
            raise ValidationError(msg)
        missing = [
            c
            for c in [*self.model.features, self.model.recipe["target"]]
            if c not in new_reference.schema.names
        ]
        if missing:
            msg = f"{what}: {new_reference.label} lacks column(s) {listing(missing)}."
            raise SchemaError(msg)
        old = self.state["reference"]
        new = _ref_record(new_reference)
        record = {
            "at": now(),
            "by": self.project._user(),
            "reason": reason.strip(),
            "old": old,
            "new": new,
        }

        def change(p: dict[str, Any]) -> None:
            p["reference"] = new
            p["rebaselines"].append(record)

        self._update(change, note=f"rebaseline: {reason.strip()}")
        with self.project._store.write() as conn:
            self.project._store.audit(
                conn,
                "approve rebaseline",
                f"monitor:{self.name}",
                reason=reason.strip(),
                old_reference=f"{old['name']} v{old['version']}",
                old_sha256=old["content_hash"],
                new_reference=new_reference.label,
                new_sha256=new_reference.content_hash,
            )
        return Rebaseline(self.name, record)

    def retrain(
        self,
        *,
        last_chunks: int | None = None,
        test: float = 0.2,
        tolerance: float = 0.01,
        min_metrics: dict[str, float] | None = None,
        reason: str = "",
    ) -> RetrainResult:
        """Hand the newest labelled analysis data to Model Ops' retraining.

        The labelled rows (of the last ``last_chunks`` labelled chunks, or all) become
        the next version of the data the production model learnt from; the
        production recipe is retrained on it and promoted only if every gate passes
        (see :func:`mlops_nb.model._retrain.retrain`). The hand-off is recorded in
        the monitor and the audit log.

        Raises
        ------
        ValidationError
            When no observed row has a label yet, or the model has no production
            version.
        """
        from mlops_nb.drift._data import labelled_frame
        from mlops_nb.model._retrain import retrain

        what = f"Monitor {self.name}.retrain"
        try:
            self.project.model(self.model.name, stage="production")
        except NotFoundError as err:
            msg = (
                f"{what}: model {self.model.name!r} has no production version; "
                "retraining rebuilds the "
                "production recipe. Promote one first: model.promote('production', "
                "data=test)."
            )
            raise ValidationError(msg) from err
        frame, described = labelled_frame(self, last_chunks=last_chunks, what=what)
        review = self.review()
        why = reason or f"drift monitor {self.name}: {review.recommendation['action']}"
        result = retrain(
            self.project,
            self.model.name,
            frame,
            test=test,
            tolerance=tolerance,
            min_metrics=min_metrics,
            reason=why,
        )
        entry = {
            "data": result.data,
            "rows": len(frame),
            "chunks": described,
            "challenger": result.challenger,
            "promoted": result.promoted,
            "reason": why,
        }
        self._update(
            lambda p: p["retrains"].append(entry),
            note=f"retrain hand-off: {result.data}",
        )
        return result

    # -- views -----------------------------------------------------------------------
    def history(self) -> pd.DataFrame:
        """Every stored version of this monitor: when, by whom and what changed."""
        import pandas as pd

        from mlops_nb.store._q_documents import document_history

        return pd.DataFrame(
            document_history(self.project._store, KIND, self.name),
            columns=["version", "note", "created_at", "created_by"],
        )

    def _view(self) -> View:
        s = self.state
        r, o = s["reference"], s["options"]
        rows = sum(a.n_rows for a in self.batches)
        overview = KeyValues(
            [
                ("model", self.model.label),
                (
                    "reference (anchored)",
                    f"{r['name']} v{r['version']} ({r['rows']:,} rows)",
                ),
                ("reference sha256", r["content_hash"][:16] + "…"),
                ("chunking", _options.describe_chunk(o)),
                ("alerts on", ", ".join(o["alert_on"])),
                ("thresholds", _options.describe_thresholds(o)),
                *(
                    [("decides at", decision["text"])]
                    if (decision := decision_of(self.model, o, _canvas(self)))
                    else []
                ),
                ("analysis batches", f"{len(s['batches'])} ({rows:,} rows)"),
                ("label batches", len(s["targets"])),
                ("rebaselines", len(s["rebaselines"])),
            ]
        )
        edges = [(f"{n} v{v}", "observed by", self.name) for n, v in s["batches"]]
        edges += [
            (f"{t['name']} v{t['version']}", f"labels on {t['on']}", self.name)
            for t in s["targets"]
        ]
        tabs = [
            Tab(
                "Overview",
                [overview, Text("Call .review() for the drift review.", "muted")],
            ),
            Tab(
                "Data",
                [Flow(edges, [self.name])]
                if edges
                else [Text("No data observed yet: mon.observe(frame).", "muted")],
            ),
            Tab("History", [Table(self.history(), max_rows=20)]),
        ]
        if s["rebaselines"]:
            import pandas as pd

            frame = pd.DataFrame(
                [
                    {
                        "at": x["at"][:19],
                        "by": x["by"],
                        "reason": x["reason"],
                        "old": f"{x['old']['name']} v{x['old']['version']}",
                        "new": f"{x['new']['name']} v{x['new']['version']}",
                    }
                    for x in s["rebaselines"]
                ]
            )
            tabs.append(Tab("Rebaselines", [Table(frame)]))
        summary = (
            f"{len(s['batches'])} batches, {rows:,} rows observed against "
            f"{r['name']} v{r['version']}"
        )
        return View("Monitor", self.name, summary, [], tabs)


def open_monitor(project: Project, model: str, version: int | None = None) -> Monitor:
    """Reopen the monitor of a model version (the newest monitored one by default).

    Raises
    ------
    NotFoundError
        Naming the monitors that exist.
    """
    names = [r["name"] for r in _monitor_rows(project)]
    if version is not None:
        wanted = f"{model}@v{int(version)}"
        found = [n for n in names if n == wanted]
    else:
        found = sorted(
            (n for n in names if n.rsplit("@v", 1)[0] == model),
            key=lambda n: int(n.rsplit("@v", 1)[1]),
        )
    if not found:
        msg = (
            f"no monitor for model {model!r}"
            + (f" version {version}" if version is not None else "")
            + f". Monitors: {listing(names)}. Create one with "
            "model.monitor(reference=...)."
        )
        raise NotFoundError(msg)
    name, v = found[-1].rsplit("@v", 1)
    return Monitor(project.model(name, int(v)))


def _canvas(mon: Monitor) -> Any:
    from mlops_nb.business._canvas import current_canvas

    return current_canvas(mon.project)


def _monitor_rows(project: Project) -> list[Any]:
    from mlops_nb.store._q_documents import newest_versions

    return newest_versions(project._store, KIND)


def list_monitors(project: Project) -> pd.DataFrame:
    """One row per monitor: model version, reference, batches, rows, labels, updated."""
    import pandas as pd

    rows = []
    for r in _monitor_rows(project):
        doc = project._document(KIND, r["name"])
        if doc is None:  # pragma: no cover - listed a moment ago
            continue
        p = doc["payload"]
        rows.append(
            {
                "monitor": r["name"],
                "model": f"{p['model']['name']} v{p['model']['version']}",
                "reference": f"{p['reference']['name']} v{p['reference']['version']}",
                "batches": len(p["batches"]),
                "label batches": len(p["targets"]),
                "rebaselines": len(p["rebaselines"]),
                "version": doc["version"],
                "updated": doc["created_at"][:19].replace("T", " "),
            }
        )
    cols = [
        "monitor",
        "model",
        "reference",
        "batches",
        "label batches",
        "rebaselines",
        "version",
        "updated",
    ]
    return pd.DataFrame(rows, columns=cols)
