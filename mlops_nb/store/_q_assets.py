"""SQL of data versions (``asset_versions``): numbering, inserting, finding, lineage.

See :mod:`mlops_nb.store._q` for the conventions: reads take the ``store``, statements
inside a write transaction take the caller's ``conn``; rows come back as dicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.store._q import column, dicts, first, on_postgresql, one, values_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlops_nb.store._store import Store

#: the columns a new data version is inserted with (``id`` is assigned)
ASSET_COLUMNS = (
    "name",
    "version",
    "content_hash",
    "artifact",
    "n_rows",
    "n_cols",
    "schema",
    "parents",
    "operation",
    "params",
    "note",
    "source",
    "created_at",
    "created_by",
)
_INSERT_ASSET = (
    "INSERT INTO asset_versions(name, version, content_hash, artifact, n_rows, "
    'n_cols, "schema", parents, operation, params, note, source, created_at, '
    "created_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_BY_HASH = "SELECT * FROM asset_versions WHERE name = ? AND content_hash = ?"
_BY_ID = "SELECT * FROM asset_versions WHERE id = ?"


# -- inside a write transaction -------------------------------------------------------
def next_asset_version(conn: Any, name: str) -> int:
    """Return the number the next data version of ``name`` gets (1 for the first).

    On PostgreSQL the writers of ``name`` queue on an advisory lock held until commit.
    """
    if on_postgresql(conn):
        from mlops_nb.store._sa_registry import next_version

        return next_version(conn, "asset_versions", name)
    row = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM asset_versions WHERE name = ?",
        (name,),
    ).fetchone()
    return 1 + row[0]


def insert_asset_version(conn: Any, row: Mapping[str, Any]) -> None:
    """Insert a data version; ``row`` has exactly :data:`ASSET_COLUMNS`."""
    conn.execute(_INSERT_ASSET, values_of("asset_versions", ASSET_COLUMNS, row))


def asset_by_hash_in(conn: Any, name: str, digest: str) -> dict[str, Any] | None:
    """Return the version of ``name`` holding ``digest``, read in the transaction.

    On PostgreSQL it first takes the lock :func:`next_asset_version` takes, so a
    writer that waited sees the same data another machine just registered.
    """
    if on_postgresql(conn):
        from mlops_nb.store._pg_audit import lock

        lock(conn.sa, "asset_versions", "", name)
    return one(conn.execute(_BY_HASH, (name, digest)).fetchone())


def asset_by_id_in(conn: Any, asset_id: int) -> dict[str, Any] | None:
    """Return the data version with row id ``asset_id``, read in the transaction."""
    return one(conn.execute(_BY_ID, (asset_id,)).fetchone())


def set_asset_schema(conn: Any, asset_id: int, schema: str) -> None:
    """Replace the schema JSON of one data version (its dictionary changed)."""
    conn.execute(
        'UPDATE asset_versions SET "schema" = ? WHERE id = ?', (schema, asset_id)
    )


# -- reads ----------------------------------------------------------------------------
def asset_by_hash(store: Store, name: str, digest: str) -> dict[str, Any] | None:
    """Return the version of ``name`` holding content ``digest``, or ``None``."""
    return first(store.query(_BY_HASH, (name, digest)))


def latest_asset(store: Store, name: str) -> dict[str, Any] | None:
    """Return the newest version of ``name``, or ``None``."""
    return first(
        store.query(
            "SELECT * FROM asset_versions WHERE name = ? ORDER BY version DESC LIMIT 1",
            (name,),
        )
    )


def asset_at(store: Store, name: str, version: int) -> dict[str, Any] | None:
    """Version ``version`` of ``name``, or ``None``."""
    return first(
        store.query(
            "SELECT * FROM asset_versions WHERE name = ? AND version = ?",
            (name, int(version)),
        )
    )


def asset_names(store: Store) -> list[str]:
    """Return the name of every data asset."""
    return column(store.query("SELECT DISTINCT name FROM asset_versions"))


def asset_version_numbers(store: Store, name: str) -> list[int]:
    """Return every version number of ``name``, oldest first."""
    return column(
        store.query(
            "SELECT version FROM asset_versions WHERE name = ? ORDER BY version",
            (name,),
        )
    )


def asset_summaries(store: Store) -> list[dict[str, Any]]:
    """Return per asset its ``name``, ``latest``, ``versions`` and ``updated``."""
    return dicts(
        store.query(
            "SELECT name, MAX(version) AS latest, COUNT(*) AS versions, "
            "MAX(created_at) AS updated FROM asset_versions GROUP BY name "
            "ORDER BY name"
        )
    )


def asset_history(store: Store, name: str) -> list[dict[str, Any]]:
    """Return every version of ``name``: size, operation, parents, note, when, who."""
    return dicts(
        store.query(
            "SELECT version, n_rows, n_cols, operation, parents, note, created_at, "
            "created_by FROM asset_versions WHERE name = ? ORDER BY version",
            (name,),
        )
    )


def asset_parents(store: Store, name: str, version: int) -> dict[str, Any] | None:
    """Return ``parents``, ``operation``, ``note`` of one data version (or None)."""
    return first(
        store.query(
            "SELECT parents, operation, note FROM asset_versions "
            "WHERE name = ? AND version = ?",
            (name, version),
        )
    )


def all_asset_parents(store: Store) -> list[dict[str, Any]]:
    """Return name, version, parents and operation of every data version."""
    return dicts(
        store.query(
            "SELECT name, version, parents, operation FROM asset_versions ORDER BY id"
        )
    )
