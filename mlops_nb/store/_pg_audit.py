"""The audit log of a team store: a race-free append, the chain check, the app role.

Appending to a hash chain reads the newest entry's hash and writes one that names
it. With many writers on many machines, two transactions could both read the same
newest hash and fork the chain. :func:`append_audit` first takes a
transaction-scoped advisory lock of the project's schema
(``pg_advisory_xact_lock``, released by COMMIT or ROLLBACK), so appends queue;
under READ COMMITTED the read that follows the lock sees every entry committed
before it. SQLite needs no lock: its writers are serialised by ``BEGIN IMMEDIATE``.

The migrations make the log refuse UPDATE, DELETE and TRUNCATE with triggers, but a
table's owner can disable triggers. :func:`grant_app_role` makes a login role for
kernels and jobs that owns nothing: it may SELECT and INSERT every table, and
UPDATE only the two columns kernels change in place (:data:`APP_ROLE_UPDATES`: a
model version's stage, a data version's schema). So even with the triggers disabled
its UPDATE, DELETE or TRUNCATE of the log is refused by privileges, and so is any
rewrite of a recorded artifact digest, signature, stage history row or document.
What it can still do (append a row, set a stage) is what a kernel does, and
``verify()`` checks it: the audit chain, the stage history against the log, and
signatures against keys that never come from the database.
:func:`app_role_sql` prints the same statements for a database administrator.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config
from mlops_nb.errors import StoreError
from mlops_nb.store._db import _GENESIS, _chain_hash, now

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mlops_nb.store._team import TeamURL

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: The first key of the two-key advisory locks of mlops_nb's team stores.
LOCK_CLASS = int.from_bytes(
    hashlib.sha256(b"mlops_nb locks").digest()[:4], "big", signed=True
)
_ENTRY = ("at", "user", "action", "object", "detail")
#: the only columns a kernel ever changes in place: a model version's stage
#: (promote, rollback) and a data version's inferred schema; every other row is
#: written once, so the app role may not UPDATE or DELETE anything else
APP_ROLE_UPDATES = (("model_versions", "stage"), ("asset_versions", "schema"))


def lock(conn: sa.Connection, *what: str) -> None:
    """Take a transaction-scoped advisory lock on ``what`` in the current schema.

    PostgreSQL only (a no-op on SQLite, whose writers are already serialised). The
    lock is released when the transaction ends, so it is held until the changes
    it guards are committed and visible to the next holder.
    """
    import sqlalchemy as sa

    if conn.dialect.name != "postgresql":
        return
    key = "\x1f".join(what)
    conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema() || :key))"
        ),
        {"cls": LOCK_CLASS, "key": "\x1f" + key},
    )


def append_audit(conn: sa.Connection, action: str, obj: str, **detail: Any) -> str:
    """Append one entry to the audit log inside the caller's write transaction.

    The entry is hashed exactly as the embedded store hashes it
    (:func:`mlops_nb.store._db._chain_hash`), so a log copied between back ends
    verifies on both.

    Returns
    -------
    str
        The new entry's hash.
    """
    import sqlalchemy as sa

    from mlops_nb.store._tables import audit_log

    lock(conn, "audit_log")
    prev = conn.execute(
        sa.select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).scalar()
    entry = {
        "at": now(),
        "user": get_config()["user"],
        "action": action,
        "object": obj,
        "detail": json.dumps(detail, sort_keys=True, default=str),
    }
    prev = prev or _GENESIS
    digest = _chain_hash(prev, entry)
    conn.execute(audit_log.insert().values(**entry, prev_hash=prev, hash=digest))
    return digest


def chain_problems(rows: list[Any]) -> list[str]:
    """Return a sentence for each entry of ``rows`` (by id) that breaks the chain.

    Ids may have gaps on PostgreSQL (a rolled-back append consumes its sequence
    number), so only the hashes are compared, never the ids.
    """
    problems = []
    prev = _GENESIS
    for row in rows:
        entry = {k: row[k] for k in _ENTRY}
        if row["prev_hash"] != prev or row["hash"] != _chain_hash(prev, entry):
            problems.append(
                f"audit log entry {row['id']} does not chain to the one before"
            )
        prev = row["hash"]
    return problems


def _quoted(name: str, what: str) -> str:
    if not _ROLE.match(name):
        msg = (
            f"{what} {name!r} is not a plain lower-case name; use letters a-z, digits "
            "and '_', not starting with a digit."
        )
        raise StoreError(msg)
    return f'"{name}"'


def app_role_sql(schema: str, role: str) -> list[str]:
    """Return the GRANT statements that make ``role`` an append-only app role.

    For a database administrator who creates roles by hand: run them as the owner
    of the schema's tables (the user that ran ``mlops-nb db upgrade``) after
    ``CREATE ROLE <role> LOGIN``. The role owns nothing, so it cannot disable the
    audit log's triggers; it may SELECT and INSERT every table and UPDATE only the
    columns in :data:`APP_ROLE_UPDATES`: UPDATE, DELETE and TRUNCATE of the audit
    log (or of any recorded digest, signature or history) are refused even with the
    triggers disabled.

    Parameters
    ----------
    schema, role : str
        Plain lower-case names.

    Returns
    -------
    list of str
    """
    s, r = _quoted(schema, "schema"), _quoted(role, "role")
    every = "UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        # a role granted by an older mlops_nb had UPDATE and DELETE everywhere
        f"REVOKE {every} ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {s} TO {r}",
        *(
            f'GRANT UPDATE ("{column}") ON {s}.{table} TO {r}'
            for table, column in APP_ROLE_UPDATES
        ),
        f"REVOKE INSERT ON {s}.mlops_nb_alembic_version FROM {r}",
        f"REVOKE INSERT ON {s}.schema_migrations FROM {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
    ]


def grant_app_role(
    url: TeamURL | str,
    role: str,
    *,
    password: str | None = None,
    connection_limit: int = -1,
) -> list[str]:
    """Create (or update) ``role`` as the append-only role kernels connect as.

    Run it as the owner of the project's tables, after ``mlops-nb db upgrade``; run
    it again after each upgrade (new tables need their grants). It never runs
    migrations and does not need Alembic.

    Parameters
    ----------
    url : str or TeamURL
        The owner's ``postgresql://...?schema=name`` URL.
    role : str
        The role to create; plain lower-case name.
    password : str, optional
        Its login password (stored by PostgreSQL, never by mlops_nb).
    connection_limit : int, default -1
        The role's ``CONNECTION LIMIT`` (-1: none); a guard against notebooks
        exhausting the server's ``max_connections``.

    Returns
    -------
    list of str
        The statements run (the password replaced by ``***``).

    Raises
    ------
    StoreError
        An SQLite URL, a bad role name, a schema that was never upgraded, or a
        refused statement (all run in one transaction: nothing was changed).
    """
    import sqlalchemy as sa

    from mlops_nb.store._team import make_engine, parse_url, translated

    team = url if not isinstance(url, str) else parse_url(url)
    if team.backend != "postgresql":
        msg = f"{team.text}: roles exist only on PostgreSQL; an SQLite store has none."
        raise StoreError(msg)
    r = _quoted(role, "role")
    grants = app_role_sql(str(team.schema), role)
    engine = make_engine(team, pooled=False)
    shown = []
    try:
        with translated(f"grant role {role!r} on", team), engine.begin() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).scalar()
            tables = conn.execute(
                sa.text("SELECT to_regclass(:t) IS NOT NULL"),
                {"t": f'"{team.schema}".audit_log'},
            ).scalar()
            if not tables:
                msg = (
                    f"{team.text} has no mlops_nb tables yet: run mlops-nb db upgrade "
                    f"'{team.text}' first, then grant the role."
                )
                raise StoreError(msg)
            verb = "ALTER" if exists else "CREATE"
            head = f"{verb} ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
            head += f" CONNECTION LIMIT {int(connection_limit)}"
            if password is not None:
                # DDL takes no bound parameters: quote the literal the server's way
                literal = conn.execute(
                    sa.text("SELECT quote_literal(:p)"), {"p": password}
                )
                conn.exec_driver_sql(f"{head} PASSWORD {literal.scalar()}")
                shown.append(f"{head} PASSWORD '***'")
            else:
                conn.exec_driver_sql(head)
                shown.append(head)
            for statement in grants:
                conn.exec_driver_sql(statement)
                shown.append(statement)
    finally:
        engine.dispose()
    return shown
