"""Upgraded PostgreSQL schemas handed to tests empty, and reused (the team fixtures).

Making a team project for a test means a fresh schema upgraded with Alembic: half a
second of DDL on an idle machine, several on a busy one. :class:`SchemaPool` upgrades
a schema only when it has none free; a schema a test is done with is emptied and
handed to the next test:

- its catalog (tables, columns, defaults, constraints, indexes, triggers and whether
  they are enabled, functions, policies, privileges, the schema's own privileges and
  the rows the upgrade itself wrote, such as the Alembic revision) must be exactly as
  it was right after the upgrade, or the schema is dropped instead: a test that
  altered, tampered with or downgraded it never leaks into another test;
- every other table is emptied with ``TRUNCATE ... RESTART IDENTITY``, so the next
  test sees no row and its ids start at 1 again. The product's audit log refuses
  TRUNCATE with a trigger; only this fixture, connected as a superuser, bypasses it
  for its own transaction (``SET LOCAL session_replication_role = replica``). The
  trigger stays in place and every test meets it.

On a server where the fixture's user is not a superuser, nothing is reused: each
schema is dropped after its test, as before.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

#: the catalog of one schema, as rows of text (see :meth:`SchemaPool._catalog`)
_CATALOG = (
    # relations: kind, row security, privileges
    """SELECT 'rel', c.relname, c.relkind::text, c.relrowsecurity::text,
              c.relforcerowsecurity::text, coalesce(c.relacl::text, '')
         FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    # columns with their types, nullability and defaults
    """SELECT 'col', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = CAST(:s AS regnamespace)
          AND a.attnum > 0 AND NOT a.attisdropped""",
    """SELECT 'con', c.relname, k.conname, pg_get_constraintdef(k.oid), '', ''
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    """SELECT 'idx', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
              '', '', ''
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    """SELECT 'trg', c.relname, t.tgname, t.tgenabled::text,
              pg_get_triggerdef(t.oid), ''
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND NOT t.tgisinternal""",
    """SELECT 'fn', p.proname, md5(p.prosrc), coalesce(p.proacl::text, ''),
              p.prosecdef::text, ''
         FROM pg_proc p WHERE p.pronamespace = CAST(:s AS regnamespace)""",
    """SELECT 'pol', c.relname, p.polname, coalesce(pg_get_expr(p.polqual,
              p.polrelid), ''), p.polcmd::text, ''
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)""",
    """SELECT 'nsp', n.nspname, n.nspowner::regrole::text,
              coalesce(n.nspacl::text, ''), '', ''
         FROM pg_namespace n WHERE n.nspname = :s""",
)


class SchemaPool:
    """Empty, upgraded schemas of one PostgreSQL server, reused between tests.

    Parameters
    ----------
    server : str
        A SQLAlchemy URL of the server (no ``?schema=``).
    """

    def __init__(self, server: str) -> None:
        import sqlalchemy as sa

        self.server = server
        self._engine = sa.create_engine(server, poolclass=sa.pool.NullPool)
        self._free: list[str] = []
        self._expected: dict[str, tuple[list[tuple[str, ...]], list[str]]] = {}
        self.created = self.reused = self.dropped = 0
        with self._engine.connect() as conn:
            self._superuser = bool(
                conn.exec_driver_sql(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                ).scalar()
            )

    def url(self, schema: str) -> str:
        """The server URL with ``?schema=schema``."""
        return f"{self.server}{'&' if '?' in self.server else '?'}schema={schema}"

    def take(self) -> str:
        """Return an upgraded schema that holds no row a test wrote."""
        from mlops_nb.store._migrate import upgrade

        if self._free:
            self.reused += 1
            return self._free.pop()
        schema = f"t_{secrets.token_hex(6)}"
        upgrade(self.url(schema))
        self.created += 1
        if self._superuser:
            with self._engine.connect() as conn:
                seeds = [t for t in self._tables(conn, schema) if self._rows(conn, t)]
                self._expected[schema] = (self._catalog(conn, schema, seeds), seeds)
        return schema

    def give_back(self, schema: str) -> None:
        """Empty ``schema`` for the next test, or drop it when it was changed."""
        if schema in self._expected and self._empty(schema):
            self._free.append(schema)
            return
        self._expected.pop(schema, None)
        self.drop(schema)

    def drop(self, schema: str) -> None:
        """Drop ``schema`` (left behind if a straggling session still locks it)."""
        import sqlalchemy as sa

        self.dropped += 1
        with contextlib.suppress(sa.exc.OperationalError), self._engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def close(self) -> None:
        """Drop the free schemas and release the connection pool."""
        while self._free:
            self.drop(self._free.pop())
        self._engine.dispose()

    def _empty(self, schema: str) -> bool:
        import sqlalchemy as sa

        expected, seeds = self._expected[schema]
        try:
            with self._engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
                if self._catalog(conn, schema, seeds) != expected:
                    return False
                tables = [t for t in self._tables(conn, schema) if t not in seeds]
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        except sa.exc.DBAPIError:
            return False
        return True

    @staticmethod
    def _tables(conn: Any, schema: str) -> list[str]:
        import sqlalchemy as sa

        rows = conn.execute(
            sa.text(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = :s ORDER BY tablename"
            ),
            {"s": schema},
        )
        return [row[0] for row in rows]

    @staticmethod
    def _rows(conn: Any, table: str) -> str:
        """The rows of ``table`` as one digest ("" when it is empty)."""
        return str(
            conn.exec_driver_sql(
                f"SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
                f"FROM {table} t"
            ).scalar()
        )

    @classmethod
    def _catalog(
        cls, conn: Any, schema: str, seeds: list[str]
    ) -> list[tuple[str, ...]]:
        import sqlalchemy as sa

        rows = [
            tuple(str(v) for v in row)
            for query in _CATALOG
            for row in conn.execute(sa.text(query), {"s": schema})
        ]
        rows += [("seed", table, cls._rows(conn, table)) for table in seeds]
        return sorted(rows)
