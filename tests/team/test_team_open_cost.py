"""What opening a team project costs the database: one engine, initialised once, one
connection (kept for the project's first use) and one statement (the version table);
every refusal of an unusable database still comes from the full check (real
PostgreSQL). A bare ``SARegistry`` still opens without holding a connection
(``test_sa_connections``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import mlops_nb as mnb
from mlops_nb.errors import StoreError
from mlops_nb.store._migrate import head_revision
from mlops_nb.store._team import VERSION_TABLE, parse_url


class _Count:
    """SQL statements run and engines initialised (first connections), anywhere."""

    def __init__(self):
        self.statements: list[str] = []
        self.first_connects = self.connects = 0

    def __enter__(self):
        event.listen(sa.engine.Engine, "before_cursor_execute", self._statement)
        event.listen(sa.pool.Pool, "first_connect", self._first)
        event.listen(sa.pool.Pool, "connect", self._connect)
        return self

    def __exit__(self, *exc):
        event.remove(sa.engine.Engine, "before_cursor_execute", self._statement)
        event.remove(sa.pool.Pool, "first_connect", self._first)
        event.remove(sa.pool.Pool, "connect", self._connect)

    def _connect(self, *_args):
        self.connects += 1

    def _statement(self, _conn, _cursor, statement, *_args):
        self.statements.append(" ".join(statement.split()))

    def _first(self, *_args):
        self.first_connects += 1


def test_open_is_one_statement_and_one_engine(team_url):
    url, artifacts = team_url
    with _Count() as opening:
        proj = mnb.Project.open(url, artifacts=artifacts)
    try:
        assert len(opening.statements) == 1, opening.statements
        assert VERSION_TABLE in opening.statements[0]
        assert proj._store.db.revision == head_revision()
        with _Count() as using:
            assert proj.audit_log().empty
        assert using.first_connects == 0  # the engine was initialised by open
        assert using.connects == 0  # ... and its connection kept for this use
    finally:
        proj._store.close()
    assert opening.first_connects == 1
    assert opening.connects == 1


@pytest.mark.parametrize("state", ["empty", "older", "newer"])
def test_open_still_refuses_a_database_it_cannot_use(pg_url, s3_bucket, state):
    from mlops_nb.store._migrate import upgrade

    schema = parse_url(pg_url).schema
    engine = sa.create_engine(pg_url.split("?")[0], poolclass=sa.pool.NullPool)
    try:
        if state != "empty":
            upgrade(pg_url)
            with engine.begin() as conn:
                table = f'"{schema}".{VERSION_TABLE}'
                rev = "0001" if state == "older" else "9999"
                conn.exec_driver_sql(f"UPDATE {table} SET version_num = '{rev}'")
        with pytest.raises(StoreError) as refused:
            mnb.Project.open(pg_url, artifacts=f"s3://{s3_bucket}/p")
        message = str(refused.value)
        if state == "newer":
            assert "upgraded by a newer mlops_nb (revision 9999)" in message
        else:
            assert "mlops-nb db upgrade" in message
    finally:
        engine.dispose()
