"""Alembic upgrades on a real PostgreSQL: schema per project, append-only audit log,
an advisory lock against concurrent upgrades, refusal of a newer schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sqlalchemy as sa
from _schema import describe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.errors import StoreError
from mlops_nb.store._db import SCHEMA_VERSION
from mlops_nb.store._migrate import current, upgrade
from mlops_nb.store._tables import AUDIT_TRIGGERS, metadata
from mlops_nb.store._team import VERSION_TABLE, check_schema, make_engine, parse_url

HEAD = f"{SCHEMA_VERSION:04d}"
_FEW = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _engine(url):
    return make_engine(parse_url(url), pooled=False)


def _audit_row(conn, n=0):
    conn.execute(
        sa.text(
            'INSERT INTO audit_log(at, "user", action, object, detail, prev_hash, hash)'
            " VALUES ('t', 'u', 'a', 'o', '{}', :p, :h)"
        ),
        {"p": f"p{n}", "h": f"h{n}"},
    )


def test_upgrade_creates_every_table_in_the_requested_schema(pg_url, pg_server):
    team = parse_url(pg_url)
    assert current(pg_url)["state"] == "empty"
    result = upgrade(pg_url)
    assert (result["before"], result["after"]) == (None, HEAD)
    assert current(pg_url)["state"] == "current"
    assert check_schema(team) == HEAD

    engine = _engine(pg_server)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            tables = set(insp.get_table_names(schema=team.schema))
            assert tables == {*metadata.tables, VERSION_TABLE}
            assert not set(metadata.tables) & set(insp.get_table_names("public"))
            ours = describe(conn, team.schema)
            # the Core tables, made in another schema, describe the same schema
            conn.exec_driver_sql('CREATE SCHEMA "core_ref"')
            metadata.create_all(conn.execution_options(
                schema_translate_map={None: "core_ref"}
            ))  # fmt: skip
            reference = describe(conn, "core_ref")
            conn.exec_driver_sql('DROP SCHEMA "core_ref" CASCADE')
            conn.commit()
    finally:
        engine.dispose()
    assert ours == reference
    threshold = {c[0]: c[1] for c in ours["model_thresholds"]["columns"]}
    assert threshold["threshold"] == "DOUBLE PRECISION"
    assert ("id", "BIGINT", False) in ours["audit_log"]["columns"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "UPDATE audit_log SET hash = 'x' WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 2",
        "TRUNCATE audit_log",
    ],
)
def test_the_audit_log_refuses_update_delete_and_truncate(pg_url, statement):
    upgrade(pg_url)
    engine = _engine(pg_url)
    try:
        with engine.begin() as conn:
            for n in range(3):
                _audit_row(conn, n)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
            c.exec_driver_sql(statement)
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT action, hash FROM audit_log").all()
        assert rows == [("a", "h0"), ("a", "h1"), ("a", "h2")]
        with engine.begin() as conn:  # appending still works
            _audit_row(conn, 3)
        with engine.connect() as conn:
            triggers = conn.exec_driver_sql(
                "SELECT DISTINCT trigger_name FROM information_schema.triggers "
                "WHERE event_object_table = 'audit_log' AND trigger_schema = "
                "current_schema()"
            ).scalars()
            assert set(AUDIT_TRIGGERS) <= set(triggers)
    finally:
        engine.dispose()


_CHILD = """
import json, sys
from mlops_nb.store._migrate import upgrade
print(json.dumps(upgrade(sys.argv[1])))
"""


def test_two_concurrent_upgrades_both_succeed_and_migrate_once(pg_url):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, pg_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    results = [json.loads(out) for out, _ in outs]
    assert sorted(r["before"] or "" for r in results) == ["", HEAD]  # one migrated
    assert {r["after"] for r in results} == {HEAD}
    engine = _engine(pg_url)
    try:
        with engine.connect() as conn:
            versions = conn.exec_driver_sql(
                "SELECT version FROM schema_migrations ORDER BY version"
            ).scalars()
            assert list(versions) == list(range(1, SCHEMA_VERSION + 1))
            heads = conn.exec_driver_sql(f"SELECT * FROM {VERSION_TABLE}").scalars()
            assert list(heads) == [HEAD]
    finally:
        engine.dispose()


@_FEW
@given(revision=st.from_regex(r"\A[0-9a-f_]{4,16}\Z").filter(lambda r: r > HEAD))
def test_a_database_stamped_by_a_newer_mlops_nb_is_refused(pg_url, revision):
    upgrade(pg_url)
    engine = _engine(pg_url)
    stamp = sa.text(f"UPDATE {VERSION_TABLE} SET version_num = :r")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 1")
            conn.execute(stamp, {"r": revision})
        message = (
            f"upgraded by a newer mlops_nb (revision {revision}); upgrade mlops_nb"
        )
        with pytest.raises(StoreError) as refused:
            upgrade(pg_url)
        assert message in str(refused.value)
        with pytest.raises(StoreError) as refused_open:
            check_schema(parse_url(pg_url))
        assert message in str(refused_open.value)
        assert current(pg_url)["state"] == "ahead"
        with engine.connect() as conn:  # nothing was changed
            assert (
                conn.exec_driver_sql("SELECT count(*) FROM schema_migrations").scalar()
                == SCHEMA_VERSION - 1
            )
            stamped = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")
            assert stamped.scalar() == revision
    finally:
        with engine.begin() as conn:  # back to a known state for the next example
            conn.execute(stamp, {"r": HEAD})
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations VALUES (1, 't') ON CONFLICT DO NOTHING"
            )
        engine.dispose()


def test_a_kernel_refuses_an_empty_or_older_database_instead_of_migrating(pg_url):
    team = parse_url(pg_url)
    with pytest.raises(
        StoreError, match=r"has no mlops_nb tables.*mlops-nb db upgrade"
    ):
        check_schema(team)
    upgrade(pg_url)
    engine = _engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '0001'")
        with pytest.raises(StoreError, match="at revision 0001, this mlops_nb needs"):
            check_schema(team, engine)
        with engine.connect() as conn:  # the check changed nothing
            assert (
                conn.exec_driver_sql(
                    f"SELECT version_num FROM {VERSION_TABLE}"
                ).scalar()
                == "0001"
            )
    finally:
        engine.dispose()


def test_a_schema_holding_other_tables_is_left_alone(pg_url):
    team = parse_url(pg_url)
    engine = _engine(pg_url.split("?")[0])
    try:
        with engine.begin() as conn:  # e.g. MLflow's tables in the same schema
            conn.exec_driver_sql(f'CREATE SCHEMA "{team.schema}"')
            conn.exec_driver_sql(f'CREATE TABLE "{team.schema}".model_versions (x int)')
        with pytest.raises(StoreError, match="did not make \\(model_versions\\)"):
            upgrade(pg_url)
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names(schema=team.schema)
            assert names == ["model_versions"]
    finally:
        engine.dispose()
