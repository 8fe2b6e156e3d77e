"""Connection exhaustion: twenty registries in one kernel (as twenty notebook objects)
stay within a connection limit the server enforces, and close() gives every
connection back."""

from __future__ import annotations

import time

import sqlalchemy as sa
from test_pg_app_role import app_role

from mlops_nb.store._sa_registry import SARegistry

__all__ = ["app_role"]
LIMIT = 20  # the app role's CONNECTION LIMIT (see the app_role fixture)


def _backends(engine, role):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        ).scalar()


def _settled(engine, role, expected):
    """The backend count once exiting backends have left (a closed socket ends
    its backend a moment later)."""
    deadline = time.monotonic() + 30
    while (n := _backends(engine, role)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


def test_twenty_registries_open_lazily_and_close_within_the_connection_limit(
    pg_server, app_role
):
    role, url, _ = app_role
    watcher = sa.create_engine(pg_server, poolclass=sa.pool.NullPool)  # a superuser
    try:
        for cycle in range(3):  # 60 registries in all: a leak would pass the limit
            registries = [SARegistry(url) for _ in range(LIMIT)]
            # opening checked the schema on a connection it closed at once
            assert _settled(watcher, role, 0) == 0
            for i, reg in enumerate(registries):
                with reg.write() as conn:
                    reg.audit(conn, "open", f"notebook:{cycle}-{i}")
                assert reg.query("SELECT count(*) FROM audit_log")[0][0] >= i + 1
            held = _backends(watcher, role)
            assert 0 < held <= LIMIT  # one idle pooled connection each, at most
            for reg in registries:
                reg.close()
            assert _settled(watcher, role, 0) == 0
        check = SARegistry(url)
        try:
            assert check.query("SELECT count(*) FROM audit_log")[0][0] == 3 * LIMIT
            assert check.audit_chain_problems() == []
        finally:
            check.close()
    finally:
        watcher.dispose()


def test_a_closed_registry_reconnects_when_used_again(pg_server, app_role):
    role, url, _ = app_role
    watcher = sa.create_engine(pg_server, poolclass=sa.pool.NullPool)
    reg = SARegistry(url)
    try:
        assert reg.query("SELECT 1")[0][0] == 1
        reg.close()
        assert _settled(watcher, role, 0) == 0
        assert reg.query("SELECT 2")[0][0] == 2  # a new pool, connected on demand
        assert _settled(watcher, role, 1) == 1
    finally:
        reg.close()
        watcher.dispose()
