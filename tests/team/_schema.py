"""Describe a database's schema through ``sqlalchemy.inspect``, for comparisons."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from mlops_nb.store._team import VERSION_TABLE


def _type(column: dict[str, Any]) -> str:
    return re.sub(r"\s+", " ", str(column["type"]).upper())


def describe(conn: sa.Connection, schema: str | None = None) -> dict[str, Any]:
    """Tables -> columns (name, type, nullable), primary key, uniques, indexes, FKs.

    Primary-key columns compare as NOT NULL: SQLite lets a TEXT primary key hold NULL
    when the DDL does not say NOT NULL (the hand migrations do not; Alembic does).
    """
    insp = sa.inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names(schema=schema)):
        if table == VERSION_TABLE:
            continue
        pk = insp.get_pk_constraint(table, schema=schema)["constrained_columns"]
        out[table] = {
            "columns": [
                (c["name"], _type(c), bool(c["nullable"]) and c["name"] not in pk)
                for c in insp.get_columns(table, schema=schema)
            ],
            "primary_key": list(pk),
            "uniques": sorted(
                tuple(u["column_names"])
                for u in insp.get_unique_constraints(table, schema=schema)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table, schema=schema)
            ),
            "foreign_keys": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                )
                for f in insp.get_foreign_keys(table, schema=schema)
            ),
        }
    return out


def sqlite_extras(conn: sa.Connection) -> dict[str, Any]:
    """What inspect does not show on SQLite: triggers (their SQL), AUTOINCREMENT."""
    rows = conn.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type IN ('trigger', 'table') ORDER BY name"
    ).fetchall()
    triggers = {
        name: (table, " ".join(sql.split()).rstrip(";"))
        for kind, name, table, sql in rows
        if kind == "trigger"
    }
    autoincrement = sorted(
        name
        for kind, name, _, sql in rows
        if kind == "table" and "AUTOINCREMENT" in sql
    )
    return {"triggers": triggers, "autoincrement": autoincrement}
