"""Large data versions: partitioned parquet pinned by SHA-256, never loaded whole.

``Project.data(name, source)`` takes this path when ``source`` is a Dask DataFrame,
a folder, a glob (``*``, ``?``, ``[``) or a URL with a scheme (``s3://...``, read
through fsspec); a pandas DataFrame or one ``.csv``/``.parquet`` file keeps the
in-memory path. Each partition is stored as it is, as one content-addressed blob
(``put_blob`` before the row, ``record_blob`` inside the row's transaction, so the
embedded and the team store both work), one partition in memory at a time. A
JSON *manifest* blob, which the version row points to, pins them:

- ``partitions``: SHA-256, rows (from the parquet footer) and size of each, in order;
- ``columns``: names and Arrow types; ``schema``: kinds and roles, inferred from a
  seeded sample of :data:`SAMPLE_ROWS` rows (a bottom-k sample: every row gets a key
  from ``(seed, partition digest, row)``, the smallest keys win, so it is uniform,
  deterministic, and independent of the order the partitions are listed in);
- ``preview``: that sample, stored as a small parquet blob (the "Data" tab).

The content hash is the SHA-256 of the manifest without its preview (whose bytes
depend on the pyarrow version): the same partitions with the same schema are the
same version. Reading (:func:`to_dask`, :func:`sample_rows`) re-hashes every
partition; a changed one is an ``IntegrityError`` naming it and the version.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import (
    DataReadError,
    EmptyDataError,
    IntegrityError,
    SchemaError,
    ValidationError,
    listing,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from mlops_nb._project import Project
    from mlops_nb.data._asset import DataAsset

FORMAT = "mlops_nb.large"
MANIFEST = "application/vnd.mlops-nb.manifest+json"
PARQUET = "application/vnd.apache.parquet"
#: Rows of the seeded sample a large version's schema is inferred from.
SAMPLE_ROWS = 1000
SEED = 0
_GLOB = "*?["


# -- what counts as large --------------------------------------------------------------
def is_dask_frame(source: Any) -> bool:
    """Whether ``source`` is a Dask DataFrame (without importing Dask)."""
    return type(source).__module__.startswith("dask") and hasattr(source, "to_delayed")


def is_large_source(source: Any) -> bool:
    """Whether ``Project.data`` registers ``source`` as a large, partitioned version.

    Large: a Dask DataFrame, a folder, a glob pattern, or a URL with a scheme
    (``s3://``, ``file://``). A pandas DataFrame and a single file path are not.
    """
    import os

    if is_dask_frame(source):
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    text = os.fspath(source)
    if os.path.isfile(os.path.expanduser(text)):  # noqa: PTH111, PTH113 - "a[1].csv"
        return False
    return (
        "://" in text
        or any(ch in text for ch in _GLOB)
        or os.path.isdir(os.path.expanduser(text))  # noqa: PTH111, PTH112
    )


# -- partitions of a source ------------------------------------------------------------
def _files(source: Any, what: str) -> tuple[Any, list[str], str]:
    """Return ``(fs, paths, base)`` of the parquet files of a folder, glob or URL."""
    import os

    import fsspec

    text = os.path.expanduser(os.fspath(source))  # noqa: PTH111
    try:
        fs, root = fsspec.core.url_to_fs(text)
        if any(ch in root for ch in _GLOB):
            paths = sorted(p for p in fs.glob(root) if fs.isfile(p))
            base = root[: min(root.find(ch) for ch in _GLOB if ch in root)]
            base = base.rsplit("/", 1)[0]
        elif fs.isdir(root):
            paths = sorted(
                p for p in fs.find(root) if p.lower().endswith((".parquet", ".pq"))
            )
            base = root
        else:
            paths, base = ([root] if fs.isfile(root) else []), root.rsplit("/", 1)[0]
    except ImportError as err:
        from mlops_nb.errors import MissingDependencyError

        msg = f"{what}: reading {text!r} needs a file system that is missing: {err}"
        raise MissingDependencyError(msg) from None
    except OSError as err:
        msg = f"{what}: cannot list {text!r}: {err}"
        raise DataReadError(msg) from err
    if not paths:
        msg = (
            f"{what}: no parquet file matches {text!r}. Pass a folder of .parquet "
            "files, a glob such as 'logs/*.parquet', or a Dask DataFrame."
        )
        raise DataReadError(msg)
    return fs, paths, base.rstrip("/")


def _file_parts(source: Any, what: str) -> Iterator[tuple[str, bytes]]:
    fs, paths, base = _files(source, what)
    for path in paths:
        label = path[len(base) + 1 :] if base and path.startswith(base + "/") else path
        try:
            data = fs.cat_file(path)
        except OSError as err:
            msg = f"{what}: cannot read {label!r}: {err}"
            raise DataReadError(msg) from err
        yield label, data


def _partition_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of one Dask partition (runs on a worker)."""
    from mlops_nb.data._frames import to_parquet_bytes

    named = any(n is not None for n in frame.index.names)
    frame = frame.reset_index(drop=not named)
    frame.columns = [str(c) for c in frame.columns]
    return to_parquet_bytes(frame, what="Project.data (a Dask partition)")


def _dask_parts(ddf: Any) -> Iterator[tuple[str, bytes]]:
    import dask

    for i, part in enumerate(ddf.to_delayed()):
        yield f"partition {i}", dask.delayed(_partition_bytes)(part).compute()


# -- the seeded sample (bottom-k) ------------------------------------------------------
def _keys(seed: int, digest: str, rows: int) -> np.ndarray:
    import numpy as np

    return np.random.default_rng([int(seed), int(digest[:15], 16)]).random(rows)


class _BottomK:
    """The ``k`` rows with the smallest keys seen so far, with their positions."""

    def __init__(self, k: int):
        self.k = k
        self.keys: Any = None
        self.pos: Any = None
        self.table: pa.Table | None = None

    def add(self, table: pa.Table, keys: np.ndarray, offset: int) -> None:
        import numpy as np
        import pyarrow as pa

        if len(keys) > self.k:
            idx = np.sort(np.argpartition(keys, self.k - 1)[: self.k])
        else:
            idx = np.arange(len(keys))
        taken = table.take(pa.array(idx))
        pos = idx + offset
        if self.table is None:
            self.keys, self.pos, self.table = keys[idx], pos, taken
            return
        both = pa.concat_tables([self.table, taken], promote_options="permissive")
        keys = np.concatenate([self.keys, keys[idx]])
        pos = np.concatenate([self.pos, pos])
        keep = np.lexsort((pos, keys))[: self.k]
        self.keys, self.pos = keys[keep], pos[keep]
        self.table = both.take(pa.array(keep))

    def ordered(self, by: str) -> tuple[pa.Table, np.ndarray]:
        """Return the rows and their positions, ordered by key or by position."""
        import numpy as np
        import pyarrow as pa

        order = (
            np.argsort(self.pos)
            if by == "position"
            else np.lexsort((self.pos, self.keys))
        )
        return self.table.take(pa.array(order)), self.pos[order]  # type: ignore[union-attr]


# -- registering -----------------------------------------------------------------------
def register_large(
    project: Project,
    name: str,
    source: Any,
    *,
    roles: Mapping[str, Any],
    kinds: Mapping[str, str] | None = None,
    labels: Mapping[str, Any] | None = None,
    descriptions: Mapping[str, Any] | None = None,
    note: str = "",
    what: str = "Project.data",
) -> DataAsset:
    """Store each partition of ``source`` as a blob, pinned by a manifest version.

    ``roles`` maps ``target``/``sensitive``/``time``/``id`` to a column or the
    ``_UNSET`` marker of :mod:`mlops_nb.data._register` (then inherited from the
    newest version of ``name``). See the module docstring for what is stored.

    Raises
    ------
    DataReadError, EmptyDataError, SchemaError
        For a source with no parquet file, no rows, a file that is not parquet or
        too large (``max_data_bytes``, per partition), or partitions whose columns
        differ; blobs already written stay unreferenced (``gc()`` removes them).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_nb.data._dictionary import Dictionary, parse_dictionary
    from mlops_nb.data._parquet_guard import check_parquet
    from mlops_nb.data._register import _row_by_hash, record_dictionary
    from mlops_nb.store import _q_assets as q
    from mlops_nb.store import validate_name

    validate_name(name, what=f"{what}(name=...)")
    store = project._store
    if is_dask_frame(source):
        parts, described = (
            _dask_parts(source),
            f"Dask DataFrame ({source.npartitions} partitions)",
        )
    else:
        parts, described = _file_parts(source, what), f"parquet:{source}"
    entries: list[dict[str, Any]] = []
    sources: list[str] = []
    columns: list[list[str]] | None = None
    sample = _BottomK(SAMPLE_ROWS)
    ranges: dict[str, list[float]] = {}
    total = 0
    for label, data in parts:
        check_parquet(bytes(data), what=what, name=label)
        try:
            table = pq.read_table(pa.BufferReader(data))
        except (OSError, ValueError) as err:
            msg = f"{what}: could not read {label!r} as parquet: {err}"
            raise DataReadError(msg) from err
        cols = [[f.name, str(f.type)] for f in table.schema]
        if columns is None:
            columns = cols
        elif not _same_columns(columns, cols):
            msg = (
                f"{what}: {label!r} has columns {_show(cols)} but {sources[0]!r} has "
                f"{_show(columns)}. Every partition of one version needs the same "
                "columns and types; rewrite the odd one or register it separately."
            )
            raise SchemaError(msg, [{"column": label, "problem": "other columns"}])
        else:
            columns = _unify(columns, cols)
        digest = store.put_blob(data, media_type=PARQUET)  # each blob before the row
        rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
        if rows:
            sample.add(table, _keys(SEED, digest, rows), total)
            _widen(ranges, table)
        entries.append({"sha256": digest, "rows": int(rows), "bytes": len(data)})
        sources.append(label)
        total += rows
        del table, data
    if columns is None or not columns or not total or sample.table is None:
        msg = (
            f"{what}: {described} has no rows"
            + (f" (columns: {listing([c[0] for c in columns])})" if columns else "")
            + ". Check the files or the filter that produced them."
        )
        raise EmptyDataError(msg)
    names = [c[0] for c in columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        msg = f"{what}: duplicate column names {listing(dupes)}; rename them."
        raise SchemaError(
            msg, [{"column": d, "problem": "duplicate name"} for d in dupes]
        )
    preview_table, _pos = sample.ordered("position")
    preview = preview_table.to_pandas()
    given, removed = parse_dictionary(labels, descriptions, names, what=what)
    schema = _infer(project, name, preview, roles, kinds)
    manifest = {
        "format": FORMAT,
        "version": 1,
        "n_rows": int(total),
        "columns": columns,
        "partitions": entries,
        "schema": schema.to_dict(),
    }
    digest_hash = hashlib.sha256(_canonical(manifest)).hexdigest()
    existing = _row_by_hash(project, name, digest_hash)
    kept_from = existing if existing is not None else q.latest_asset(store, name)
    kept = Dictionary.from_json(json.loads(kept_from["schema"]) if kept_from else None)
    dictionary = kept.updated(given, removed).restrict(names)
    if existing is not None:
        return project._asset_from_row(record_dictionary(project, existing, dictionary))
    buf = io.BytesIO()
    pq.write_table(preview_table, buf, compression="zstd")
    preview_bytes = buf.getvalue()
    preview_digest = store.put_blob(preview_bytes, media_type=PARQUET)
    stored = {
        **manifest,
        "preview": {"sha256": preview_digest, "seed": SEED},
        "ranges": ranges,  # finite min/max of numeric and time columns (profiles)
    }
    manifest_bytes = _canonical(stored)
    artifact = store.put_blob(manifest_bytes, media_type=MANIFEST)
    params = {"large": {"partitions": len(entries), "sources": sources}}
    return _record(
        project, name, digest_hash, artifact, manifest_bytes, preview_bytes,
        preview_digest, entries, total, schema, dictionary, params, note, described,
    )  # fmt: skip


def _record(project: Project, name: str, digest_hash: str, artifact: str,
            manifest_bytes: bytes, preview_bytes: bytes, preview_digest: str,
            entries: list[dict[str, Any]], total: int, schema: Any, dictionary: Any,
            params: dict[str, Any], note: str, source: str) -> DataAsset:  # fmt: skip
    from mlops_nb.data._register import _row_by_hash
    from mlops_nb.store import _q_assets as q
    from mlops_nb.store._db import now

    store = project._store
    with store.write() as conn:
        row = _row_by_hash(
            project, name, digest_hash, conn
        )  # another kernel may have won
        if row is None:
            version = q.next_asset_version(conn, name)
            parents = [(name, version - 1)] if version > 1 else []
            seen: set[str] = set()
            for (
                e
            ) in entries:  # a gc() elsewhere meanwhile: StoreError, nothing recorded
                if e["sha256"] not in seen:
                    seen.add(e["sha256"])
                    store.record_blob(conn, e["sha256"], e["bytes"], PARQUET)
            store.record_blob(
                conn, preview_digest, len(preview_bytes), PARQUET, data=preview_bytes
            )
            store.record_blob(
                conn, artifact, len(manifest_bytes), MANIFEST, data=manifest_bytes
            )
            q.insert_asset_version(
                conn,
                {
                    "name": name,
                    "version": version,
                    "content_hash": digest_hash,
                    "artifact": artifact,
                    "n_rows": int(total),
                    "n_cols": len(schema.columns),
                    "schema": json.dumps({**schema.to_dict(), **dictionary.to_json()}),
                    "parents": json.dumps([list(p) for p in parents]),
                    "operation": "register",
                    "params": json.dumps(params, default=str, sort_keys=True),
                    "note": note,
                    "source": source,
                    "created_at": now(),
                    "created_by": project._user(),
                },
            )
            store.audit(
                conn,
                "register",
                f"asset:{name}@{version}",
                rows=int(total),
                content_hash=digest_hash,
                parents=parents,
                note=note,
                partitions=len(entries),
                manifest=artifact,
            )
            row = _row_by_hash(project, name, digest_hash, conn)
    return project._asset_from_row(row)


def _infer(
    project: Project,
    name: str,
    preview: pd.DataFrame,
    roles: Mapping[str, Any],
    kinds: Mapping[str, str] | None,
) -> Any:
    """Infer the schema from the sample; unset roles and kept kinds as for a frame."""
    from mlops_nb.data._register import _UNSET
    from mlops_nb.data._schema import Schema, infer_schema
    from mlops_nb.store import _q_assets as q

    roles = dict(roles)
    old_kinds: dict[str, str] = {}
    latest = q.latest_asset(project._store, name)
    if latest is not None:
        old = Schema.from_dict(json.loads(latest["schema"]))
        for role, value in old.roles().items():
            if roles[role] is _UNSET:
                cols = value if isinstance(value, list) else [value]
                ok = all(c in preview.columns for c in cols if c)
                roles[role] = value if ok else ([] if role == "sensitive" else None)
        old_kinds = {
            c.name: c.kind
            for c in old.columns
            if c.name in preview.columns and str(preview[c.name].dtype) == c.dtype
        }
    roles = {k: (None if v is _UNSET else v) for k, v in roles.items()}
    return infer_schema(preview, kinds={**old_kinds, **dict(kinds or {})}, **roles)


def _widen(ranges: dict[str, list[float]], table: pa.Table) -> None:
    """Widen ``ranges`` to the finite min/max of the table's numeric/time columns.

    Times count in nanoseconds since the epoch (UTC), as profiles bin them.
    """
    import numpy as np
    import pyarrow as pa

    for field in table.schema:
        t = field.type
        col = table.column(field.name)
        if pa.types.is_timestamp(t):
            try:
                col = col.cast(pa.timestamp("ns", t.tz)).cast(pa.int64())
            except pa.ArrowInvalid:  # beyond nanoseconds' range: no histogram
                continue
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            continue
        x = col.to_numpy().astype("float64")  # nulls become NaN
        x = x[np.isfinite(x)]
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            old = ranges.get(field.name)
            ranges[field.name] = [min(lo, old[0]), max(hi, old[1])] if old else [lo, hi]


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _same_columns(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]) -> bool:
    """Tell whether names match in order and types match (or one is ``null``)."""
    return len(a) == len(b) and all(
        x[0] == y[0] and (x[1] == y[1] or "null" in (x[1], y[1]))
        for x, y in zip(a, b, strict=True)
    )


def _unify(a: list[list[str]], b: list[list[str]]) -> list[list[str]]:
    return [[x[0], y[1] if x[1] == "null" else x[1]] for x, y in zip(a, b, strict=True)]


def _show(cols: Sequence[Sequence[str]]) -> str:
    return listing([f"{n}: {t}" for n, t in cols])


# -- reading ---------------------------------------------------------------------------
def manifest(asset: DataAsset) -> dict[str, Any]:
    """Return a large version's manifest (read from its verified blob, cached)."""
    cached = asset.__dict__.get("_manifest")
    if cached is None:
        cached = json.loads(asset.project._store.read_blob(asset.artifact))
        if cached.get("format") != FORMAT:
            msg = f"{asset.label}: its artifact is not a manifest of a large version."
            raise IntegrityError(msg)
        object.__setattr__(asset, "_manifest", cached)
    return cached


def preview_table(asset: DataAsset) -> pa.Table:
    """Return the seeded sample stored with a large version (Arrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    digest = manifest(asset)["preview"]["sha256"]
    return pq.read_table(pa.BufferReader(asset.project._store.read_blob(digest)))


def preview(asset: DataAsset) -> pd.DataFrame:
    """Return the seeded sample stored with a large version, in row order."""
    return preview_table(asset).to_pandas()


def read_partition(
    artifacts: Any, digest: str, index: int, source: str, version: str, meta: Any
) -> pd.DataFrame:
    """Read one partition, re-hashed; a changed one raises ``IntegrityError``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_nb.errors import NotFoundError

    # past a team store's machine-local cache: partitions are data, not models
    read = getattr(artifacts, "read_uncached", artifacts.read)
    try:
        data = read(digest)
    except (IntegrityError, NotFoundError) as err:
        msg = (
            f"partition {index} ({source!r}) of {version} does not match the SHA-256 "
            f"it was registered with ({digest[:12]}…): {err} Restore it from a backup, "
            "or register the data again as a new version."
        )
        raise IntegrityError(msg) from err
    table = pq.read_table(pa.BufferReader(data))
    del data  # the file's bytes, decoded: a worker holds one copy of a partition
    if meta is not None and not table.schema.equals(meta, check_metadata=False):
        table = table.cast(meta)
    # each Arrow column freed once converted (not split_blocks: its frames are
    # read-only, and asset.dask() hands these frames to the user's own code)
    return table.to_pandas(self_destruct=True)


def _parts(asset: DataAsset) -> list[tuple[Any, ...]]:
    m = manifest(asset)
    sources = asset.params.get("large", {}).get("sources") or []
    return [
        (e["sha256"], i, sources[i] if i < len(sources) else f"partition {i}")
        for i, e in enumerate(m["partitions"])
    ]


def to_dask(asset: DataAsset) -> Any:
    """Return a Dask DataFrame over the stored partitions, re-hashed when read."""
    try:
        import dask.dataframe as dd
    except ImportError as err:
        from mlops_nb.errors import MissingDependencyError

        msg = f"{asset.label}.dask() needs Dask: pip install 'mlops-nb[scale]'."
        raise MissingDependencyError(msg) from err
    table = preview_table(asset)
    sample, schema = table.to_pandas(), table.schema
    artifacts = asset.project._store.artifacts
    parts = _parts(asset)
    return dd.from_map(
        _ReadPart(artifacts, asset.label, schema),
        parts,
        meta=sample.iloc[:0],
        enforce_metadata=False,
        label=f"mlops-nb-{asset.name}-v{asset.version}",
    )


def reader_of(asset: DataAsset) -> tuple[Any, list[tuple[Any, ...]]]:
    """Return a picklable reader of one partition (re-hashed) and the partitions."""
    schema = preview_table(asset).schema
    return _ReadPart(asset.project._store.artifacts, asset.label, schema), _parts(asset)


class _ReadPart:
    """A picklable reader of one partition (Dask's ``from_map`` function)."""

    def __init__(self, artifacts: Any, version: str, schema: Any):
        self.artifacts, self.version, self.schema = artifacts, version, schema

    def __call__(self, part: tuple[Any, ...]) -> pd.DataFrame:
        digest, index, source = part
        return read_partition(
            self.artifacts, digest, index, source, self.version, self.schema
        )


def sample_rows(
    asset: DataAsset, n: int, *, seed: int = 0
) -> tuple[pd.DataFrame, list[int]]:
    """``n`` rows picked uniformly at random (bottom-k), deterministic for ``seed``.

    Reads one verified partition at a time. Returns the rows in the order they were
    picked and their positions in the version.
    """
    import numpy as np
    import pyarrow as pa

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        msg = f"{asset.label}.sample: n={n!r} must be a positive whole number of rows."
        raise ValidationError(msg)
    m = manifest(asset)
    schema = preview_table(asset).schema
    picked = _BottomK(int(n))
    offset = 0
    for (digest, i, source), entry in zip(_parts(asset), m["partitions"], strict=True):
        rows = int(entry["rows"])
        if rows:
            frame = read_partition(
                asset.project._store.artifacts, digest, i, source, asset.label, schema
            )
            table = pa.Table.from_pandas(frame, preserve_index=False)
            picked.add(table, _keys(seed, digest, rows), offset)
        offset += rows
    table, pos = picked.ordered("key")
    return table.to_pandas(), [int(p) for p in pos]


def frame_error(asset: DataAsset) -> ValidationError:
    """Return the error ``asset.frame`` raises on a large version."""
    parts = len(manifest(asset)["partitions"])
    msg = (
        f"{asset.label} is a large version ({asset.n_rows:,} rows in {parts} stored "
        "partitions): it is never loaded into one process, so it has no .frame. Use "
        f"asset.dask() for a Dask DataFrame over its verified partitions, or "
        f"asset.sample(n, seed=0).frame for n rows picked at random."
    )
    return ValidationError(msg)


def sample_version(
    asset: DataAsset,
    n: int,
    *,
    seed: int = 0,
    strategy: str = "random",
    name: str | None = None,
    **options: Any,
) -> DataAsset:
    """``DataAsset.sample`` of a large version: a small version of ``n`` random rows.

    Raises
    ------
    ValidationError
        For another strategy or option (they need the whole table in memory), or a
        bad ``n``.
    """
    if strategy != "random" or options:
        extra = f"strategy={strategy!r}" if strategy != "random" else ""
        extra = ", ".join([extra, *map(str, options)]).strip(", ")
        msg = (
            f"{asset.label}.sample: {extra} needs the whole table in memory; a large "
            "version samples at random only, e.g. asset.sample(1000, seed=0)."
        )
        raise ValidationError(msg)
    frame, rows = sample_rows(asset, n, seed=seed)
    params = {"strategy": "random", "n": len(rows), "seed": seed, "rows": rows}
    note = f"{len(rows)} rows picked at random (seed {seed}) from {asset.n_rows:,}"
    return asset._derive(frame, name or f"{asset.name}-sample", "sample", params, note)
