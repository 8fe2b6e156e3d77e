"""SQL of versioned documents (value canvas, monitors, exports, signatures, ...).

See :mod:`mlops_nb.store._q` for the conventions: reads take the ``store``, statements
inside a write transaction take the caller's ``conn``; rows come back as dicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.store._q import column, dicts, first, on_postgresql, one

if TYPE_CHECKING:
    from mlops_nb.store._store import Store


# -- inside a write transaction -------------------------------------------------------
def document_by_hash_in(
    conn: Any, kind: str, name: str, digest: str
) -> dict[str, Any] | None:
    """Return the version of ``kind``/``name`` with content ``digest``, or None.

    On PostgreSQL it first takes the lock :func:`next_document_version` takes.
    """
    if on_postgresql(conn):
        from mlops_nb.store._pg_audit import lock

        lock(conn.sa, "documents", kind, name)
    return one(
        conn.execute(
            "SELECT * FROM documents WHERE kind = ? AND name = ? AND content_hash = ?",
            (kind, name, digest),
        ).fetchone()
    )


def next_document_version(conn: Any, kind: str, name: str) -> int:
    """Return the number the next version of ``kind``/``name`` gets (1 first).

    On PostgreSQL the writers of ``kind``/``name`` queue on an advisory lock.
    """
    if on_postgresql(conn):
        from mlops_nb.store._sa_registry import next_version

        return next_version(conn, "documents", name, kind=kind)
    row = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM documents WHERE kind = ? AND name = ?",
        (kind, name),
    ).fetchone()
    return 1 + row[0]


def insert_document(
    conn: Any,
    kind: str,
    name: str,
    version: int,
    digest: str,
    payload: str,
    note: str,
    at: str,
    by: str,
) -> None:
    """Insert one version of a document."""
    conn.execute(
        "INSERT INTO documents(kind, name, version, content_hash, payload, "
        "note, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, name, version, digest, payload, note, at, by),
    )


def document_at_in(
    conn: Any, kind: str, name: str, version: int
) -> dict[str, Any] | None:
    """Version ``version`` of document ``kind``/``name``, read in the transaction."""
    return one(
        conn.execute(
            "SELECT * FROM documents WHERE kind = ? AND name = ? AND version = ?",
            (kind, name, version),
        ).fetchone()
    )


# -- reads ----------------------------------------------------------------------------
def find_document(
    store: Store, kind: str, name: str, version: int | None = None
) -> dict[str, Any] | None:
    """Return the newest (or a given) version of ``kind``/``name``, or None."""
    sql = "SELECT * FROM documents WHERE kind = ? AND name = ?"
    params: tuple[Any, ...] = (kind, name)
    if version is not None:
        sql += " AND version = ?"
        params += (int(version),)
    return first(store.query(sql + " ORDER BY version DESC LIMIT 1", params))


def documents_of(store: Store, kind: str, name: str) -> list[dict[str, Any]]:
    """Return every version of document ``kind``/``name`` (whole rows), oldest first."""
    return dicts(
        store.query(
            "SELECT * FROM documents WHERE kind = ? AND name = ? ORDER BY version",
            (kind, name),
        )
    )


def document_version_numbers(store: Store, kind: str, name: str) -> list[int]:
    """Return every version number of document ``kind``/``name``, oldest first."""
    return column(
        store.query(
            "SELECT version FROM documents WHERE kind = ? AND name = ? "
            "ORDER BY version",
            (kind, name),
        )
    )


def document_history(store: Store, kind: str, name: str) -> list[dict[str, Any]]:
    """Return ``version``, ``note``, ``created_at``, ``created_by`` of every version."""
    return dicts(
        store.query(
            "SELECT version, note, created_at, created_by FROM documents WHERE kind "
            "= ? AND name = ? ORDER BY version",
            (kind, name),
        )
    )


def newest_versions(store: Store, kind: str) -> list[dict[str, Any]]:
    """Return ``name`` and newest ``version`` of every document of ``kind``, by name."""
    return dicts(
        store.query(
            "SELECT name, MAX(version) AS version FROM documents WHERE kind = ? "
            "GROUP BY name ORDER BY name",
            (kind,),
        )
    )


def document_payloads_after(
    store: Store, kind: str, name: str, after: int
) -> list[dict[str, Any]]:
    """Return ``version`` and ``payload`` of the versions after ``after``, in order."""
    return dicts(
        store.query(
            "SELECT version, payload FROM documents WHERE kind = ? AND name = ? "
            "AND version > ? ORDER BY version",
            (kind, name, after),
        )
    )


def document_names(store: Store, kind: str) -> list[str]:
    """Return the name of every document of ``kind``."""
    return column(
        store.query("SELECT DISTINCT name FROM documents WHERE kind = ?", (kind,))
    )


def document_names_in_order(store: Store, kind: str) -> list[str]:
    """Return the name of every document of ``kind`` in order of first appearance."""
    return column(
        store.query(
            "SELECT name FROM documents WHERE kind = ? GROUP BY name ORDER BY MIN(id)",
            (kind,),
        )
    )


def document_names_with_prefix(store: Store, kind: str, prefix: str) -> list[str]:
    """Return the names of documents of ``kind`` starting with ``prefix``, sorted."""
    return column(
        store.query(
            "SELECT DISTINCT name FROM documents "
            "WHERE kind = ? AND substr(name, 1, ?) = ? ORDER BY name",
            (kind, len(prefix), prefix),
        )
    )


def records_named(
    store: Store, kind: str, names: tuple[str, str]
) -> list[dict[str, Any]]:
    """Return payload and created_at of documents of ``kind`` named one of ``names``."""
    return dicts(
        store.query(
            "SELECT payload, created_at FROM documents WHERE kind = ? "
            "AND name IN (?, ?) ORDER BY id",
            (kind, *names),
        )
    )


def waiver_payloads(store: Store, name_pattern: str) -> list[str]:
    """Return the payloads of the release waivers named ``LIKE name_pattern``."""
    rows = store.query(
        "SELECT payload FROM documents WHERE kind = 'release-waiver' AND name LIKE ? "
        "ORDER BY id",
        (name_pattern,),
    )
    return [r["payload"] for r in rows]


def payloads_with_name_prefix(store: Store, kind: str, prefix: str) -> list[str]:
    """Return the payloads of documents of ``kind`` named ``prefix...``, oldest first.

    ``_`` and ``%`` in ``prefix`` match themselves.
    """
    rows = store.query(
        "SELECT name, version, payload FROM documents WHERE kind = ? AND name LIKE "
        "? ESCAPE '\\' "
        "ORDER BY id",
        (kind, prefix.replace("_", "\\_").replace("%", "\\%") + "%"),
    )
    return [r["payload"] for r in rows]


def newest_monitor_documents(store: Store) -> list[dict[str, Any]]:
    """Return ``name`` and ``payload`` of every monitor's newest version, in order."""
    return dicts(
        store.query(
            "SELECT d.name, d.payload FROM documents d WHERE d.kind = 'monitor' "
            "AND d.version = (SELECT MAX(version) FROM documents "
            "WHERE kind = 'monitor' AND name = d.name) ORDER BY d.id"
        )
    )
