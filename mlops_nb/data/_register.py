"""Registering data versions in a project's store.

The blob (Parquet bytes) is written before the row that points to it, and the row is
written in one ``BEGIN IMMEDIATE`` transaction together with its audit entry, so a
crash leaves either the old state or the new one, and two kernels registering at once
get distinct, gap-free version numbers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlops_nb._lineage import emits
from mlops_nb.data._csv import READ_ATTR
from mlops_nb.data._dictionary import DICTIONARY_ATTR, Dictionary, parse_dictionary
from mlops_nb.data._frames import content_hash, normalise, to_parquet_bytes
from mlops_nb.data._schema import Schema, infer_kind, infer_schema, parse_datetime
from mlops_nb.errors import NotFoundError, SchemaError, listing
from mlops_nb.store import _q_assets as q
from mlops_nb.store import validate_name
from mlops_nb.store._db import now

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

    from mlops_nb._project import Project
    from mlops_nb.data._asset import DataAsset

_UNSET: Any = object()
PARQUET = "application/vnd.apache.parquet"


@emits("data")
def register_frame(
    project: Project,
    name: str,
    frame: pd.DataFrame,
    *,
    target: str | None = _UNSET,
    sensitive: str | Sequence[str] | None = _UNSET,
    time: str | None = _UNSET,
    id: str | None = _UNSET,
    kinds: Mapping[str, str] | None = None,
    labels: Mapping[str, Mapping[Any, str] | None] | None = None,
    descriptions: Mapping[str, str | None] | None = None,
    parents: Sequence[tuple[str, int]] | None = None,
    operation: str = "register",
    params: Mapping[str, Any] | None = None,
    note: str = "",
    source: str = "DataFrame",
    what: str = "Project.data",
) -> DataAsset:
    """Store ``frame`` as a version of ``name`` (or return the identical existing one).

    Roles left unset are taken from the newest version of ``name`` (or of the first
    parent), so re-registering new data keeps its target and sensitive columns. The
    data dictionary is kept the same way, column by column: ``labels`` and
    ``descriptions`` given here replace a column's entry (``None`` removes it); a
    frame's own dictionary (``frame.attrs``, the shipped data) fills columns the
    inherited one leaves out. The dictionary is not part of the content hash: the
    same data with a new dictionary is the same version, whose dictionary is then
    updated (and audited).
    """
    validate_name(name, what=f"{what}(name=...)")
    reading = dict(frame.attrs.get(READ_ATTR) or {})
    brought = frame.attrs.get(DICTIONARY_ATTR)
    if reading or brought:  # said once, by this version; kept in its schema instead
        frame = frame.copy(deep=False)
        frame.attrs = {
            k: v
            for k, v in frame.attrs.items()
            if k not in (READ_ATTR, DICTIONARY_ATTR)
        }
    frame = normalise(frame, what=what)
    given, removed = parse_dictionary(
        labels, descriptions, list(frame.columns), what=what
    )
    store = project._store
    latest = q.latest_asset(store, name)
    inherit_from = None
    if parents:
        inherit_from = project._asset_row(*parents[0])
    elif latest is not None:
        inherit_from = latest
    roles = {"target": target, "sensitive": sensitive, "time": time, "id": id}
    old_kinds: dict[str, str] = {}
    if inherit_from is not None:
        old = Schema.from_dict(json.loads(inherit_from["schema"]))
        for role, value in old.roles().items():
            if roles[role] is _UNSET:
                col_ok = all(
                    c in frame.columns
                    for c in (value if isinstance(value, list) else [value])
                    if c
                )
                roles[role] = value if col_ok else ([] if role == "sensitive" else None)
        # keep kinds (and so user overrides) of columns whose dtype is unchanged
        old_kinds = {
            c.name: c.kind
            for c in old.columns
            if c.name in frame.columns and str(frame[c.name].dtype) == c.dtype
        }
    roles = {k: (None if v is _UNSET else v) for k, v in roles.items()}
    declared = dict(kinds or {})
    frame, not_dates = parse_date_columns(
        frame, {**old_kinds, **declared}, strict=declared, what=what
    )
    schema = infer_schema(frame, kinds={**old_kinds, **not_dates, **declared}, **roles)
    if reading.get("stripped_headers") or reading.get("stripped_columns"):
        params = {**(params or {}), "read": reading}
    elif reading.get("delimiter", ",") != ",":
        params = {**(params or {}), "read": {"delimiter": reading["delimiter"]}}
    digest_hash = content_hash(frame, schema)  # the dictionary is not part of it
    existing = _row_by_hash(project, name, digest_hash)
    kept_from = existing if existing is not None else inherit_from
    kept = Dictionary.from_json(json.loads(kept_from["schema"]) if kept_from else None)
    dictionary = (
        Dictionary.from_json(brought).updated(kept).updated(given, removed)
    ).restrict(frame.columns)
    if existing is not None:
        return project._asset_from_row(record_dictionary(project, existing, dictionary))
    auto_parent = parents is None  # then the parent is the version before this one
    data = to_parquet_bytes(frame, what=what)
    artifact = store.put_blob(data, media_type=PARQUET)  # the blob lands before the row
    with store.write() as conn:
        row = _row_by_hash(
            project, name, digest_hash, conn
        )  # another kernel may have won
        if row is None:
            version = q.next_asset_version(conn, name)
            if auto_parent:  # decided under the lock: another kernel may have added one
                parents = [(name, version - 1)] if version > 1 else []
            # data=: put the blob again if gc() in another kernel removed it meanwhile
            store.record_blob(conn, artifact, len(data), PARQUET, data=data)
            record = {
                "name": name,
                "version": version,
                "content_hash": digest_hash,
                "artifact": artifact,
                "n_rows": len(frame),
                "n_cols": frame.shape[1],
                "schema": json.dumps({**schema.to_dict(), **dictionary.to_json()}),
                "parents": json.dumps([list(p) for p in (parents or [])]),
                "operation": operation,
                "params": json.dumps(dict(params or {}), default=str, sort_keys=True),
                "note": note,
                "source": source,
                "created_at": now(),
                "created_by": project._user(),
            }
            q.insert_asset_version(conn, record)
            store.audit(
                conn,
                operation,
                f"asset:{name}@{version}",
                rows=len(frame),
                content_hash=digest_hash,
                parents=parents or [],
                note=note,
            )
            row = _row_by_hash(project, name, digest_hash, conn)
    asset = project._asset_from_row(row)
    object.__setattr__(asset, "_cached_frame", frame)
    return asset


def parse_date_columns(
    frame: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    strict: Mapping[str, str] | None = None,
    what: str,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Turn text columns that hold dates into datetime columns.

    A text column is parsed when ``kinds`` says ``datetime`` or, without a kind,
    when :func:`infer_kind` calls it ``datetime``. Every value must parse
    (:func:`parse_datetime`); a column that does not is returned in the second
    value as ``{name: "text"}``, so the schema never calls text a datetime.

    Raises
    ------
    SchemaError
        When ``strict`` (the kinds the user passed) declares a text column
        ``datetime`` and a value does not parse.
    """
    import pandas as pd

    parsed: dict[str, pd.Series] = {}
    not_dates: dict[str, str] = {}
    for name in frame.columns:
        col = frame[name]
        declared = kinds.get(name)
        if declared not in (None, "datetime") or not (
            pd.api.types.is_string_dtype(col.dtype)
            and not isinstance(col.dtype, pd.CategoricalDtype)
        ):
            continue
        if declared is None and infer_kind(col, name, allow_id=False) != "datetime":
            continue
        values = parse_datetime(col)
        if values is not None:
            parsed[name] = values
        elif (strict or {}).get(name) == "datetime":
            msg = (
                f"{what}: kinds[{name!r}]='datetime' but not every value of {name!r} "
                "is a date (e.g. 2024-05-31 or 31/05/2024 10:00). Fix the values, "
                "or declare it 'text'."
            )
            raise SchemaError(
                msg, [{"column": name, "problem": "not all values are dates"}]
            )
        else:
            not_dates[name] = "text"
    if parsed:
        frame = frame.copy(deep=False)
        for name, values in parsed.items():
            frame[name] = values
    return frame, not_dates


def record_dictionary(
    project: Project, row: Mapping[str, Any], dictionary: Dictionary
) -> dict[str, Any]:
    """Store ``dictionary`` as the dictionary of the version in ``row``; return the row.

    Only the version's schema JSON changes (its ``labels`` and ``descriptions``), in
    one transaction with an audit entry; data, content hash and version stay. Nothing
    is written when the dictionary is unchanged.
    """
    store = project._store
    with store.write() as conn:
        current: Any = q.asset_by_id_in(conn, row["id"])
        stored = json.loads(current["schema"])
        new = {k: v for k, v in stored.items() if k not in ("labels", "descriptions")}
        new.update(dictionary.to_json())
        if new == stored:
            return current
        q.set_asset_schema(conn, row["id"], json.dumps(new))
        store.audit(
            conn,
            "dictionary",
            f"asset:{current['name']}@{current['version']}",
            labels=sorted(dictionary.labels),
            descriptions=sorted(dictionary.descriptions),
        )
        return q.asset_by_id_in(conn, row["id"])  # type: ignore[return-value]


def _row_by_hash(
    project: Project, name: str, digest: str, conn: Any = None
) -> dict[str, Any] | None:
    if conn is not None:  # inside the caller's write transaction
        return q.asset_by_hash_in(conn, name, digest)
    return q.asset_by_hash(project._store, name, digest)


def asset_row(
    project: Project, name: str, version: int | None = None
) -> dict[str, Any]:
    """Return the row of ``name`` at ``version`` (newest when ``None``), or raise."""
    validate_name(name, what="Project.asset(name=...)")
    store = project._store
    if version is None:
        row = q.latest_asset(store, name)
    else:
        row = q.asset_at(store, name, int(version))
    if row is None:
        names = q.asset_names(store)
        if name in names:
            versions = q.asset_version_numbers(store, name)
            msg = (
                f"asset {name!r} has no version {version}; it has versions {versions}."
            )
        else:
            from mlops_nb.errors import did_you_mean

            msg = (
                f"no asset named {name!r} in this project. Assets: {listing(names)}."
                f"{did_you_mean(name, names)}"
            )
        raise NotFoundError(msg)
    return row
