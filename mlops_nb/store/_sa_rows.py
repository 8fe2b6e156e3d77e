"""Rows, cursors and statements of the SQLAlchemy registry, shaped like ``sqlite3``'s.

The store's query functions were written for ``sqlite3``: ``conn.execute(sql,
params)`` with ``?`` placeholders, rows read as ``row[0]``, ``row["name"]`` or
``dict(row)``. :func:`statement` turns such a statement into a SQLAlchemy ``text()``
(quoted text left alone: a ``?`` or ``:`` inside a literal is not a placeholder),
:class:`TxConn` runs it in a write transaction and :class:`Row` reads like
``sqlite3.Row``, so the same functions run on PostgreSQL.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import sqlalchemy as sa

# a quoted literal or identifier (skipped), or a ``?`` placeholder
_QMARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


class Row:
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Any, ...]):
        self._index = index
        self._values = values

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                msg = f"no column named {key!r}"
                raise IndexError(msg) from None
        return self._values[key]

    def keys(self) -> list[str]:
        """Return the column names, in order."""
        return list(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._values == other._values and self.keys() == other.keys()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def statement(
    sql: Any, params: Sequence[Any] | dict[str, Any] | None = ()
) -> tuple[Any, dict[str, Any]]:
    """Return ``(executable, named parameters)`` for ``sql`` as sqlite3 would take it.

    ``?`` placeholders (outside quoted text) become ``:_p0``, ``:_p1``, ... bound
    from the sequence ``params``; ``:name`` placeholders take a dict. SQLAlchemy
    Core statements and ``text()`` clauses pass through.
    """
    import sqlalchemy as sa

    params = {} if params is None else params
    if not isinstance(sql, str):
        return sql, dict(params) if isinstance(params, dict) else {}
    named = isinstance(params, dict)
    values = [] if named else list(params)
    count = 0

    def mark(match: re.Match[str]) -> str:
        nonlocal count
        token = match.group(0)
        if token != "?":  # quoted text: a ":" there is not a placeholder
            return token.replace(":", "\\:")
        if named:
            return token
        count += 1
        return f":_p{count - 1}"

    text = _QMARK.sub(mark, sql)
    if named:
        return sa.text(text), params
    if count != len(values):
        msg = f"the statement has {count} '?' placeholders but {len(values)} values"
        raise StoreError(msg)
    return sa.text(text), {f"_p{i}": v for i, v in enumerate(values)}


class Cursor:
    """What :meth:`TxConn.execute` returns: ``fetchone``, ``fetchall``, ``rowcount``."""

    def __init__(self, result: sa.CursorResult[Any]):
        self.rowcount = result.rowcount
        self._rows: list[Row] = []
        if result.returns_rows:
            index = {k: i for i, k in enumerate(result.keys())}
            self._rows = [Row(index, tuple(r)) for r in result]
        self._at = 0

    def fetchone(self) -> Row | None:
        """Return the next row, or ``None``."""
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[Row]:
        """Return every remaining row."""
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows

    def scalar(self) -> Any:
        """Return the next row's first column (``None`` when there is none)."""
        row = self.fetchone()
        return None if row is None else row[0]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class TxConn:
    """The connection of one write transaction; ``execute`` as in ``sqlite3``.

    Attributes
    ----------
    sa : sqlalchemy.Connection
        The underlying connection, for Core statements and :func:`next_version`.
    """

    def __init__(self, conn: sa.Connection):
        self.sa = conn

    @property
    def dialect(self) -> Any:
        """The SQLAlchemy dialect (``.name`` is ``"postgresql"`` or ``"sqlite"``)."""
        return self.sa.dialect

    def execute(self, sql: Any, params: Any = ()) -> Cursor:
        """Run one statement in the transaction; see :func:`statement`."""
        stmt, bound = statement(sql, params)
        return Cursor(self.sa.execute(stmt, bound))


def sa_conn(conn: TxConn | sa.Connection) -> sa.Connection:
    return conn.sa if isinstance(conn, TxConn) else conn
