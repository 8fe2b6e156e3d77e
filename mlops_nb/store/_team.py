"""Team stores: connection URLs, engines and the schema check of a shared database.

A team project's metadata lives in PostgreSQL (``postgresql://user@host/db?schema=x``,
one schema per project, so several projects and an MLflow server can share one
database); the embedded store's SQLite file works through the same code
(``sqlite:///path/registry.sqlite``). Engines are small (a notebook needs one or two
connections: ``pool_size=2``) and ping a pooled connection before use, so a restarted
server costs a reconnect, not an error.

The schema is made and upgraded only by ``mlops-nb db upgrade URL``
(:mod:`mlops_nb.store._migrate`); a kernel calls :func:`check_schema` and refuses a
database that is behind or ahead of this mlops_nb instead of migrating it.

SQLAlchemy is imported inside the functions: ``import mlops_nb`` stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import MissingDependencyError, StoreError
from mlops_nb.store._urls import mask_url, scrub

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa

#: Alembic's version table: its own name, so it can share a server with MLflow's.
VERSION_TABLE = "mlops_nb_alembic_version"
#: The schema used when a PostgreSQL URL names none.
DEFAULT_SCHEMA = "mlops_nb"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_BACKENDS = ("postgresql", "sqlite")


@dataclass(frozen=True)
class TeamURL:
    """A parsed store URL: the SQLAlchemy URL without ``?schema=`` and the schema.

    Attributes
    ----------
    url : sqlalchemy.engine.URL
        What the engine connects to (PostgreSQL through psycopg 3).
    schema : str or None
        The PostgreSQL schema holding the project's tables; None for SQLite.
    text : str
        The URL as given, masked (safe to print).
    """

    url: sa.URL
    schema: str | None
    text: str

    @property
    def backend(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return str(self.url.get_backend_name())

    def __repr__(self) -> str:
        return f"TeamURL({self.text!r})"

    __str__ = __repr__


def parse_url(text: str) -> TeamURL:
    """Parse a store URL, refusing what mlops_nb cannot use.

    Parameters
    ----------
    text : str
        ``postgresql://user[:password]@host[:port]/db[?schema=name]`` or
        ``sqlite:///path/to/registry.sqlite``. The schema is lower-case letters,
        digits and ``_`` (default ``mlops_nb``).

    Returns
    -------
    TeamURL

    Raises
    ------
    StoreError
        A text that is not such a URL, another database, or a bad schema name; the
        message shows the URL with its password masked.
    """
    import sqlalchemy as sa

    shown = mask_url(text)
    try:
        url = sa.make_url(str(text))
    except (sa.exc.ArgumentError, ValueError, TypeError):
        msg = (
            f"{shown!r} is not a database URL: use "
            "postgresql://user@host/db?schema=name or sqlite:///path/registry.sqlite."
        )
        raise StoreError(msg) from None  # the cause would quote the password
    if url.password is not None:  # as parsed: a password in any spelling is hidden
        shown = mask_url(url)
    backend = url.get_backend_name()
    if backend not in _BACKENDS:
        msg = (
            f"{shown}: mlops_nb stores metadata in PostgreSQL or SQLite, not "
            f"{backend!r}; use postgresql://... or sqlite:///...."
        )
        raise StoreError(msg)
    query = dict(url.query)
    schema = query.pop("schema", None)
    if isinstance(schema, tuple):
        msg = f"{shown}: give ?schema= once."
        raise StoreError(msg)
    if backend == "sqlite":
        if schema is not None:
            msg = f"{shown}: an SQLite store has no schemas; remove ?schema=."
            raise StoreError(msg)
        return TeamURL(url, None, shown)
    schema = DEFAULT_SCHEMA if schema is None else schema
    if not _SCHEMA.match(schema):
        msg = (
            f"{shown}: schema {schema!r} is not a plain lower-case name; use letters "
            "a-z, digits and '_', not starting with a digit, at most 63 characters."
        )
        raise StoreError(msg)
    if url.drivername == "postgresql":  # psycopg 3, not SQLAlchemy's psycopg2 default
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername != "postgresql+psycopg":
        msg = f"{shown}: use the psycopg (3) driver: postgresql:// or postgresql+psycopg://."
        raise StoreError(msg)
    return TeamURL(url.set(query=query), schema, shown)


def make_engine(team: TeamURL, *, pooled: bool = True) -> sa.Engine:
    """Create the engine of a store: small pool, pings, the project's schema.

    Parameters
    ----------
    team : TeamURL
        From :func:`parse_url`.
    pooled : bool, default True
        False gives a ``NullPool`` (one connection per use): for the CLI and
        migrations, which must leave no idle connection behind.

    Returns
    -------
    sqlalchemy.Engine
        On PostgreSQL every connection's ``search_path`` is the project's schema; on
        SQLite a transaction begins with ``BEGIN IMMEDIATE`` (one writer at a time,
        DDL included) and waits for the configured ``lock_timeout``.
    """
    import sqlalchemy as sa

    from mlops_nb._config import get_config

    timeout = float(get_config()["lock_timeout"])
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if not pooled:
        kwargs["poolclass"] = sa.pool.NullPool
    if team.backend == "postgresql":
        kwargs["connect_args"] = {
            "options": f"-c search_path={team.schema}",
            "connect_timeout": max(1, int(timeout)),
            "application_name": "mlops_nb",
        }
        if pooled:
            kwargs.update(pool_size=2, max_overflow=2, pool_recycle=1800)
    else:
        kwargs["connect_args"] = {"timeout": timeout}
    try:
        engine = sa.create_engine(team.url, **kwargs)
    except ImportError as err:
        msg = (
            f"{team.text} needs the PostgreSQL driver psycopg 3: "
            "pip install 'mlops-nb[team]'."
        )
        raise MissingDependencyError(msg) from err
    if team.backend == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: sa.Engine) -> None:
    """Make SQLite transactions real (DDL included) and exclusive for writers."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver's own BEGIN skips DDL
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def lock_key(schema: str | None) -> int:
    """Return the advisory lock key (signed 64-bit) guarding one schema's migrations."""
    digest = hashlib.sha256(f"mlops_nb migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def translated(action: str, team: TeamURL | str) -> Iterator[None]:
    """Turn a database error inside the block into a :class:`StoreError`.

    The message names ``action`` and the masked URL; the driver's text is scrubbed of
    the password in every spelling. The original exception is not chained (its text
    and arguments could hold the URL).
    """
    import sqlalchemy as sa

    text = team.text if isinstance(team, TeamURL) else mask_url(team)
    raw = team.url if isinstance(team, TeamURL) else team
    try:
        yield
    except sa.exc.SQLAlchemyError as err:
        detail = scrub(str(getattr(err, "orig", None) or err), raw).strip()
        detail = detail.splitlines()[0] if detail else type(err).__name__
        msg = f"could not {action} {text}: {detail}"
        raise StoreError(msg) from None


def check_schema(
    team: TeamURL, engine: sa.Engine | None = None, *, hold: bool = True
) -> str:
    """Return the database's revision if this mlops_nb can use it, else raise.

    A kernel calls this when it opens a team store; it never migrates. The common
    case (a database at this mlops_nb's revision) is one ``SELECT`` of the version
    table; anything else (no table, another revision) goes through Alembic's full
    check, which names the state and the command that fixes it.

    Parameters
    ----------
    team : TeamURL
        The store.
    engine : sqlalchemy.Engine, optional
        The engine to check through (default: a new one, disposed after).
    hold : bool, default True
        With ``False`` the connection the check used is closed rather than given
        back to ``engine``'s pool (an opened registry then holds no connection,
        while its engine stays initialised).

    Raises
    ------
    StoreError
        When the database is empty or behind (``mlops-nb db upgrade URL`` fixes it),
        or was upgraded by a newer mlops_nb.
    """
    from mlops_nb.store._migrate import current, head_revision

    if _stamped(team, engine, hold=hold) == head_revision():
        return head_revision()
    state = current(team, engine=engine)
    if state["state"] == "current":
        return str(state["revision"])
    if state["state"] == "ahead":
        raise StoreError(newer_message(str(state["revision"])))
    what = (
        "has no mlops_nb tables"
        if state["state"] == "empty"
        else (
            f"is at revision {state['revision']}, this mlops_nb needs {state['head']}"
        )
    )
    msg = (
        f"{team.text} {what}. Upgrade it explicitly, once, from a shell: "
        f"mlops-nb db upgrade '{team.text}' (a kernel never migrates a shared "
        "database)."
    )
    raise StoreError(msg)


def _stamped(team: TeamURL, engine: sa.Engine | None, *, hold: bool) -> str | None:
    """Return the one revision in the version table, or ``None`` when it cannot tell.

    ``None`` (no table, no row, several rows, a failed query) sends the caller to
    Alembic's full check, which also turns a lost server into a ``StoreError``.
    """
    import sqlalchemy as sa

    table = f'"{team.schema}".{VERSION_TABLE}' if team.schema else VERSION_TABLE
    own = engine is None
    engine = make_engine(team, pooled=False) if own else engine
    try:
        with translated("read the schema revision of", team), engine.connect() as conn:
            try:
                rows = conn.exec_driver_sql(f"SELECT version_num FROM {table}").all()
            except sa.exc.DBAPIError:
                rows = []
            finally:
                if not hold:
                    conn.invalidate()  # closed now, not pooled
    finally:
        if own:
            engine.dispose()
    return str(rows[0][0]) if len(rows) == 1 else None


def newer_message(revision: str) -> str:
    """Return the one sentence for a database that a newer mlops_nb has upgraded."""
    return (
        f"this database was upgraded by a newer mlops_nb (revision {revision}); "
        "upgrade mlops_nb (pip install -U mlops-nb) to use it."
    )
