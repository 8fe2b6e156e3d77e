"""SQL of model versions: numbering, inserting, stages and their history, thresholds.

See :mod:`mlops_nb.store._q` for the conventions: reads take the ``store``, statements
inside a write transaction take the caller's ``conn``; rows come back as dicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.store._q import column, dicts, first, on_postgresql, values_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlops_nb.store._store import Store

#: the columns a new model version is inserted with (``id`` is assigned)
MODEL_COLUMNS = (
    "name",
    "version",
    "stage",
    "flavor",
    "artifacts",
    "recipe",
    "metrics",
    "lineage",
    "environment",
    "created_at",
    "created_by",
)
_INSERT_MODEL = (
    "INSERT INTO model_versions(name, version, stage, flavor, artifacts, recipe, "
    "metrics, lineage, environment, created_at, created_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# -- inside a write transaction -------------------------------------------------------
def next_model_version(conn: Any, name: str) -> int:
    """Return the number the next version of model ``name`` gets (1 first).

    On PostgreSQL the writers of ``name`` queue on an advisory lock held until commit.
    """
    if on_postgresql(conn):
        from mlops_nb.store._sa_registry import next_version

        return next_version(conn, "model_versions", name)
    row = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE name = ?",
        (name,),
    ).fetchone()
    return 1 + row[0]


def insert_model_version(conn: Any, row: Mapping[str, Any]) -> None:
    """Insert a model version; ``row`` has exactly :data:`MODEL_COLUMNS`."""
    conn.execute(_INSERT_MODEL, values_of("model_versions", MODEL_COLUMNS, row))


def other_production_versions(
    conn: Any, name: str, model_id: int
) -> list[dict[str, Any]]:
    """Return ``id`` and ``version`` of every production version of ``name`` but one.

    On PostgreSQL every version of ``name`` is locked first (``SELECT ... FOR
    UPDATE``, in id order, as :func:`mlops_nb.store._sa_registry.set_stage` does), so
    two machines promoting at once queue and the second sees the first's production
    version; the lock holds until the caller's transaction ends.
    """
    if on_postgresql(conn):
        lock_model_versions(conn, name)
    return dicts(
        conn.execute(
            "SELECT id, version FROM model_versions WHERE name = ? "
            "AND stage = 'production' AND id != ?",
            (name, model_id),
        ).fetchall()
    )


def lock_model_versions(conn: Any, name: str) -> None:
    """On PostgreSQL, lock every version of model ``name`` until the commit."""
    if on_postgresql(conn):
        conn.execute(
            "SELECT id FROM model_versions WHERE name = ? ORDER BY id FOR UPDATE",
            (name,),
        )


def set_stage(
    conn: Any, model_id: int, frm: str, to: str, reason: str, at: str, by: str
) -> None:
    """Move a model version to stage ``to`` and record the change in its history.

    On PostgreSQL :func:`mlops_nb.store._sa_registry.set_stage` does it: it locks
    every version of the model's name, reads the stage ``frm`` under the lock (another
    machine may have changed it) and archives any other production version.
    """
    if on_postgresql(conn):
        from mlops_nb.store._sa_registry import set_stage as locked_set_stage

        locked_set_stage(conn, model_id, to, reason, by)
        return
    conn.execute("UPDATE model_versions SET stage = ? WHERE id = ?", (to, model_id))
    conn.execute(
        "INSERT INTO model_stage_history"
        '(model_id, from_stage, to_stage, reason, at, "by") VALUES (?, ?, ?, ?, ?, ?)',
        (model_id, frm, to, reason, at, by),
    )


def insert_threshold(
    conn: Any,
    model_id: int,
    threshold: float,
    positive_class: str,
    reason: str,
    at: str,
    by: str,
) -> None:
    """Record a decision threshold of a model version (the newest row wins)."""
    conn.execute(
        "INSERT INTO model_thresholds(model_id, threshold, positive_class, "
        'reason, at, "by") VALUES (?, ?, ?, ?, ?, ?)',
        (model_id, threshold, positive_class, reason, at, by),
    )


# -- reads ----------------------------------------------------------------------------
def find_model(
    store: Store, name: str, version: int | None = None, stage: str | None = None
) -> dict[str, Any] | None:
    """Return the newest version of ``name`` (at ``version``/``stage``), or None."""
    sql, params = "SELECT * FROM model_versions WHERE name = ?", [name]
    if version is not None:
        sql, params = sql + " AND version = ?", [*params, int(version)]
    if stage is not None:
        sql, params = sql + " AND stage = ?", [*params, stage]
    return first(store.query(sql + " ORDER BY version DESC LIMIT 1", tuple(params)))


def model_names(store: Store) -> list[str]:
    """Return the name of every model, sorted."""
    return column(store.query("SELECT DISTINCT name FROM model_versions ORDER BY name"))


def model_version_numbers(store: Store, name: str) -> list[int]:
    """Return every version number of model ``name``, oldest first."""
    return column(
        store.query(
            "SELECT version FROM model_versions WHERE name = ? ORDER BY version",
            (name,),
        )
    )


def model_summaries(store: Store) -> list[dict[str, Any]]:
    """Return name, version, stage, recipe, lineage and time of every model version."""
    return dicts(
        store.query(
            "SELECT name, version, stage, recipe, lineage, created_at "
            "FROM model_versions ORDER BY name, version"
        )
    )


def all_model_versions(store: Store) -> list[dict[str, Any]]:
    """Return every model version's whole row, by name and version."""
    return dicts(store.query("SELECT * FROM model_versions ORDER BY name, version"))


def model_lineages(store: Store) -> list[dict[str, Any]]:
    """Return name, version and lineage of every model version, oldest first."""
    return dicts(
        store.query("SELECT name, version, lineage FROM model_versions ORDER BY id")
    )


def newest_version_at_stage(store: Store, name: str, stage: str) -> int | None:
    """Return the newest version number of ``name`` at ``stage``, or ``None``."""
    row = first(
        store.query(
            "SELECT version FROM model_versions WHERE name = ? AND stage = ? "
            "ORDER BY version DESC LIMIT 1",
            (name, stage),
        )
    )
    return None if row is None else row["version"]


def replaced_production_version(store: Store, name: str, current_id: int) -> int | None:
    """Return the version production version ``current_id`` replaced, or None."""
    row = first(
        store.query(
            "SELECT h.model_id, m.version FROM model_stage_history h "
            "JOIN model_versions m ON m.id = h.model_id "
            "WHERE m.name = ? AND h.from_stage = 'production' "
            "AND h.to_stage = 'archived' AND m.id != ? "
            "ORDER BY h.id DESC LIMIT 1",
            (name, current_id),
        )
    )
    return None if row is None else row["version"]


def stage_changes(store: Store, name: str) -> list[dict[str, Any]]:
    """Return every stage change of model ``name``'s versions, oldest first."""
    return dicts(
        store.query(
            'SELECT m.version, h.from_stage, h.to_stage, h.reason, h.at, h."by" '
            "FROM model_stage_history h "
            "JOIN model_versions m ON m.id = h.model_id WHERE m.name = ? "
            "ORDER BY h.id",
            (name,),
        )
    )


def latest_threshold(store: Store, model_id: int) -> dict[str, Any] | None:
    """Return the newest threshold row of a model version, or ``None``."""
    return first(
        store.query(
            'SELECT threshold, positive_class, reason, at, "by" FROM model_thresholds '
            "WHERE model_id = ? ORDER BY id DESC LIMIT 1",
            (model_id,),
        )
    )
