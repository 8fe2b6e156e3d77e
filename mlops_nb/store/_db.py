"""The SQLite metadata registry: migrations, write transactions, the audit log.

Write transactions begin with ``BEGIN IMMEDIATE`` so two kernels never both read a
version number and then both try to write it (the deferred-upgrade deadlock that
surfaces as ``database is locked``); a writer waits up to ``lock_timeout`` seconds
for another. The audit log is append-only (triggers refuse UPDATE and DELETE) and
hash-chained, so a removed or edited entry is visible; the chain's head and length are
anchored outside the database (``audit.head``, see :mod:`mlops_nb.store._anchor`), so
removing the newest entries, or rewriting the log and recomputing every hash, is
visible too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb._config import get_config
from mlops_nb.errors import StoreError
from mlops_nb.store._anchor import AuditAnchor, audit_state

if TYPE_CHECKING:
    from collections.abc import Iterator

_MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY,
        applied_at TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE artifacts (
        digest TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE asset_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        artifact TEXT NOT NULL REFERENCES artifacts(digest),
        n_rows INTEGER NOT NULL,
        n_cols INTEGER NOT NULL,
        schema TEXT NOT NULL,
        parents TEXT NOT NULL,
        operation TEXT NOT NULL,
        params TEXT NOT NULL,
        note TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (name, version),
        UNIQUE (name, content_hash)
    );
    CREATE INDEX asset_versions_name ON asset_versions(name);
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner_kind TEXT NOT NULL,
        owner_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (owner_kind, owner_id, kind)
    );
    """,
    # 2: versioned documents (value canvas, ...) and model versions with stages
    """
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        payload TEXT NOT NULL,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (kind, name, version),
        UNIQUE (kind, name, content_hash)
    );
    CREATE TABLE model_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        stage TEXT NOT NULL,
        flavor TEXT NOT NULL,
        artifacts TEXT NOT NULL,
        recipe TEXT NOT NULL,
        metrics TEXT NOT NULL,
        lineage TEXT NOT NULL,
        environment TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (name, version)
    );
    CREATE INDEX model_versions_name ON model_versions(name);
    CREATE TABLE model_stage_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id INTEGER NOT NULL REFERENCES model_versions(id),
        from_stage TEXT NOT NULL,
        to_stage TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        by TEXT NOT NULL
    );
    """,
    # 3: decision thresholds set on binary model versions (the newest row wins; the
    # version's files never change)
    """
    CREATE TABLE model_thresholds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id INTEGER NOT NULL REFERENCES model_versions(id),
        threshold REAL NOT NULL,
        positive_class TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        by TEXT NOT NULL
    );
    CREATE INDEX model_thresholds_model ON model_thresholds(model_id);
    """,
]

SCHEMA_VERSION = len(_MIGRATIONS)
_GENESIS = "0" * 64


def now() -> str:
    """Return the current UTC time as an ISO 8601 string with microseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class Registry:
    """One project's ``registry.sqlite``.

    Parameters
    ----------
    path : Path
        The database file; created with mode 0600 when missing.

    Attributes
    ----------
    read_only : str
        Empty when this process can write to the project; otherwise why it cannot
        (the folder or the database is not writable by this user, or is on a
        read-only filesystem). The database is then opened with ``mode=ro`` (and
        ``immutable=1`` when SQLite cannot create its ``-shm`` file there): reading
        works, and :meth:`write` raises a :class:`StoreError` saying so.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.anchor = AuditAnchor(self.path.parent)
        self._local = threading.local()
        self.read_only = _read_only_reason(self.path)
        self._uri = ""  # the read-only connection string, once one has opened
        try:
            self._migrate()
        except BaseException:
            self.close()  # a refused file gets no -wal/-shm left next to it
            raise

    # -- connections -----------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            timeout = get_config()["lock_timeout"]
            if self.read_only:
                conn = self._read_only_conn(timeout)
            else:
                try:
                    conn = sqlite3.connect(
                        self.path,
                        timeout=timeout,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                except sqlite3.Error as err:
                    msg = f"could not open the project database {self.path}: {err}"
                    raise StoreError(msg) from err
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                if not self.read_only:
                    conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as err:
                conn.close()
                msg = f"could not open the project database {self.path}: {err}"
                raise StoreError(msg) from err
            self._local.conn = conn
        return conn

    def _read_only_conn(self, timeout: float) -> sqlite3.Connection:
        """Open the database read-only: ``mode=ro``, else ``immutable=1`` if safe.

        A WAL database needs its ``-shm`` file; in a folder this user cannot write,
        SQLite cannot create it, so the file is opened as immutable, which is exact
        only when no ``-wal`` file holds changes not yet in the database.
        """
        from urllib.parse import quote

        base = "file:" + quote(str(self.path.absolute()))
        wal = self.path.with_name(self.path.name + "-wal")
        pending = wal.exists() and wal.stat().st_size > 0
        candidates = [self._uri] if self._uri else [f"{base}?mode=ro"]
        if not self._uri and not pending:
            candidates.append(f"{base}?mode=ro&immutable=1")
        error: sqlite3.Error | None = None
        for uri in candidates:
            conn = None
            try:
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as err:
                error = err
                if conn is not None:
                    conn.close()
                continue
            self._uri = uri
            return conn
        hint = (
            f" and {wal.name} holds changes not yet in the database; ask its owner to "
            "open the project once (that folds them in), then try again"
            if pending
            else ""
        )
        msg = (
            f"could not open the project database {self.path} read-only "
            f"({self.read_only}{hint}): {error}"
        )
        raise StoreError(msg)

    def _refuse_write(self) -> None:
        msg = (
            f"the project {self.path.parent} is open read-only ({self.read_only}): "
            "this action would change it, and nothing was changed. Open it as a user "
            "who can write to the folder, or work on a copy: "
            "proj.backup('<new folder>')."
        )
        raise StoreError(msg)

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Open a write transaction that begins with ``BEGIN IMMEDIATE``.

        Waits for other writers up to the configured ``lock_timeout``; everything in
        the block commits together or not at all.

        Raises
        ------
        StoreError
            When the project is open read-only, or the write failed.
        """
        if self.read_only:
            self._refuse_write()
        conn = self._conn()
        deadline = time.monotonic() + get_config()["lock_timeout"]
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.Error as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    msg = f"could not start a write: {err}"
                    raise StoreError(msg) from err
                if time.monotonic() > deadline:
                    msg = (
                        f"another process kept {self.path} locked for more than "
                        f"{get_config()['lock_timeout']:.0f} s; try again, or raise "
                        "set_config(lock_timeout=...)."
                    )
                    raise StoreError(msg) from err
                time.sleep(0.05)
        after = None
        try:
            before = audit_state(conn)
            yield conn
            after = audit_state(conn)
            if after == before:
                after = None
            else:  # the anchor names the new head before the commit makes it real
                try:
                    self.anchor.prepare(before, after)
                except OSError as err:
                    after = None
                    msg = (
                        f"could not write the audit anchor {self.anchor.path}: {err}; "
                        "nothing was changed."
                    )
                    raise StoreError(msg) from err
        except BaseException as err:
            if conn.in_transaction:  # SQLite ends it itself on some errors (full, I/O)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if after is not None:
                self.anchor.settle(after, committed=False)
            if isinstance(err, sqlite3.Error):
                msg = f"could not write to {self.path}: {err}; nothing was changed."
                raise StoreError(msg) from err
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as err:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if after is not None:
                    self.anchor.settle(after, committed=False)
                msg = f"could not commit to {self.path}: {err}"
                raise StoreError(msg) from err
            if after is not None:
                self.anchor.settle(after, committed=True)

    def query(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        """Run a read-only query and return all rows.

        JSON columns in the result are checked (:mod:`mlops_nb.store._payloads`): a
        value that is not the JSON its readers expect raises ``IntegrityError``
        naming the table, row and column (inside :meth:`lenient_payloads`, it is
        noted and read as ``null`` instead).
        """
        from mlops_nb.store._payloads import check_rows, json_columns

        try:
            cursor = self._conn().execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.DatabaseError as err:
            msg = f"could not read {self.path}: {err}"
            raise StoreError(msg) from err
        columns = json_columns(sql)
        if not columns:
            return rows
        found = getattr(self._local, "found", None)
        return check_rows(cursor, rows, columns, found=found, params=params)

    @contextlib.contextmanager
    def lenient_payloads(self) -> Iterator[list[str]]:
        """Read bad JSON columns as ``null`` and list them, instead of raising.

        For ``verify()``, which reports every problem rather than stopping at one.
        """
        outer = getattr(self._local, "found", None)
        self._local.found = found = []
        try:
            yield found
        finally:
            self._local.found = outer

    # -- schema ----------------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self._conn()
        if self.read_only:
            self._check_read_only(conn)
            return
        deadline = time.monotonic() + get_config()["lock_timeout"]
        while True:
            try:
                current, mode = self._check_and_use_wal(conn)
                break
            except sqlite3.OperationalError as err:
                # switching a new database to WAL while another process does the same
                # fails with "database is locked" without waiting: retry until the
                # deadline, like write() does
                locked = "locked" in str(err) or "busy" in str(err)
                if locked and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                msg = f"{self.path} is not an mlops_nb registry database: {err}"
                raise StoreError(msg) from err
            except sqlite3.DatabaseError as err:
                msg = f"{self.path} is not an mlops_nb registry database: {err}"
                raise StoreError(msg) from err
        if str(mode).lower() != "wal":
            msg = (
                f"{self.path}: this filesystem does not support SQLite's WAL mode "
                f"(got {mode!r}); put the project on a local disk."
            )
            raise StoreError(msg)
        if current == SCHEMA_VERSION:
            return
        with self.write() as w:
            # Re-read inside the lock: another process may have migrated meanwhile.
            current = w.execute("PRAGMA user_version").fetchone()[0]
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _split_sql(_MIGRATIONS[version - 1]):
                    w.execute(statement)
                w.execute(
                    "INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)",
                    (version, now()),
                )
                w.execute(f"PRAGMA user_version = {version}")

    def _check_read_only(self, conn: sqlite3.Connection) -> None:
        """Refuse a read-only open unless the schema is current (it changes nothing)."""
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as err:
            msg = f"{self.path} is not an mlops_nb registry database: {err}"
            raise StoreError(msg) from err
        if current == SCHEMA_VERSION:
            return
        if current == 0 and not tables:
            msg = (
                f"{self.path} is empty and the project is read-only "
                f"({self.read_only}); it cannot be initialised."
            )
        elif current == 0 or current > SCHEMA_VERSION:
            msg = (
                f"{self.path} is not a registry this mlops_nb can read (schema "
                f"{current}, this version knows {SCHEMA_VERSION}); upgrade mlops_nb "
                "to open it."
            )
        else:
            msg = (
                f"{self.path} has schema {current} and needs an upgrade to "
                f"{SCHEMA_VERSION}, but the project is read-only ({self.read_only}); "
                "open it once as a user who can write to it."
            )
        raise StoreError(msg)

    def _check_and_use_wal(self, conn: sqlite3.Connection) -> tuple[int, str]:
        """Refuse a file that is not ours (leaving it untouched), then switch to WAL."""
        current, tables = conn.execute(  # one statement: one consistent snapshot
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "(SELECT COUNT(*) FROM sqlite_master)"
        ).fetchone()
        if current > SCHEMA_VERSION:
            msg = (
                f"{self.path} was written by a newer mlops_nb (schema {current}, this "
                f"version knows {SCHEMA_VERSION}); upgrade mlops_nb to open it."
            )
            raise StoreError(msg)
        if current == 0 and tables:
            msg = (
                f"{self.path} is not an mlops_nb registry: it is an SQLite database "
                "with other tables; nothing was changed."
            )
            raise StoreError(msg)
        return current, conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]

    def backup_to(self, target: sqlite3.Connection, folder: Path) -> None:
        """Copy the database into ``target`` and anchor the copy's audit log.

        The anchor is held during the copy, so the snapshot is at a head it names.
        """
        # a read-only project cannot hold the anchor's lock file (nor can it write)
        hold = contextlib.nullcontext() if self.read_only else self.anchor.locked()
        with hold:
            self._conn().backup(target)
            try:
                anchor: Any = self.anchor.read()
            except ValueError as err:
                anchor = err
        self.anchor.copy_to(folder, audit_state(target), anchor)

    def schema_version(self) -> int:
        """Return the schema version of the open database."""
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- audit log -------------------------------------------------------------------
    @staticmethod
    def audit(conn: sqlite3.Connection, action: str, obj: str, **detail: Any) -> None:
        """Append one entry to the audit log inside the caller's write transaction."""
        row = conn.execute(
            "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"
        ).fetchone()
        prev = row[0] if row else _GENESIS
        entry = {
            "at": now(),
            "user": get_config()["user"],
            "action": action,
            "object": obj,
            "detail": json.dumps(detail, sort_keys=True, default=str),
        }
        digest = _chain_hash(prev, entry)
        conn.execute(
            "INSERT INTO audit_log(at, user, action, object, detail, prev_hash, hash) "
            "VALUES (:at, :user, :action, :object, :detail, :prev, :hash)",
            {**entry, "prev": prev, "hash": digest},
        )

    def audit_chain_problems(self) -> list[str]:
        """Return sentences naming audit entries whose hash chain is broken.

        Besides each entry that does not chain to the one before, the log as a whole
        is checked against its anchor (``audit.head``, outside the database): removed
        newest entries, a rewritten log and entries added outside mlops_nb are named.
        """
        problems = []
        prev = _GENESIS
        rows = self.query("SELECT * FROM audit_log ORDER BY id")
        for row in rows:
            entry = {k: row[k] for k in ("at", "user", "action", "object", "detail")}
            if row["prev_hash"] != prev or row["hash"] != _chain_hash(prev, entry):
                problems.append(
                    f"audit log entry {row['id']} does not chain to the one before"
                )
            prev = row["hash"]
        state = {
            "count": len(rows),
            "last_id": int(rows[-1]["id"]) if rows else 0,
            "head": rows[-1]["hash"] if rows else None,
        }
        chain = [{"id": r["id"], "hash": r["hash"]} for r in rows]
        return problems + self.anchor.problems(state, chain)


def _read_only_reason(path: Path) -> str:
    """Why this process cannot write the database at ``path`` ("" when it can)."""
    import errno
    import os

    folder = path.parent
    if not path.exists():
        return ""  # a new project: creating it reports its own errors
    try:
        os.close(os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0)))
    except OSError as err:
        if err.errno == errno.EROFS:
            return f"{folder} is on a read-only filesystem"
        if err.errno in (errno.EACCES, errno.EPERM):
            return f"{path.name} is not writable by this user"
        return ""  # a link or another problem: the normal open reports it
    if not os.access(folder, os.W_OK | os.X_OK):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only filesystem"
        return f"the folder {folder} is not writable by this user"
    return ""


def _chain_hash(prev: str, entry: dict[str, str]) -> str:
    payload = json.dumps([prev, entry], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    if "\n".join(buf).strip():
        statements.append("\n".join(buf))
    return statements
