"""Alembic migrations of the metadata store, run explicitly (``mlops-nb db upgrade``).

The revisions live in ``mlops_nb/store/migrations/versions``: revision ``000N`` makes
the schema the hand-written migration ``N`` of :mod:`mlops_nb.store._db` makes, so an
embedded ``registry.sqlite`` at ``PRAGMA user_version = N`` is adopted by stamping it
``000N`` (its data untouched) and upgraded from there.

On PostgreSQL an upgrade runs in one transaction that first takes
``pg_advisory_xact_lock`` for the schema: two machines upgrading at once queue, and
the second finds nothing left to do. Then it creates the schema if missing. On SQLite
the transaction begins with ``BEGIN IMMEDIATE``, which does the same. A database
stamped with a revision this mlops_nb does not know is refused before anything runs.
Alembic's version table is ``mlops_nb_alembic_version``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import StoreError
from mlops_nb.store._team import (
    VERSION_TABLE,
    TeamURL,
    lock_key,
    make_engine,
    newer_message,
    parse_url,
    translated,
)

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_OURS = ("audit_log", "artifacts", "asset_versions", "reports", "documents")


def _config(team: TeamURL) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["team"] = team
    return cfg


def _script(team: TeamURL) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(team))


def _team(url: TeamURL | str) -> TeamURL:
    return url if isinstance(url, TeamURL) else parse_url(url)


@functools.cache
def head_revision() -> str:
    """Return this mlops_nb's newest revision (read from the scripts once)."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def upgrade(url: TeamURL | str) -> dict[str, Any]:
    """Upgrade the store at ``url`` to this mlops_nb's newest revision.

    Parameters
    ----------
    url : str or TeamURL
        ``postgresql://...?schema=name`` or ``sqlite:///.../registry.sqlite``.

    Returns
    -------
    dict
        ``before`` (the revision found under the migration lock; ``None`` for an
        empty database), ``after`` and ``url`` (masked).

    Raises
    ------
    StoreError
        A database upgraded by a newer mlops_nb, a schema holding tables that are
        not mlops_nb's, or a failed connection or migration (nothing was changed:
        the upgrade is one transaction).
    """
    from alembic import command

    team = _team(url)
    cfg = _config(team)
    with translated("upgrade", team):
        command.upgrade(cfg, "head")
    before = cfg.attributes.get("before")  # as read under the lock
    return {"before": before, "after": current(team)["revision"], "url": team.text}


def current(url: TeamURL | str, engine: sa.Engine | None = None) -> dict[str, Any]:
    """Return the store's revision and how it compares with this mlops_nb's.

    Returns
    -------
    dict
        ``revision`` (None when there is none), ``head`` (this mlops_nb's newest)
        and ``state``: ``"current"``, ``"behind"``, ``"ahead"`` (a newer mlops_nb
        upgraded it) or ``"empty"``; and ``url`` (masked).
    """
    from alembic.runtime.migration import MigrationContext

    team = _team(url)
    script = _script(team)
    head = script.get_current_head()
    own = engine is None
    engine = make_engine(team, pooled=False) if engine is None else engine
    try:
        with translated("read the schema revision of", team), engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=_opts(team))
            heads = context.get_current_heads()
            adopted = _embedded_version(conn) if not heads else 0
    finally:
        if own:
            engine.dispose()
    revision = heads[0] if heads else (f"{adopted:04d}" if adopted else None)
    known = {rev.revision for rev in script.walk_revisions()}
    if revision is None:
        state = "empty"
    elif revision not in known:
        state = "ahead"
    else:
        state = "current" if revision == head else "behind"
    return {"revision": revision, "head": head, "state": state, "url": team.text}


def _opts(team: TeamURL) -> dict[str, Any]:
    return {"version_table": VERSION_TABLE, "version_table_schema": team.schema}


def _embedded_version(conn: sa.Connection) -> int:
    """``PRAGMA user_version`` of an embedded registry (0 elsewhere)."""
    if conn.dialect.name != "sqlite":
        return 0
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)


def run_env(context: Any) -> None:
    """Run the body of ``migrations/env.py``: lock, check, adopt, migrate, commit."""
    import sqlalchemy as sa

    team: TeamURL = context.config.attributes["team"]
    script = context.script
    engine = make_engine(team, pooled=False)
    try:
        with engine.connect() as conn, conn.begin():
            if team.backend == "postgresql":
                conn.execute(
                    sa.select(sa.func.pg_advisory_xact_lock(lock_key(team.schema)))
                )
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{team.schema}"')
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{team.schema}"')
            context.configure(
                connection=conn,
                render_as_batch=team.backend == "sqlite",
                transactional_ddl=True,
                **_opts(team),
            )
            migration = context.get_context()
            heads = migration.get_current_heads()
            known = {rev.revision for rev in script.walk_revisions()}
            for head in heads:
                if head not in known:
                    raise StoreError(newer_message(head))
            if not heads:
                _adopt_or_refuse(conn, team, migration, script, known)
                heads = migration.get_current_heads()
            context.config.attributes["before"] = heads[0] if heads else None
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def _adopt_or_refuse(
    conn: sa.Connection, team: TeamURL, migration: Any, script: Any, known: set[str]
) -> None:
    """Stamp an embedded registry at its hand-migration version; refuse others'."""
    import sqlalchemy as sa

    embedded = _embedded_version(conn)
    if embedded:
        revision = f"{embedded:04d}"
        if revision not in known:
            raise StoreError(newer_message(revision))
        migration.stamp(script, revision)
        return
    tables = set(sa.inspect(conn).get_table_names(schema=team.schema))
    clash = sorted(tables & {*_OURS, "model_versions", "schema_migrations"})
    if clash or (team.backend == "sqlite" and tables):
        where = f"schema {team.schema!r}" if team.schema else "this database"
        msg = (
            f"{team.text}: {where} already holds tables that mlops_nb did not make "
            f"({', '.join(clash or sorted(tables))}); nothing was changed. Give the "
            "project a schema of its own: ?schema=<name>."
        )
        raise StoreError(msg)


def record_hand_version(version: int) -> None:
    """In a revision: note hand migration ``version`` as the embedded store does.

    A row in ``schema_migrations`` and, on SQLite, ``PRAGMA user_version``: an
    SQLite registry made by these revisions opens in mlops_nb versions that only
    know the hand-written migrations, and they refuse one that is newer.
    """
    import sqlalchemy as sa
    from alembic import op

    from mlops_nb.store._db import now

    table = sa.table("schema_migrations", sa.column("version"), sa.column("applied_at"))
    op.bulk_insert(table, [{"version": version, "applied_at": now()}])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA user_version = {int(version)}")
