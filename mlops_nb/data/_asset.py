"""DataAsset: one immutable, content-hashed version of a table in a project."""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.data._check import CheckReport, run_checks
from mlops_nb.data._dictionary import Dictionary
from mlops_nb.data._frames import from_parquet_bytes
from mlops_nb.data._lineage import Lineage, lineage_of
from mlops_nb.data._profile import Profile, compute_profile
from mlops_nb.data._register import register_frame
from mlops_nb.data._schema import Schema
from mlops_nb.errors import SchemaError, ValidationError, did_you_mean, listing
from mlops_nb.store._version import StoredVersion
from mlops_nb.ui import Displayable, Flow, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from mlops_nb._project import Project


@dataclass(frozen=True, eq=False, repr=False)
class DataAsset(StoredVersion, Displayable):
    """One version of a named table: immutable, content-hashed, with lineage.

    Get one from :meth:`Project.data` (register) or :meth:`Project.asset` (fetch);
    derive new versions with :meth:`split`, :meth:`filter` and :meth:`transform`.

    Attributes
    ----------
    name : str
        The asset's name in the project.
    version : int
        1 for the first version, then n+1 for each different table under the name.
    content_hash : str
        SHA-256 over the table's values, dtypes and schema.
    schema : Schema
        Column kinds and roles (target, sensitive, time, id).
    parents : tuple of (str, int)
        The versions this one was derived from.
    dictionary : Dictionary
        Labels of coded values and descriptions of columns (see :attr:`labels`,
        :attr:`descriptions`, :meth:`with_labels`).
    """

    project: Project = field(repr=False)
    id: int
    name: str
    version: int
    content_hash: str
    artifact: str
    n_rows: int
    n_cols: int
    schema: Schema
    parents: tuple[tuple[str, int], ...]
    operation: str
    params: dict[str, Any]
    note: str
    source: str
    created_at: str
    created_by: str
    dictionary: Dictionary = field(default_factory=Dictionary, repr=False)

    # -- data ------------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """The table, read from its verified artifact (cached; edits do not persist).

        Raises
        ------
        ValidationError
            On a large version (:attr:`is_large`), pointing to :meth:`dask` and
            :meth:`sample`.
        """
        cached = self.__dict__.get("_cached_frame")
        if cached is None:
            if self.is_large:
                from mlops_nb.data._large import frame_error

                raise frame_error(self)
            cached = from_parquet_bytes(self.project._store.read_blob(self.artifact))
            object.__setattr__(self, "_cached_frame", cached)
        return cached.copy(deep=not _copy_on_write())

    @property
    def is_large(self) -> bool:
        """Whether this version is stored as partitions, never loaded whole.

        Registered from a folder, glob, URL or Dask DataFrame (see
        :meth:`Project.data`); read it with :meth:`dask` or :meth:`sample`.
        """
        return "large" in self.params

    def dask(self) -> Any:
        """Return a Dask DataFrame over this version's stored partitions.

        Each partition is re-hashed when read: one changed since it was registered
        raises ``IntegrityError`` naming it and this version. A small version gives
        one partition.
        """
        if not self.is_large:
            try:
                import dask.dataframe as dd
            except ImportError as err:
                from mlops_nb.errors import MissingDependencyError

                msg = f"{self.label}.dask() needs Dask: pip install 'mlops-nb[scale]'."
                raise MissingDependencyError(msg) from err
            return dd.from_pandas(self.frame, npartitions=1)
        from mlops_nb.data._large import to_dask

        return to_dask(self)

    @property
    def target(self) -> str | None:
        """The target column, if any."""
        return self.schema.target

    @property
    def sensitive(self) -> list[str]:
        """The sensitive columns."""
        return list(self.schema.sensitive)

    @property
    def labels(self) -> dict[str, dict[Any, str]]:
        """What coded values mean, ``{column: {code: label}}`` (the data dictionary).

        Every view shows the label, with the code on hover.
        """
        return self.dictionary.public_labels()

    @property
    def descriptions(self) -> dict[str, str]:
        """What each documented column holds, ``{column: text}``."""
        return dict(self.dictionary.descriptions)

    def with_labels(
        self,
        labels: dict[str, dict[Any, str] | None] | None = None,
        *,
        descriptions: dict[str, str | None] | None = None,
    ) -> DataAsset:
        """Document this version: set labels of codes and descriptions of columns.

        The dictionary is metadata, not data: it is outside the content hash, so this
        version keeps its number and hash and only its dictionary changes (recorded
        in the audit log). Versions registered or derived from it later keep it.

        Parameters
        ----------
        labels : dict, optional
            ``{column: {code: label}}``; a column given replaces its labels,
            ``{column: None}`` removes them. Codes match by value: ``1``, ``1.0``
            and ``"1"`` are one code.
        descriptions : dict, optional
            ``{column: text}``; ``None`` removes a description.

        Returns
        -------
        DataAsset
            This version with its new dictionary.

        Raises
        ------
        SchemaError
            For an unknown column, a mapping that is not a dict, a code given twice,
            a label that is not text or one label for two codes; nothing changes.
        """
        from mlops_nb.data._dictionary import parse_dictionary
        from mlops_nb.data._register import record_dictionary

        given, removed = parse_dictionary(
            labels,
            descriptions,
            self.schema.names,
            what=f"{self.label}.with_labels",
        )
        row = self.project._asset_row(self.name, self.version)
        new = self.dictionary.updated(given, removed)
        asset = self.project._asset_from_row(record_dictionary(self.project, row, new))
        cached = self.__dict__.get("_cached_frame")
        if cached is not None:
            object.__setattr__(asset, "_cached_frame", cached)
        return asset

    @property
    def parent(self) -> DataAsset | None:
        """The first version this one derives from, or ``None``."""
        return self.project.asset(*self.parents[0]) if self.parents else None

    # -- reports ---------------------------------------------------------------------
    def profile(self) -> Profile:
        """Per-column statistics and distributions (computed once, then stored).

        A large version's profile comes from per-partition summaries merged
        (exact counts, moments, extremes and histograms; quartiles and distinct
        counts sketched, each with its bound in its own column), see
        :mod:`mlops_nb.data._large_profile`.

        Returns
        -------
        Profile
            ``to_frame()`` for the numbers, ``plot()`` for the charts.
        """
        payload = self.project._report("asset", self.id, "profile")
        if payload is None and self.is_large:  # from per-partition summaries
            from mlops_nb.data._large_profile import large_profile

            payload = large_profile(self)
            self.project._save_report("asset", self.id, "profile", payload)
        if payload is None:
            payload = compute_profile(self._frame_nocopy(), self.schema)
            self.project._save_report("asset", self.id, "profile", payload)
        return Profile(self.label, payload, self.dictionary)

    def check(self) -> CheckReport:
        """Data-quality findings, each with a severity and a plain sentence.

        Compared with the previous version (the first parent) for out-of-range
        values, unseen categories and schema changes. Computed once, then stored.
        A large version's findings come from per-partition summaries (sketched
        counts with their bound in the message); checks that need whole rows are
        listed as ``"not checked"`` notes, see :mod:`mlops_nb.data._large_check`.
        """
        payload = self.project._report("asset", self.id, "check")
        if payload is None and self.is_large:  # from per-partition summaries
            from mlops_nb.data._large_check import large_check

            payload = large_check(self)
            self.project._save_report("asset", self.id, "check", payload)
        if payload is None:
            previous = None
            prev = self._previous()
            if prev is not None:
                previous = (prev.label, prev.schema, prev.profile().payload)
            findings = run_checks(
                self._frame_nocopy(),
                self.schema,
                previous=previous,
                reading=self.params.get("read"),
            )
            payload = {
                "findings": findings,
                "compared_with": prev.label if prev else None,
            }
            self.project._save_report("asset", self.id, "check", payload)
        return CheckReport(
            self.label,
            tuple(payload["findings"]) + self._dictionary_findings(),
            payload["compared_with"],
        )

    def _dictionary_findings(self) -> tuple[dict[str, Any], ...]:
        """List notes on the dictionary (codes labelled but absent, and back).

        Not stored with the check: the dictionary may be set after the check ran.
        """
        if not self.dictionary.labels or self.is_large:
            return ()
        return tuple(self.dictionary.findings(self._frame_nocopy()))

    def lineage(self) -> Lineage:
        """Where this version comes from: every ancestor and the step that made it."""
        return lineage_of(self.project, self.name, self.version)

    def _previous(self) -> DataAsset | None:
        if self.parents:
            return self.parent
        return None

    def _frame_nocopy(self) -> pd.DataFrame:
        self.frame  # noqa: B018 - loads and caches
        return self.__dict__["_cached_frame"]

    # -- derived versions ------------------------------------------------------------
    def split(
        self,
        test: float = 0.2,
        *,
        seed: int = 0,
        stratify: str | None = None,
        names: tuple[str, str] | None = None,
    ) -> tuple[DataAsset, DataAsset]:
        """Split into a train and a test version, each with lineage to this one.

        Parameters
        ----------
        test : float
            Share of rows in the test part, between 0 and 1.
        seed : int
            Seed of the shuffle; the same seed gives the same split.
        stratify : str, optional
            A column whose class shares both parts keep.
        names : (str, str), optional
            Asset names of the parts; default ``"<name>-train"``, ``"<name>-test"``.

        Returns
        -------
        (DataAsset, DataAsset)
            Train and test.
        """
        import numpy as np

        if not 0 < float(test) < 1:
            msg = (
                f"DataAsset.split(test={test!r}): use a share strictly "
                "between 0 and 1, e.g. 0.2."
            )
            raise ValidationError(msg)
        frame = self._frame_nocopy()
        rng = np.random.default_rng(seed)
        if stratify is not None:
            from mlops_nb.data._split import stratified_test_mask

            self._check_column("split", "stratify", stratify)
            is_test = stratified_test_mask(
                frame[stratify], test, rng, what=f"DataAsset.split({stratify=})"
            )
        else:
            order = rng.permutation(len(frame))
            is_test = np.zeros(len(frame), bool)
            is_test[order[: round(len(frame) * test)]] = True
        if is_test.all() or not is_test.any():
            msg = (
                f"DataAsset.split(test={test}): one part would be empty "
                f"for {len(frame)} rows."
            )
            raise ValidationError(msg)
        train_name, test_name = names or (f"{self.name}-train", f"{self.name}-test")
        params = {"test": test, "seed": seed, "stratify": stratify}
        parts = []
        for part_name, mask, part in (
            (train_name, ~is_test, "train"),
            (test_name, is_test, "test"),
        ):
            parts.append(
                self._derive(
                    frame[mask],
                    part_name,
                    "split",
                    {**params, "part": part},
                    f"{part} part of a {1 - test:.0%}/{test:.0%} split",
                )
            )
        return parts[0], parts[1]

    def filter(
        self,
        condition: str | Callable[[pd.DataFrame], Any] | pd.Series | np.ndarray,
        *,
        note: str = "",
        name: str | None = None,
    ) -> DataAsset:
        """Keep the rows matching ``condition``, as a new version with lineage.

        Parameters
        ----------
        condition : str, callable, or boolean mask
            A filter expression (``"AGEP >= 16 and SEX == 2"``), a function of the
            frame returning a boolean mask, or the mask itself. Strings are not
            handed to ``DataFrame.query``: they are parsed and evaluated by
            mlops_nb and may use column names (```backtick quoted``` for odd
            names), literals, comparisons, ``and``/``or``/``not``/``&``/``|``/``~``,
            ``in [...]``, arithmetic and ``col.isna()``/``col.notna()``; anything
            else (calls, attributes, ``@`` locals) raises ``ValidationError``.
        note : str
            Why; defaults to the query string.
        name : str, optional
            Register under another name; by default a new version of this name.
        """
        import numpy as np

        frame = self._frame_nocopy()
        described = (
            condition if isinstance(condition, str) else _describe_callable(condition)
        )
        try:
            if isinstance(condition, str):
                from mlops_nb.data._expr import evaluate_filter

                kept = frame[evaluate_filter(condition, frame)]
            else:
                mask = condition(frame) if callable(condition) else condition
                mask = np.asarray(mask)
                if mask.dtype != bool or mask.shape != (len(frame),):
                    msg = (
                        f"DataAsset.filter: the mask must be {len(frame)} booleans, "
                        f"got dtype {mask.dtype} and shape {mask.shape}."
                    )
                    raise ValidationError(msg)
                kept = frame[mask]
        except ValidationError:
            raise
        except Exception as err:
            msg = f"DataAsset.filter({described!r}) failed on {self.label}: {err}"
            raise ValidationError(msg) from err
        return self._derive(
            kept,
            self.name if name is None else name,
            "filter",
            {"condition": described},
            note or f"filter: {described}",
        )

    def transform(
        self,
        fn: Callable[[pd.DataFrame], pd.DataFrame],
        *,
        note: str,
        name: str | None = None,
    ) -> DataAsset:
        """Apply ``fn`` to a copy of the table and register the result with lineage.

        Parameters
        ----------
        fn : callable
            Takes and returns a DataFrame. Its name and a hash of its source code are
            recorded.
        note : str
            What the transformation does, in words (recorded in lineage).
        name : str, optional
            Register under another name; by default a new version of this name.
        """
        import pandas as pd

        if not callable(fn):
            msg = f"DataAsset.transform(fn={fn!r}): fn must be callable."
            raise ValidationError(msg)
        result = fn(self.frame)
        if not isinstance(result, pd.DataFrame):
            msg = (
                f"DataAsset.transform: {_describe_callable(fn)} returned a "
                f"{type(result).__name__}; it must return a DataFrame."
            )
            raise ValidationError(msg)
        params = {"function": _describe_callable(fn), "source_sha256": _source_hash(fn)}
        return self._derive(
            result, self.name if name is None else name, "transform", params, note
        )

    # -- DataOps continued: annotation, synthetic data, automated features ------------
    def sample(
        self, n: int, *, seed: int = 0, strategy: str = "random", **options: Any
    ) -> DataAsset:
        """Rows worth labelling first, as a new version.

        See :mod:`mlops_nb.data._annotate`. On a large version only
        ``strategy="random"``: ``n`` rows picked uniformly (the same for a seed),
        read one verified partition at a time; ``.frame`` of the result is a
        pandas frame.
        """
        if self.is_large:
            from mlops_nb.data._large import sample_version

            return sample_version(self, n, seed=seed, strategy=strategy, **options)
        from mlops_nb.data._annotate import sample

        return sample(self, n, seed=seed, strategy=strategy, **options)

    def annotate(self, **options: Any) -> Any:
        """Open a labelling widget; saved labels become a new version with lineage."""
        from mlops_nb.data._annotate import annotate

        return annotate(self, **options)

    def synthesize(self, n: int, *, seed: int = 0, **options: Any) -> Any:
        """Make a synthetic version with a fidelity and privacy report.

        See :mod:`mlops_nb.data._synth`.
        """
        from mlops_nb.data._synth import synthesize

        return synthesize(self, n, seed=seed, **options)

    def features(self, *, auto: bool = True, **options: Any) -> Any:
        """Automated feature engineering: candidates kept only where they help."""
        from mlops_nb.data._features import features

        return features(self, auto=auto, **options)

    # -- Sec Ops on data -------------------------------------------------------------
    def privacy(self, **options: Any) -> Any:
        """Personal-data findings per column, with ``mask()``/``pseudonymize(key=)``."""
        from mlops_nb.secure import privacy

        return privacy(self, **options)

    def poisoning(self, **options: Any) -> Any:
        """Suspected flipped labels and outliers in this version."""
        from mlops_nb.secure import poisoning

        return poisoning(self, **options)

    def _derive(
        self,
        frame: pd.DataFrame,
        name: str,
        operation: str,
        params: dict[str, Any],
        note: str,
    ) -> DataAsset:
        roles: dict[str, Any] = {}
        for role, value in self.schema.roles().items():
            cols = value if isinstance(value, list) else [value]
            if all(c in frame.columns for c in cols if c):
                roles[role] = value
        return register_frame(
            self.project,
            name,
            frame,
            **roles,
            parents=[(self.name, self.version)],
            operation=operation,
            params=params,
            note=note,
            source=f"{operation} of {self.label}",
            what=f"DataAsset.{operation}",
        )

    def _check_column(self, method: str, param: str, column: str) -> None:
        if column not in self.schema.names:
            msg = (
                f"DataAsset.{method}({param}={column!r}): column not found in "
                f"{self.label}. Available columns: {listing(self.schema.names)}."
                f"{did_you_mean(column, self.schema.names)}"
            )
            raise SchemaError(msg)

    # -- rendering -------------------------------------------------------------------
    def _view(self) -> View:
        roles = [
            f"{k}: {', '.join(v) if isinstance(v, list) else v}"
            for k, v in self.schema.roles().items()
            if v
        ]
        overview = KeyValues(
            [
                ("name", self.name),
                ("version", self.version),
                ("rows x columns", f"{self.n_rows:,} x {self.n_cols}"),
                ("roles", "; ".join(roles) or "none"),
                ("task", self.schema.task or "—"),
                ("made by", f"{self.operation} ({self.source})"),
                ("note", self.note or "—"),
                ("parents", ", ".join(f"{n} v{v}" for n, v in self.parents) or "none"),
                ("content hash", self.content_hash[:16] + "…"),
                (
                    "created",
                    f"{self.created_at[:19].replace('T', ' ')} UTC "
                    f"by {self.created_by}",
                ),
            ]
        )
        import pandas as pd

        schema = pd.DataFrame([c.__dict__ for c in self.schema.columns])
        d = self.dictionary
        if d:
            schema["description"] = [d.descriptions.get(c, "") for c in schema["name"]]
            schema["labels"] = [
                len(d.labels.get(c, ())) or None for c in schema["name"]
            ]
        if self.is_large:
            from mlops_nb.data._large import preview

            head = preview(self).head(10)
        else:
            head = self._frame_nocopy().head(10)
        if d.labels:  # codes as their labels, the code on hover
            head = head.copy()
            for c in d.labels:
                if c in head.columns:
                    head[c] = pd.Series(
                        [d.coded(c, v) for v in head[c]], dtype=object, index=head.index
                    )
        titles = {c: f"{c}: {t}" for c, t in d.descriptions.items()}
        tabs = [
            Tab("Overview", [overview]),
            Tab(
                "Data",
                [
                    Table(
                        head,
                        caption="10 rows of a seeded sample"
                        if self.is_large
                        else "first 10 rows",
                        plain_columns=tuple(
                            c for c in (self.schema.id, self.schema.time) if c
                        ),
                        titles=titles,
                    )
                ],
            ),
            Tab("Schema", [Table(schema, max_rows=200)]),
        ]
        check = self.project._report("asset", self.id, "check")
        if check is not None:
            tabs.append(
                Tab(
                    "Quality",
                    CheckReport(
                        self.label,
                        tuple(check["findings"]) + self._dictionary_findings(),
                        check["compared_with"],
                    )
                    ._view()
                    .tabs[0]
                    .blocks,
                )
            )
        else:
            tabs.append(
                Tab("Quality", [Text("Not checked yet: call .check().", "muted")])
            )
        lin = self.lineage()
        tabs.append(Tab("Lineage", [Flow(lin.edges, [self.label])]))
        badges = [(f"v{self.version}", "info"), (f"{self.n_rows:,} rows", "muted")]
        if check is not None:
            report = CheckReport(
                self.label, tuple(check["findings"]) + self._dictionary_findings()
            )
            verdict, tone = report._badge()  # "passed", "2 warnings" or "failed"
            badges.append((f"checks {verdict}", tone))
        summary = f"{self.n_rows:,} rows x {self.n_cols} columns"
        if self.schema.target:
            summary += f", target {self.schema.target!r} ({self.schema.task})"
        return View("DataAsset", self.label, summary, badges, tabs)


def _copy_on_write() -> bool:
    import pandas as pd

    return int(pd.__version__.split(".")[0]) >= 3


def _describe_callable(fn: Any) -> str:
    if not callable(fn):
        return type(fn).__name__
    module = getattr(fn, "__module__", "") or ""
    qual = getattr(fn, "__qualname__", type(fn).__name__)
    return f"{module}.{qual}" if module and module != "__main__" else qual


def _source_hash(fn: Any) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def asset_from_row(project: Project, row: Any) -> DataAsset:
    """Build a DataAsset from its registry row."""
    return DataAsset(
        project=project,
        id=row["id"],
        name=row["name"],
        version=row["version"],
        content_hash=row["content_hash"],
        artifact=row["artifact"],
        n_rows=row["n_rows"],
        n_cols=row["n_cols"],
        schema=Schema.from_dict(stored := json.loads(row["schema"])),
        parents=tuple((p[0], int(p[1])) for p in json.loads(row["parents"])),
        operation=row["operation"],
        params=json.loads(row["params"]),
        note=row["note"],
        source=row["source"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        dictionary=Dictionary.from_json(stored),
    )
