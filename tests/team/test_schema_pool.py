"""The team fixtures' schema pool: a reused schema holds no earlier test's rows."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import mlops_nb as mnb
from _schema_pool import SchemaPool


@pytest.fixture
def pool(pg_server):
    pool = SchemaPool(pg_server)
    yield pool
    pool.close()


def _fill(pool, schema, bucket, n):
    proj = mnb.Project.open(pool.url(schema), artifacts=f"s3://{bucket}/{schema}-{n}")
    for i in range(n):
        proj.data(f"d{i}", pd.DataFrame({"a": range(i + 3)}))
    proj._store.close()


@pytest.mark.parametrize("n", [1, 3])
def test_a_reused_schema_is_empty_and_keeps_the_audit_triggers(pool, s3_bucket, n):
    first = pool.take()
    _fill(pool, first, s3_bucket, n)
    pool.give_back(first)
    again = pool.take()
    assert again == first
    assert pool.reused == 1
    proj = mnb.Project.open(pool.url(again), artifacts=f"s3://{s3_bucket}/fresh")
    assert len(proj.assets()) == 0
    assert proj.audit_log().empty
    proj.data("x", pd.DataFrame({"a": [1]}))
    assert proj.audit_log()["id"].tolist() == [1]  # identities restarted
    proj._store.close()
    engine = sa.create_engine(pool.url(again).split("?")[0])
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
        c.exec_driver_sql(f'TRUNCATE "{again}".audit_log')
    engine.dispose()


@pytest.mark.parametrize(
    "change",
    [
        'ALTER TABLE "{s}".audit_log DISABLE TRIGGER audit_log_no_delete',
        'ALTER TABLE "{s}".documents ADD COLUMN extra text',
        "UPDATE \"{s}\".mlops_nb_alembic_version SET version_num = '0002'",
        'CREATE TABLE "{s}".stray (x int)',
    ],
)
def test_a_changed_schema_is_dropped_not_reused(pool, s3_bucket, change):
    first = pool.take()
    _fill(pool, first, s3_bucket, 1)
    engine = sa.create_engine(pool.server)
    with engine.begin() as conn:
        conn.exec_driver_sql(change.format(s=first))
    pool.give_back(first)
    with engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (first,)
        ).scalar()
    engine.dispose()
    assert left == 0
    assert pool.take() != first
    assert pool.reused == 0
