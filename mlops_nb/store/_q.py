"""Shared helpers of the store's query modules (``_q_*.py``).

Every SQL statement of mlops_nb lives in ``mlops_nb/store/``: the rest of the package
calls named functions (``next_asset_version(conn, name)``, ``latest_threshold(store,
model_id)``, ...) and gets plain dicts, lists and numbers back, never a driver's row
type, so the same functions can later run on another database.

Conventions of the ``_q_*`` modules, chosen so the statements port to PostgreSQL:

- reads take the ``store`` (anything with ``query(sql, params)``, which also checks
  the JSON columns a statement returns); statements inside a write transaction take
  the ``conn`` the caller opened with ``store.write()``, so transaction boundaries
  stay where the caller put them;
- standard SQL only: ``ON CONFLICT DO NOTHING`` (not ``INSERT OR IGNORE``), no
  ``ORDER BY`` on a column a ``SELECT DISTINCT`` does not return, the column names
  ``user``, ``by`` and ``schema`` (reserved words in PostgreSQL) double-quoted;
- values are always bound parameters; statement text is fixed (column lists come from
  constants of these modules, never from callers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Return each row as a plain dict (column name -> value)."""
    return [dict(r) for r in rows]


def first(rows: list[Any]) -> dict[str, Any] | None:
    """Return the first row as a dict, or ``None`` when there is none."""
    return dict(rows[0]) if rows else None


def one(row: Any) -> dict[str, Any] | None:
    """Return a fetched row (or ``None``) as a dict."""
    return None if row is None else dict(row)


def column(rows: Iterable[Any]) -> list[Any]:
    """Return the first column of every row."""
    return [r[0] for r in rows]


def values_of(
    table: str, columns: tuple[str, ...], row: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Return the values of ``row`` in the order of ``columns``.

    Raises
    ------
    StoreError
        When ``row`` lacks a column or has one the table does not have; nothing is
        written.
    """
    if set(row) != set(columns):
        from mlops_nb.errors import StoreError

        extra = sorted(set(row) - set(columns))
        missing = sorted(set(columns) - set(row))
        msg = (
            f"a new {table} row must have exactly the columns {list(columns)}; "
            f"unknown: {extra}, missing: {missing}. Nothing was written."
        )
        raise StoreError(msg)
    return tuple(row[c] for c in columns)


def on_postgresql(conn: Any) -> bool:
    """Whether ``conn`` is a team store's write connection on PostgreSQL.

    Read-then-write helpers lock there (advisory locks, ``SELECT ... FOR UPDATE``,
    :mod:`mlops_nb.store._sa_registry`); on SQLite ``BEGIN IMMEDIATE`` already
    serialises writers, and ``sqlite3`` connections have no ``dialect``.
    """
    return getattr(getattr(conn, "dialect", None), "name", "") == "postgresql"
