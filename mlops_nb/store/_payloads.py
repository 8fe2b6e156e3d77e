"""JSON stored in the registry's columns: checked as it is read.

Whoever can write ``registry.sqlite`` can put anything in a JSON column: text that
is not JSON, 200 000 nested brackets (``json.loads`` raises ``RecursionError``), a
number where an object belongs, a string where a list of data versions belongs. The
code that reads these columns would then fail with a bare ``RecursionError``,
``TypeError`` or ``KeyError`` far from the cause. :func:`check_rows` decodes every
JSON column a query returns, bounds its nesting, checks the shape its readers rely
on, and raises :class:`~mlops_nb.errors.IntegrityError` naming the table, the row
and the column. :func:`scan` does the same over whole tables for ``verify()``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from mlops_nb.errors import IntegrityError

MAX_DEPTH = 64  # far above any payload mlops_nb writes (a plotly figure is ~8 deep)

# table -> column -> (top-level type(s), {key: type(s)} the readers index)
_OBJ = (dict,)
_ANY = (dict, list)
COLUMNS: dict[str, dict[str, tuple[tuple[type, ...], dict[str, Any]]]] = {
    "asset_versions": {
        "schema": (_OBJ, {"columns": list}),
        "parents": ((list,), {}),
        "params": (_OBJ, {}),
    },
    "model_versions": {
        "artifacts": (_OBJ, {}),
        "recipe": (_OBJ, {"estimator": str, "task": str}),
        "metrics": (_OBJ, {}),
        "lineage": (_OBJ, {"data": list}),
        "environment": (_OBJ, {}),
    },
    "reports": {"payload": (_ANY, {})},
    "documents": {"payload": (_ANY, {})},
    "audit_log": {"detail": (_OBJ, {})},
}
_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)", re.IGNORECASE)
_KEYS = ("id", "name", "version", "kind", "owner_kind", "owner_id")


def json_columns(sql: str) -> dict[str, str]:
    """Map each JSON column of the tables ``sql`` reads to its table."""
    out: dict[str, str] = {}
    for table in _TABLES.findall(sql):
        for column in COLUMNS.get(table, {}):
            out.setdefault(column, table)
    return out


def problem(value: Any, table: str, column: str) -> str | None:
    """Return why ``value`` (a stored column) is not what its readers expect."""
    if not isinstance(value, str):
        return f"holds {type(value).__name__}, not JSON text"
    try:
        decoded = json.loads(value)
    except RecursionError:
        return f"is nested more than {MAX_DEPTH} levels deep"
    except ValueError as err:
        return f"is not valid JSON ({err})"
    kinds, keys = COLUMNS[table][column]
    if not isinstance(decoded, kinds):
        want = " or ".join("an object" if k is dict else "a list" for k in kinds)
        return f"holds {_name(decoded)}, not {want}"
    if _too_deep(decoded):
        return f"is nested more than {MAX_DEPTH} levels deep"
    for key, kind in keys.items():
        if key not in decoded:
            return f"lacks the key {key!r}"
        if not isinstance(decoded[key], kind):
            return f"has {key!r} as {_name(decoded[key])}, not {_name(kind())}"
    if column == "parents" and not all(_is_parent(p) for p in decoded):
        return "is not a list of [asset name, version] pairs"
    if column == "lineage" and not all(isinstance(d, dict) for d in decoded["data"]):
        return "has 'data' entries that are not objects"
    if column == "schema":
        return _schema_problem(decoded)
    return None


def _schema_problem(schema: dict[str, Any]) -> str | None:
    import dataclasses

    from mlops_nb.data._schema import ColumnSpec

    fields = {f.name for f in dataclasses.fields(ColumnSpec)}
    needed = {
        f.name
        for f in dataclasses.fields(ColumnSpec)
        if f.default is dataclasses.MISSING
    }
    for spec in schema["columns"]:
        if not isinstance(spec, dict) or not needed <= set(spec) <= fields:
            return f"has a column entry that is not an object of {sorted(fields)}"
        if not all(isinstance(v, str) for v in spec.values()):
            return "has a column entry whose values are not all text"
    for key in ("target", "time", "id", "task"):
        if not isinstance(schema.get(key), (str, type(None))):
            return f"has {key!r} as {_name(schema[key])}, not a string"
    if not isinstance(schema.get("sensitive"), (list, type(None))):
        return f"has 'sensitive' as {_name(schema['sensitive'])}, not a list"
    return None


def check_rows(
    cursor: sqlite3.Cursor,
    rows: list[sqlite3.Row],
    columns: dict[str, str],
    *,
    found: list[str] | None = None,
    params: Any = (),
) -> list[sqlite3.Row]:
    """Check the JSON columns of ``rows``; raise, or (``found``) neutralise and note.

    With ``found`` given (``verify()``), a bad value is replaced by JSON ``null``
    so checks that read the row do not crash, and a sentence is appended to it.
    """
    if not rows:
        return rows
    names = [d[0] for d in cursor.description]
    present = {i: n for i, n in enumerate(names) if n in columns}
    if not present:
        return rows
    out = []
    for row in rows:
        bad = {}
        for i, column in present.items():
            why = problem(row[i], columns[column], column)
            if why is not None:
                bad[i] = why
        if not bad:
            out.append(row)
            continue
        i, why = next(iter(bad.items()))
        table, column = columns[present[i]], present[i]
        where = ", ".join(f"{k}={row[k]!r}" for k in _KEYS if k in names)
        if not where:  # the query did not select a key: name the row by its filter
            values = params.values() if isinstance(params, dict) else params
            where = "the key " + ", ".join(repr(v) for v in values)
        msg = (
            f"the registry's {table}.{column} in the row with {where} {why}: the "
            "database was changed outside mlops_nb or is damaged. Restore the "
            "project from a backup; proj.verify() lists every such row."
        )
        if found is None:
            raise IntegrityError(msg)
        found.extend(
            f"{table}.{present[j]} in the row with {where} {w}" for j, w in bad.items()
        )
        values = ["null" if j in bad else v for j, v in enumerate(tuple(row))]
        out.append(sqlite3.Row(cursor, tuple(values)))
    return out


def scan(conn: sqlite3.Connection) -> dict[str, str]:
    """Check every JSON column of the registry: ``"<table> row <id>"`` -> problem."""
    out: dict[str, str] = {}
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    for table, columns in COLUMNS.items():
        if table not in have:
            continue
        cols = ", ".join(columns)
        for row in conn.execute(f"SELECT id, {cols} FROM {table}"):
            for i, column in enumerate(columns, start=1):
                why = problem(row[i], table, column)
                if why is not None:
                    key = f"{table} row {row[0]}"
                    text = f"{column} {why}"
                    out[key] = f"{out[key]}; {text}" if key in out else text
    return out


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _is_parent(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def _name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "null" if value is None else f"a {type(value).__name__}"
