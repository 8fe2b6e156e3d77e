"""On SQLite, Alembic's revisions build exactly the schema of the hand migrations.

Three descriptions must agree (via ``sqlalchemy.inspect``): the hand-written
``_MIGRATIONS`` of ``mlops_nb/store/_db.py`` (what every embedded project has), the
Alembic upgrade (``mlops-nb db upgrade``) and ``_tables.metadata`` (what queries will be
written against). Existing embedded registries are adopted in place with their data.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from _schema import describe, sqlite_extras
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.errors import StoreError
from mlops_nb.store._db import _MIGRATIONS, SCHEMA_VERSION, Registry, _split_sql
from mlops_nb.store._migrate import current, upgrade
from mlops_nb.store._tables import AUDIT_TRIGGERS, metadata


def _hand(path, upto=SCHEMA_VERSION):
    """A registry made by the hand migrations 1..upto (what older mlops_nb made)."""
    if upto == SCHEMA_VERSION:
        Registry(path).close()
        return
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(1, upto + 1):
        for statement in _split_sql(_MIGRATIONS[version - 1]):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, '2026-01-01T00:00:00+00:00')",
            (version,),
        )
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def _describe(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return describe(conn), sqlite_extras(conn)
    finally:
        engine.dispose()


def test_alembic_schema_equals_the_hand_migrations_and_the_tables(tmp_path):
    _hand(tmp_path / "hand.sqlite")
    result = upgrade(f"sqlite:///{tmp_path / 'alembic.sqlite'}")
    assert result["before"] is None
    assert result["after"] == f"{SCHEMA_VERSION:04d}"
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'core.sqlite'}")
    metadata.create_all(engine)
    engine.dispose()

    hand, hand_extras = _describe(tmp_path / "hand.sqlite")
    alembic, alembic_extras = _describe(tmp_path / "alembic.sqlite")
    core, core_extras = _describe(tmp_path / "core.sqlite")
    assert set(hand) == set(alembic) == set(core)
    for table in hand:
        assert alembic[table] == hand[table], table
        assert core[table] == hand[table], table
    assert alembic_extras == hand_extras
    assert set(hand_extras["triggers"]) == set(AUDIT_TRIGGERS)
    assert core_extras["autoincrement"] == hand_extras["autoincrement"]


def test_a_registry_made_by_alembic_opens_in_the_embedded_store(tmp_path):
    path = tmp_path / "registry.sqlite"
    upgrade(f"sqlite:///{path}")
    registry = Registry(path)
    assert registry.schema_version() == SCHEMA_VERSION
    with registry.write() as conn:
        Registry.audit(conn, "test", "thing:x", n=1)
    assert registry.audit_chain_problems() == []
    with pytest.raises(StoreError, match="append-only"), registry.write() as conn:
        conn.execute("UPDATE audit_log SET user = 'mallory'")
    registry.close()


@pytest.mark.parametrize("upto", range(1, SCHEMA_VERSION + 1))
def test_an_embedded_registry_is_adopted_in_place_with_its_data(tmp_path, upto):
    path = tmp_path / "registry.sqlite"
    _hand(path, upto)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO artifacts VALUES ('ab' || hex(randomblob(31)), 3, 'x', 'now')"
    )
    before = conn.execute("SELECT * FROM artifacts").fetchall()
    conn.close()
    assert current(f"sqlite:///{path}")["state"] == (
        "current" if upto == SCHEMA_VERSION else "behind"
    )

    result = upgrade(f"sqlite:///{path}")

    assert result["before"] == f"{upto:04d}"
    assert result["after"] == f"{SCHEMA_VERSION:04d}"
    reference = tmp_path / "reference.sqlite"
    _hand(reference)
    assert _describe(path) == _describe(reference)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM artifacts").fetchall() == before
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    conn.close()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(newer=st.integers(SCHEMA_VERSION + 1, 10_000))
def test_an_embedded_registry_from_a_newer_mlops_nb_is_refused(tmp_path, newer):
    path = tmp_path / f"newer{newer}.sqlite"
    _hand(path)
    sqlite3.connect(path, isolation_level=None).execute(
        f"PRAGMA user_version = {newer}"
    ).connection.close()
    assert current(f"sqlite:///{path}")["state"] == "ahead"
    with pytest.raises(StoreError, match=f"newer mlops_nb \\(revision {newer:04d}\\)"):
        upgrade(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == newer
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "mlops_nb_alembic_version" not in tables  # nothing was changed
    conn.close()


def test_an_sqlite_file_with_other_tables_is_left_alone(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE mine (x INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match="did not make \\(mine\\)"):
        upgrade(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["mine"]
    conn.close()
