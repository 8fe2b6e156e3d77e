"""The append-only app role on a real PostgreSQL: its privileges refuse UPDATE, DELETE
and TRUNCATE of the audit log even after the owner disabled the log's triggers."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.errors import StoreError
from mlops_nb.store._migrate import upgrade
from mlops_nb.store._pg_audit import app_role_sql, grant_app_role
from mlops_nb.store._sa_registry import SARegistry, set_stage
from mlops_nb.store._team import VERSION_TABLE, parse_url

_FEW = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def role_url(pg_url: str, role: str, password: str) -> str:
    """``pg_url`` with the role as its user (the schema kept)."""
    base, _, query = pg_url.partition("?")
    url = sa.make_url(base).set(username=role, password=password)
    return f"{url.render_as_string(hide_password=False)}?{query}"


@pytest.fixture
def app_role(pg_url, pg_server):
    """An upgraded schema and a fresh app role; yields (role, its URL, password)."""
    upgrade(pg_url)
    role, password = f"app_{secrets.token_hex(4)}", f"pw-{secrets.token_hex(6)}"
    shown = grant_app_role(pg_url, role, password=password, connection_limit=20)
    assert password not in " ".join(shown)
    yield role, role_url(pg_url, role, password), password
    engine = sa.create_engine(pg_server, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
    finally:
        engine.dispose()


def _owner(url):
    """A plain engine on ``url`` as its user, in its schema (no mlops_nb code)."""
    team = parse_url(url)
    return sa.create_engine(
        team.url,
        poolclass=sa.pool.NullPool,
        connect_args={"options": f"-c search_path={team.schema}"},
    )


def _entries(url):
    reg = SARegistry(url)
    try:
        return [
            tuple(r) for r in reg.query("SELECT id, hash FROM audit_log ORDER BY id")
        ]
    finally:
        reg.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "UPDATE audit_log SET detail = '{}' WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 2",
        "TRUNCATE audit_log",
        "TRUNCATE audit_log RESTART IDENTITY CASCADE",
    ],
)
def test_the_app_role_cannot_change_the_audit_log_even_with_triggers_disabled(
    pg_url, app_role, statement
):
    _role, url, password = app_role
    reg = SARegistry(url)  # the role writes through the registry as kernels do
    try:
        for n in range(3):
            with reg.write() as conn:
                reg.audit(conn, "register", f"asset:a@{n + 1}", n=n)
    finally:
        reg.close()
    before = _entries(url)
    owner = _owner(pg_url)
    try:
        with owner.begin() as conn:  # the owner disables the append-only triggers
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        with owner.connect() as conn:  # ... which really lets the owner change it
            conn.exec_driver_sql("UPDATE audit_log SET action = 'x'")
            conn.rollback()
        app = _owner(url)  # the role, connected outside mlops_nb
        try:
            with app.connect() as conn:
                with pytest.raises(sa.exc.ProgrammingError) as refused:
                    conn.exec_driver_sql(statement)
                assert "permission denied for table audit_log" in str(refused.value)
                conn.rollback()
                for forbidden in (
                    "ALTER TABLE audit_log DISABLE TRIGGER USER",
                    "DROP TABLE audit_log",
                    f"UPDATE {VERSION_TABLE} SET version_num = '9999'",
                ):
                    with pytest.raises(sa.exc.ProgrammingError):
                        conn.exec_driver_sql(forbidden)
                    conn.rollback()
        finally:
            app.dispose()
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")
        owner.dispose()
    assert _entries(url) == before
    assert password not in str(refused.value)


def test_the_app_role_does_everything_a_kernel_does(pg_url, app_role):
    _role, url, _ = app_role
    reg = SARegistry(url)
    try:
        with reg.write() as conn:
            conn.execute(
                "INSERT INTO model_versions(name, version, stage, flavor, artifacts, "
                "recipe, metrics, lineage, environment, created_at, created_by) VALUES "
                "('m', 1, 'candidate', 'f', '{}', '{\"estimator\": \"e\", \"task\": "
                "\"t\"}', '{}', '{\"data\": []}', '{}', 't', 'u')"
            )
            model_id = conn.execute("SELECT id FROM model_versions").scalar()
            set_stage(conn, model_id, "production", "ok", "u")
            conn.execute(
                "INSERT INTO reports(owner_kind, owner_id, kind, payload, created_at) "
                "VALUES ('model', ?, 'card', '{}', 't')",
                (model_id,),
            )
            reg.audit(conn, "promote", "model:m@1")
        assert reg.query("SELECT stage FROM model_versions")[0]["stage"] == "production"
        assert reg.schema_version() == 3
        assert reg.audit_chain_problems() == []
    finally:
        reg.close()


def test_grant_is_idempotent_and_refuses_a_database_that_was_never_upgraded(
    pg_url, app_role
):
    role, url, _ = app_role
    again = grant_app_role(pg_url, role)  # after an upgrade: same role, new grants
    assert again[0].startswith(f'ALTER ROLE "{role}" LOGIN')
    assert _entries(url) == []
    other = pg_url.rsplit("schema=", 1)[0] + "schema=never_upgraded"
    with pytest.raises(StoreError, match="has no mlops_nb tables yet: run mlops-nb"):
        grant_app_role(other, role)
    with pytest.raises(StoreError, match="roles exist only on PostgreSQL"):
        grant_app_role("sqlite:////tmp/x/registry.sqlite", role)


@_FEW
@given(
    name=st.text(min_size=1, max_size=70).filter(
        lambda s: not (s[0] in "abcdefghijklmnopqrstuvwxyz_" and len(s) < 64
                       and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in s))
    )
)  # fmt: skip
def test_role_and_schema_names_that_could_inject_sql_are_refused(name):
    with pytest.raises(StoreError, match="not a plain lower-case name"):
        app_role_sql("credit", name)
    with pytest.raises(StoreError, match="not a plain lower-case name"):
        app_role_sql(name, "app")
    assert all('"credit"' in s for s in app_role_sql("credit", "app"))
