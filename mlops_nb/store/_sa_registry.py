"""The metadata registry on SQLAlchemy: a team store on PostgreSQL (or SQLite).

:class:`SARegistry` has the public surface of the embedded
:class:`mlops_nb.store._db.Registry` (``write()``, ``query()``, ``audit()``,
``audit_chain_problems()``, ``schema_version()``, ``close()``, ``read_only``), so
the store's query functions run on either:

- ``write()`` yields a :class:`TxConn` whose ``execute(sql, params)`` takes the
  same statements as ``sqlite3`` (``?`` or ``:name`` placeholders) or SQLAlchemy
  Core, and returns rows that index by position and by name (``dict(row)`` works);
- ``query()`` inside a ``write()`` block of the same thread reads through the
  write's connection, so it sees the block's own changes, as SQLite does.

Opening never migrates: :func:`~mlops_nb.store._team.check_schema` (one ``SELECT``
of the version table) runs on a connection of the registry's engine that is closed
at once, so an open registry holds no connection until it is used, and at most
``pool_size + max_overflow`` (4) after; the engine's dialect is initialised once.
Every message names the URL with its password masked.

Race-free numbering and stages across machines: :func:`next_version` serialises
the writers of one name with an advisory lock (the ``UNIQUE (name, version)``
constraint stays the backstop); :func:`set_stage` locks every version of a model
(``SELECT ... FOR UPDATE``) before it archives the old production version.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError, StoreError
from mlops_nb.store._pg_audit import append_audit, chain_problems, lock
from mlops_nb.store._sa_rows import Cursor, Row, TxConn, sa_conn, statement

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa

    from mlops_nb.store._team import TeamURL

_VERSIONED = ("asset_versions", "model_versions", "documents")
_STAGES = ("candidate", "staging", "production", "archived")


class SARegistry:
    """A store's metadata registry on a SQLAlchemy engine.

    Parameters
    ----------
    url : str or TeamURL
        ``postgresql://user[:password]@host/db?schema=name`` (or
        ``sqlite:///path/registry.sqlite``), already upgraded with
        ``mlops-nb db upgrade URL``.
    read_only : bool, default False
        Open for reading only: sessions are ``default_transaction_read_only`` on
        PostgreSQL and :meth:`write` refuses.
    hold : bool, default False
        Keep the connection the schema check used in the pool, for a caller that
        uses the registry at once (``Project.open``: saves connecting twice). By
        default opening leaves no connection behind.

    Raises
    ------
    StoreError
        When the database cannot be reached, is empty or behind (the message says
        to run ``mlops-nb db upgrade <masked url>``), or was upgraded by a newer
        mlops_nb.
    """

    def __init__(
        self, url: TeamURL | str, *, read_only: bool = False, hold: bool = False
    ):
        from mlops_nb.store._team import check_schema, make_engine, parse_url

        self.team = parse_url(url) if isinstance(url, str) else url
        self.read_only = "it was opened with read_only=True" if read_only else ""
        self._local = threading.local()
        self.engine = make_engine(self.team)
        if self.team.schema:
            self.engine = self.engine.execution_options(
                schema_translate_map={None: self.team.schema}
            )
        if self.team.backend == "postgresql":
            self._session_settings(read_only=read_only)
        try:
            # through the registry's own engine (initialised once); unless held, on
            # a connection closed after: opening leaves no connection behind
            self.revision = check_schema(self.team, self.engine, hold=hold)
        except BaseException:
            self.engine.dispose()
            raise

    def _session_settings(self, *, read_only: bool) -> None:
        """Set every new connection's lock wait (and read-only mode) once."""
        from sqlalchemy import event

        from mlops_nb._config import get_config

        wait_ms = max(1, int(float(get_config()["lock_timeout"]) * 1000))

        @event.listens_for(self.engine, "connect")
        def _settings(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                # a writer waits for another's lock as long as on SQLite, then fails
                cur.execute(f"SET lock_timeout = {wait_ms}")
                if read_only:
                    cur.execute("SET default_transaction_read_only = on")
            dbapi_conn.commit()

    def __repr__(self) -> str:
        return f"SARegistry({self.team.text!r})"

    # -- connections -----------------------------------------------------------------
    def close(self) -> None:
        """Close every pooled connection (the registry reconnects if used again)."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Database errors -> ``StoreError``; a lost server also says what to do."""
        import sqlalchemy as sa

        from mlops_nb.store._team import translated

        lost = False
        try:
            with translated(action, self.team):
                try:
                    yield
                except sa.exc.DBAPIError as err:
                    lost = _connection_lost(err)
                    raise
        except StoreError as err:
            if not lost:
                raise
            msg = (
                f"{err}. Check that the database server is running and reachable "
                "from here, then run the call again (broken connections are "
                "replaced by new ones)."
            )
            raise StoreError(msg) from None

    @contextlib.contextmanager
    def write(self) -> Iterator[TxConn]:
        """Open a write transaction; everything in the block commits together or not.

        Raises
        ------
        StoreError
            When the store is read-only, a write is already open in this thread, or
            the database refused or lost the transaction (nothing was changed; the
            driver's message, password scrubbed, is included).
        """
        import sqlalchemy as sa

        if self.read_only:
            msg = (
                f"the store {self.team.text} is open read-only ({self.read_only}): "
                "this action would change it, and nothing was changed."
            )
            raise StoreError(msg)
        if getattr(self._local, "tx", None) is not None:
            msg = "a write transaction is already open in this thread; finish it first."
            raise StoreError(msg)
        with self._translated("connect to"):
            conn = self.engine.connect()
        tx = TxConn(conn)
        self._local.tx = tx
        try:
            with self._translated("write to"):
                conn.begin()
            try:
                yield tx
            except BaseException as err:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    conn.rollback()
                if isinstance(err, sa.exc.SQLAlchemyError):
                    try:
                        with self._translated("write to"):
                            raise err from None
                    except StoreError as translated:
                        msg = f"{translated}; nothing was changed."
                        raise StoreError(msg) from None
                raise
            with self._translated("commit to"):
                conn.commit()
        finally:
            self._local.tx = None
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()

    def query(self, sql: Any, params: Any = ()) -> list[Row]:
        """Run a read-only statement and return all rows (see :func:`statement`).

        JSON columns in the result are checked as the embedded store checks them:
        a value that is not the JSON its readers expect raises ``IntegrityError``
        naming the table, row and column (inside :meth:`lenient_payloads` it is
        noted and read as ``null``).
        """
        stmt, bound = statement(sql, params)
        tx = getattr(self._local, "tx", None)
        with self._translated("read"):
            if tx is not None:
                rows = tx.execute(stmt, bound).fetchall()
            else:
                with self.engine.connect() as conn:
                    rows = Cursor(conn.execute(stmt, bound)).fetchall()
        return self._check_payloads(sql, rows) if isinstance(sql, str) else rows

    def _check_payloads(self, sql: str, rows: list[Row]) -> list[Row]:
        from mlops_nb.store._payloads import _KEYS, json_columns, problem

        columns = json_columns(sql)
        if not rows or not columns:
            return rows
        found = getattr(self._local, "found", None)
        out = []
        for row in rows:
            names = row.keys()
            bad = {c: problem(row[c], columns[c], c) for c in names if c in columns}
            bad = {c: why for c, why in bad.items() if why is not None}
            if not bad:
                out.append(row)
                continue
            where = ", ".join(f"{k}={row[k]!r}" for k in _KEYS if k in names)
            notes = [
                f"{columns[c]}.{c} in the row with {where} {w}" for c, w in bad.items()
            ]
            if found is None:
                msg = (
                    f"the registry's {notes[0]}: the database was changed outside "
                    "mlops_nb or is damaged. Restore it from a backup; verify() lists "
                    "every such row."
                )
                raise IntegrityError(msg)
            found.extend(notes)
            values = tuple("null" if c in bad else row[c] for c in names)
            out.append(Row({k: i for i, k in enumerate(names)}, values))
        return out

    @contextlib.contextmanager
    def lenient_payloads(self) -> Iterator[list[str]]:
        """Read bad JSON columns as ``null`` and list them, instead of raising."""
        outer = getattr(self._local, "found", None)
        self._local.found = found = []
        try:
            yield found
        finally:
            self._local.found = outer

    def schema_version(self) -> int:
        """Return the schema version (the hand-migration number, as in SQLite)."""
        return int(self.query("SELECT max(version) FROM schema_migrations")[0][0] or 0)

    # -- audit log -------------------------------------------------------------------
    @staticmethod
    def audit(
        conn: TxConn | sa.Connection, action: str, obj: str, **detail: Any
    ) -> None:
        """Append one entry to the audit log inside the caller's write transaction.

        On PostgreSQL the append waits for an advisory lock of the schema, so
        concurrent writers on any machine extend one chain.
        """
        append_audit(sa_conn(conn), action, obj, **detail)

    def audit_chain_problems(self) -> list[str]:
        """Return sentences naming audit entries whose hash chain is broken.

        A team store has no anchor file (there is no shared folder); its log is
        protected by the triggers and the app role's privileges instead
        (:func:`mlops_nb.store._pg_audit.grant_app_role`).
        """
        rows = self.query(
            'SELECT id, at, "user", action, object, detail, prev_hash, hash '
            "FROM audit_log ORDER BY id"
        )
        return chain_problems(rows)


def _connection_lost(err: Any) -> bool:
    """Whether a driver error means the server went away or cannot be reached."""
    import sqlalchemy as sa

    if getattr(err, "connection_invalidated", False):
        return True
    state = getattr(getattr(err, "orig", None), "sqlstate", None)
    if state is None:  # raised by the client: refused, reset, timed out
        return isinstance(err, (sa.exc.OperationalError, sa.exc.InterfaceError))
    return str(state).startswith(("08", "57P"))  # connection / server shut down


def next_version(
    conn: TxConn | sa.Connection, table: str, name: str, *, kind: str | None = None
) -> int:
    """Return the next version number of ``name`` in ``table``, inside a write.

    On PostgreSQL, a transaction-scoped advisory lock on ``(table, kind, name)``
    makes writers of the same name queue until the holder commits, so the number
    read is never taken by another machine; other names do not wait. The
    ``UNIQUE (name, version)`` constraint refuses a duplicate from any writer
    that skipped the lock.

    Parameters
    ----------
    conn : TxConn or sqlalchemy.Connection
        The connection of the current write transaction.
    table : str
        ``"asset_versions"``, ``"model_versions"`` or ``"documents"`` (which also
        needs ``kind``).
    name : str
    kind : str, optional
        The document kind, for ``documents``.
    """
    import sqlalchemy as sa

    from mlops_nb.store import _tables

    if table not in _VERSIONED or (table == "documents") != (kind is not None):
        msg = f"next_version: {table!r} is not a versioned table (or kind= is wrong)."
        raise StoreError(msg)
    t = getattr(_tables, table)
    c = sa_conn(conn)
    lock(c, table, kind or "", name)
    where = [t.c.name == name] + ([t.c.kind == kind] if kind is not None else [])
    top = c.execute(sa.select(sa.func.max(t.c.version)).where(*where)).scalar()
    return int(top or 0) + 1


def set_stage(
    conn: TxConn | sa.Connection, model_id: int, stage: str, reason: str, by: str
) -> list[tuple[int, str, str]]:
    """Move model version ``model_id`` to ``stage`` with one production per name.

    Every version of the model's name is locked (``SELECT ... FOR UPDATE``, in id
    order) before anything is read, so two machines promoting different versions
    queue, and the second sees (and archives) the first's production version.

    Returns
    -------
    list of (int, str, str)
        ``(model id, from stage, to stage)`` of every change made, in order; each
        is also written to ``model_stage_history``.
    """
    import sqlalchemy as sa

    from mlops_nb.store._db import now
    from mlops_nb.store._tables import model_stage_history, model_versions

    if stage not in _STAGES:
        msg = (
            f"stage {stage!r} is not one of {', '.join(_STAGES)}; nothing was changed."
        )
        raise StoreError(msg)
    c = sa_conn(conn)
    mv = model_versions
    name = c.execute(sa.select(mv.c.name).where(mv.c.id == model_id)).scalar()
    if name is None:
        msg = f"there is no model version with id {model_id}; nothing was changed."
        raise StoreError(msg)
    rows = c.execute(
        sa.select(mv.c.id, mv.c.version, mv.c.stage)
        .where(mv.c.name == name)
        .order_by(mv.c.id)
        .with_for_update()
    ).all()
    changes: list[tuple[int, str, str]] = []
    for row in rows:
        if stage == "production" and row.stage == "production" and row.id != model_id:
            changes.append((row.id, "production", "archived"))
        elif row.id == model_id and row.stage != stage:
            changes.append((row.id, row.stage, stage))
    current = {row.id: row.version for row in rows}
    for mid, frm, to in changes:
        c.execute(sa.update(mv).where(mv.c.id == mid).values(stage=to))
        why = reason if mid == model_id else f"replaced by v{current[model_id]}"
        c.execute(
            model_stage_history.insert().values(
                model_id=mid, from_stage=frm, to_stage=to, reason=why, at=now(), by=by
            )
        )
    return changes
