"""SQL of stored reports (evaluations, carbon ledger, drift reviews) and audit reads.

See :mod:`mlops_nb.store._q` for the conventions: reads take the ``store``, statements
inside a write transaction take the caller's ``conn``; rows come back as dicts.
Audit entries are written by :meth:`mlops_nb.store._db.Registry.audit` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_nb.store._q import dicts, first

if TYPE_CHECKING:
    from mlops_nb.store._store import Store


# -- reports: inside a write transaction ----------------------------------------------
def insert_report_once(
    conn: Any, owner_kind: str, owner_id: int, kind: str, payload: str, at: str
) -> None:
    """Store a report; when the owner already has one of this kind, keep that one."""
    conn.execute(
        "INSERT INTO reports(owner_kind, owner_id, kind, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (owner_kind, owner_id, kind, payload, at),
    )


def insert_report(
    conn: Any, owner_kind: str, owner_id: int, kind: str, payload: str, at: str
) -> None:
    """Store a report (a second one of the same owner and kind is an error)."""
    conn.execute(
        "INSERT INTO reports(owner_kind, owner_id, kind, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (owner_kind, owner_id, kind, payload, at),
    )


# -- reports: reads -------------------------------------------------------------------
def report_payload(
    store: Store, owner_kind: str, owner_id: int, kind: str
) -> str | None:
    """Return the payload (JSON text) of one report, or ``None``."""
    row = first(
        store.query(
            "SELECT payload FROM reports "
            "WHERE owner_kind = ? AND owner_id = ? AND kind = ?",
            (owner_kind, owner_id, kind),
        )
    )
    return None if row is None else row["payload"]


def model_reports(store: Store, model_id: int, prefix: str) -> list[dict[str, Any]]:
    """Return kind, payload, created_at of a model's reports of kind ``prefix...``.

    Oldest first; ``%`` in ``prefix`` is ignored.
    """
    return dicts(
        store.query(
            "SELECT kind, payload, created_at FROM reports WHERE owner_kind = 'model' "
            "AND owner_id = ? AND kind LIKE ? ORDER BY id",
            (model_id, prefix.replace("%", "") + "%"),
        )
    )


def evaluation_payloads(store: Store, model_id: int) -> list[str]:
    """Return the payload of every evaluation of a model version, oldest first."""
    rows = store.query(
        "SELECT payload FROM reports WHERE owner_kind = 'model' AND owner_id = ? "
        "AND kind LIKE 'evaluation:%' ORDER BY id",
        (model_id,),
    )
    return [r["payload"] for r in rows]


def energy_payloads(store: Store) -> list[str]:
    """Return the payload of every carbon-ledger entry of the project, oldest first."""
    rows = store.query(
        "SELECT payload FROM reports WHERE kind LIKE 'energy:%' ORDER BY id"
    )
    return [r["payload"] for r in rows]


def drift_review_payloads(store: Store, monitor: str) -> list[str]:
    """Return the payloads of the three newest drift reviews of ``monitor``."""
    rows = store.query(
        "SELECT r.payload FROM reports r JOIN documents d ON r.owner_id = d.id "
        "WHERE r.owner_kind = 'document' AND d.kind = 'monitor' AND d.name = ? "
        "AND r.kind LIKE 'drift-review:%' ORDER BY d.version DESC LIMIT 3",
        (monitor,),
    )
    return [r["payload"] for r in rows]


# -- the audit log: reads -------------------------------------------------------------
def audit_entries(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """Return the audit log, newest first (the newest ``limit`` entries when given)."""
    sql = (
        'SELECT id, at, "user", action, object, detail FROM audit_log ORDER BY id DESC'
    )
    if limit:
        return dicts(store.query(sql + " LIMIT ?", (int(limit),)))
    return dicts(store.query(sql))


def audit_count(store: Store) -> int:
    """How many entries the audit log holds."""
    return int(store.query("SELECT COUNT(*) FROM audit_log")[0][0])


def audited_objects(store: Store, action: str) -> list[str]:
    """Return the object of every audit entry of ``action``."""
    rows = store.query("SELECT object FROM audit_log WHERE action = ?", (action,))
    return [r["object"] for r in rows]


def audit_has_object_prefix(store: Store, action: str, prefix: str) -> bool:
    """Whether an audit entry of ``action`` has an object starting with ``prefix``."""
    rows = store.query(
        "SELECT 1 FROM audit_log WHERE action = ? AND substr(object, 1, ?) = ? LIMIT 1",
        (action, len(prefix), prefix),
    )
    return bool(rows)


def bundle_entries(store: Store) -> list[dict[str, Any]]:
    """Return object and detail of every edge-bundle audit entry, oldest first."""
    return dicts(
        store.query(
            "SELECT object, detail FROM audit_log WHERE action = 'bundle' ORDER BY id"
        )
    )
